// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rules: read from xl_rules in one walk, checked, formatted; written, with
 * what the datapath reads of them; their stats slots and ceilings; the
 * state of a rule's clients cleared.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xlimit_lib.h"
#include "limit_parse.h"

static int by_row_port(const void *a, const void *b)
{
	return ((const struct xl_rule_row *)a)->port -
	       ((const struct xl_rule_row *)b)->port;
}

int xl_rules_read(int rules_fd, int total_fd, struct xl_rule_row *rows, int max)
{
	__u16 port, *prev = NULL;
	char why[96];
	int n = 0;

	while (n < max && !bpf_map_get_next_key(rules_fd, prev, &port)) {
		struct xl_rule_row *r = &rows[n];
		struct xl_total t;

		/* rows[n] is the walk's cursor until it is kept */
		prev = &r->port;
		r->port = port;
		if (bpf_map_lookup_elem(rules_fd, &port, &r->rule))
			continue;
		r->invalid = xl_rule_check(&r->rule, why, sizeof(why)) != 0;
		memset(&r->total, 0, sizeof(r->total));
		if (total_fd >= 0 && (r->rule.flags & XL_RULE_TOTAL) &&
		    r->rule.slot < XL_MAX_RULES &&
		    !bpf_map_lookup_elem(total_fd, &r->rule.slot, &t))
			r->total = t.rule;
		n++;
	}
	qsort(rows, n, sizeof(*rows), by_row_port);
	return n;
}

/* Waits until every XDP, tc and sockops run that began before the call
 * has ended (an RCU grace period: they run in RCU read-side sections). */
static int xl_grace_period(void)
{
	return syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) ? -errno :
								       0;
}

/* Points `port` at `v` (xl_port.rslot), and when it is port 0, every
 * port without a rule of its own at v as the default. Each port's entry
 * changes with one store. */
static void xl_ports_point(struct xl_port *ports, __u16 port, __u32 v)
{
	__u32 dflt = v ? v | XL_PORT_DEFAULT : 0, p, cur;

	__atomic_store_n(&ports[port].rslot, v, __ATOMIC_RELEASE);
	for (p = 1; !port && p < XL_PORTS; p++) {
		cur = __atomic_load_n(&ports[p].rslot, __ATOMIC_RELAXED);
		if (!cur || (cur & XL_PORT_DEFAULT))
			__atomic_store_n(&ports[p].rslot, dflt,
					 __ATOMIC_RELEASE);
	}
}

int xl_rule_write(const struct xl_maps *m, __u16 port,
		  const struct xl_rule *rule)
{
	size_t len = XL_PORTS * sizeof(struct xl_port);
	struct xl_port *ports;
	__u32 cur, idx, dflt;
	int err = 0;

	if (rule && rule->slot >= XL_MAX_RULES)
		return -ERANGE;
	ports = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     m->fd[XL_M_PORTS], 0);
	if (ports == MAP_FAILED)
		return -errno;
	cur = __atomic_load_n(&ports[port].rslot, __ATOMIC_RELAXED);
	if (!rule) {
		/* Pointed away first (at port 0's rule, if there is one):
		 * the record may only say less than the datapath sees. */
		dflt = port ? __atomic_load_n(&ports[0].rslot,
					      __ATOMIC_RELAXED) :
			      0;
		xl_ports_point(ports, port, dflt ? dflt | XL_PORT_DEFAULT : 0);
		if (bpf_map_delete_elem(m->fd[XL_M_RULES], &port) &&
		    errno != ENOENT)
			err = -errno;
		goto out;
	}
	/* Of the slot's two entries, the one the port does not point to;
	 * a port that gets its slot anew takes either: no port points to
	 * a free slot's entries. */
	idx = 2 * rule->slot + (cur == 2 * rule->slot + 1);
	/* Programs that read that entry before it was left (by this port's
	 * last change, or by the port that held the slot before) are done
	 * once a grace period has passed. The lock orders writers, so
	 * leaving it came before this call. */
	err = xl_grace_period();
	if (!err && bpf_map_update_elem(m->fd[XL_M_RSLOTS], &idx, rule, 0))
		err = -errno;
	if (!err && bpf_map_update_elem(m->fd[XL_M_RULES], &port, rule, 0))
		err = -errno;
	if (!err) /* the switch, after the entry is whole */
		xl_ports_point(ports, port, idx + 1);
out:
	munmap(ports, len);
	return err;
}

int xl_free_slot(const struct xl_maps *m, __u32 *slot)
{
	static struct xl_rule_row rows[XL_MAX_RULES];
	static unsigned char used[XL_MAX_RULES];
	int n, i;

	memset(used, 0, sizeof(used));
	n = xl_rules_read(m->fd[XL_M_RULES], -1, rows, XL_MAX_RULES);
	for (i = 0; i < n; i++)
		if (rows[i].rule.slot < XL_MAX_RULES)
			used[rows[i].rule.slot] = 1;
	for (i = 0; i < XL_MAX_RULES; i++) {
		if (!used[i]) {
			*slot = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Limits that count alike: a change of amount, period, strategy (whose
 * state words mean something else) or burst starts from a clean count. */
bool xl_same_limits(const struct xl_rule *a, const struct xl_rule *b)
{
	__u32 i;

	if (a->nlimits != b->nlimits)
		return false;
	for (i = 0; i < a->nlimits && i < XL_MAX_LIMITS; i++)
		if (a->limits[i].amount != b->limits[i].amount ||
		    a->limits[i].period_ns != b->limits[i].period_ns ||
		    a->limits[i].strategy != b->limits[i].strategy ||
		    a->limits[i].burst != b->limits[i].burst)
			return false;
	return true;
}

/* A key of `port`'s rule: its own port, or for port 0 a port without a
 * rule of its own. */
static bool xl_key_of_rule(const struct xl_maps *m, const struct xl_key *k,
			   uint16_t port)
{
	struct xl_rule rule;

	if (port)
		return k->port == port;
	return k->port == 0 ||
	       bpf_map_lookup_elem(m->fd[XL_M_RULES], &k->port, &rule);
}

/* Forgets, in xl_over, the clients of `port`'s rule (as
 * xl_state_clear_port() does in xl_state), so that they do not come back
 * over a limit that was changed or removed. */
static int xl_over_clear_port(const struct xl_maps *m, uint16_t port)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	static const struct xl_over empty;
	struct xl_over *v = calloc(XL_OVER_SLOTS, sizeof(*v));
	__u32 *keys = calloc(XL_OVER_SLOTS, sizeof(*keys));
	__u32 count = XL_OVER_SLOTS, next, i;
	struct xl_key k = {};
	int err = 0;

	if (!v || !keys) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_batch(m->fd[XL_M_OVER], NULL, &next, keys, v, &count,
				 &bo) &&
	    errno != ENOENT) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < count; i++) {
		k.port = v[i].port;
		if (!v[i].tag || !xl_key_of_rule(m, &k, port))
			continue;
		if (bpf_map_update_elem(m->fd[XL_M_OVER], &keys[i], &empty,
					BPF_ANY))
			err = -errno;
	}
out:
	free(v);
	free(keys);
	return err;
}

int xl_total_write(const struct xl_maps *m, __u32 slot,
		   const struct xl_rule *ceiling)
{
	struct xl_total t = {};

	if (ceiling)
		t.rule = *ceiling;
	return bpf_map_update_elem(m->fd[XL_M_TOTAL], &slot, &t, BPF_ANY) ?
		       -errno :
		       0;
}

int xl_state_clear_port(const struct xl_maps *m, uint16_t port)
{
	struct xl_key *del = NULL, *prev = NULL, next;
	size_t n = 0, cap = 0, i;
	int err = xl_over_clear_port(m, port);

	/* Walk first, delete after: deleting under the walk restarts it. */
	while (bpf_map_get_next_key(m->fd[XL_M_STATE], prev, &next) == 0) {
		if (n == cap) {
			struct xl_key *d;

			cap = cap ? 2 * cap : 1024;
			d = realloc(del, cap * sizeof(*del));
			if (!d) {
				free(del);
				return -ENOMEM;
			}
			del = d;
		}
		/* A key we keep stays in del[n] only as the walk's cursor,
		 * until the next key overwrites it. */
		del[n] = next;
		prev = &del[n];
		if (xl_key_of_rule(m, &next, port))
			n++;
	}
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(m->fd[XL_M_STATE], &del[i]) &&
		    errno != ENOENT)
			err = -errno;
	free(del);
	return err;
}

void xl_format_rule_limit(const struct xl_limit *l, char *buf, size_t len)
{
	struct xl_parsed_limit p =
		xl_limit_of(l->amount, l->period_ns / XL_NSEC_PER_SEC);

	/* the parser's units; "per 0 second" for a period under 1 s, which
	 * only a rule written by hand has */
	snprintf(buf, len, "%llu per %llu %s", (unsigned long long)p.amount,
		 (unsigned long long)p.multiples, xl_unit_name(p.unit));
}

int xl_rule_check(const struct xl_rule *r, char *why, size_t len)
{
	__u32 i;

	if (r->nlimits < 1 || r->nlimits > XL_MAX_LIMITS) {
		snprintf(why, len, "nlimits %u is not 1..%d", r->nlimits,
			 XL_MAX_LIMITS);
		return -EINVAL;
	}
	if (r->slot >= XL_MAX_RULES) {
		snprintf(why, len, "slot %u is not 0..%d", r->slot,
			 XL_MAX_RULES - 1);
		return -EINVAL;
	}
	if (r->flags & ~XL_RULE_FLAGS) {
		snprintf(why, len, "unknown flags 0x%x", r->flags);
		return -EINVAL;
	}
	for (i = 0; i < r->nlimits; i++) {
		const struct xl_limit *l = &r->limits[i];

		if (l->amount > XL_AMOUNT_MAX)
			snprintf(why, len, "limit %u: amount %llu is over %llu",
				 i, (unsigned long long)l->amount,
				 XL_AMOUNT_MAX);
		else if (l->period_ns < XL_NSEC_PER_SEC ||
			 l->period_ns > XL_PERIOD_MAX_S * XL_NSEC_PER_SEC)
			snprintf(why, len,
				 "limit %u: period %llu ns is not 1 to %llu s",
				 i, (unsigned long long)l->period_ns,
				 XL_PERIOD_MAX_S);
		else if (l->action != XL_ACT_DROP && l->action != XL_ACT_PASS &&
			 l->action != XL_ACT_REJECT)
			snprintf(why, len, "limit %u: unknown action %u", i,
				 l->action);
		else if (l->strategy != r->limits[0].strategy)
			snprintf(why, len,
				 "limit %u: strategy %u differs from limit 0's",
				 i, l->strategy);
		else if (xl_strategy_check(l, why, len))
			snprintf(why + strlen(why), len - strlen(why),
				 " (limit %u)", i);
		else
			continue;
		return -EINVAL;
	}
	return 0;
}

int xl_strategy_check(const struct xl_limit *l, char *why, size_t len)
{
	__u64 tau_max = XL_PERIOD_MAX_S * XL_NSEC_PER_SEC;

	switch (l->strategy) {
	case XL_STRAT_FIXED:
	case XL_STRAT_SLIDING:
		if (l->burst) {
			snprintf(why, len,
				 "a burst applies to token-bucket only, not %s",
				 xl_strategy_name(l->strategy));
			return -EINVAL;
		}
		if (l->strategy == XL_STRAT_SLIDING &&
		    l->amount > XL_SLIDING_AMOUNT_MAX) {
			snprintf(
				why, len,
				"amount %llu is over %llu, the most a sliding-window limit counts",
				(unsigned long long)l->amount,
				XL_SLIDING_AMOUNT_MAX);
			return -EINVAL;
		}
		return 0;
	case XL_STRAT_TOKEN:
		/* tau = burst * T must stay a period xlimit can hold. */
		if (l->amount &&
		    l->burst > tau_max / (l->period_ns / l->amount)) {
			snprintf(
				why, len,
				"burst %u of %llu per %llu s spans more than %llu s",
				l->burst, (unsigned long long)l->amount,
				(unsigned long long)(l->period_ns /
						     XL_NSEC_PER_SEC),
				XL_PERIOD_MAX_S);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(why, len, "unknown strategy %u", l->strategy);
	return -EINVAL;
}

static const char *const strategy_names[] = {
	[XL_STRAT_FIXED] = "fixed-window",
	[XL_STRAT_SLIDING] = "sliding-window",
	[XL_STRAT_TOKEN] = "token-bucket",
};

const char *xl_strategy_name(uint32_t strategy)
{
	if (strategy < sizeof(strategy_names) / sizeof(strategy_names[0]))
		return strategy_names[strategy];
	return "unknown";
}

int xl_strategy_parse(const char *s, uint32_t *strategy)
{
	uint32_t i;

	for (i = 0; i < sizeof(strategy_names) / sizeof(strategy_names[0]);
	     i++) {
		if (!strcmp(s, strategy_names[i])) {
			*strategy = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *xl_action_name(uint32_t action)
{
	if (action == XL_ACT_PASS)
		return "pass";
	return action == XL_ACT_REJECT ? "reject" : "drop";
}
