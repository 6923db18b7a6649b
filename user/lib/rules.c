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

/* What rule_switch() changed, for rule_unswitch(). */
struct rule_undo {
	__u32 rslot; /* the port's xl_ports entry before */
	bool had; /* whether xl_rules had a record of the port ... */
	struct xl_rule record; /* ... and which */
	int idx; /* the xl_rslots entry written, -1: none */
	struct xl_rule entry; /* what it held before */
};

/* xl_rule_write(), with what it changed in u. */
static int rule_switch(const struct xl_maps *m, __u16 port,
		       const struct xl_rule *rule, struct rule_undo *u)
{
	size_t len = XL_PORTS * sizeof(struct xl_port);
	struct xl_port *ports;
	__u32 cur, dflt;
	int err = 0, idx;

	u->idx = -1;
	if (rule && rule->slot >= XL_MAX_RULES)
		return -ERANGE;
	ports = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     m->fd[XL_M_PORTS], 0);
	if (ports == MAP_FAILED)
		return -errno;
	cur = __atomic_load_n(&ports[port].rslot, __ATOMIC_RELAXED);
	u->rslot = cur;
	u->had = !bpf_map_lookup_elem(m->fd[XL_M_RULES], &port, &u->record);
	if (!rule) {
		/* Pointed away first (at port 0's rule, if there is one):
		 * the record may only say less than the datapath sees. */
		dflt = port ? __atomic_load_n(&ports[0].rslot,
					      __ATOMIC_RELAXED) :
			      0;
		xl_ports_point(ports, port, dflt ? dflt | XL_PORT_DEFAULT : 0);
		if (bpf_map_delete_elem(m->fd[XL_M_RULES], &port) &&
		    errno != ENOENT) {
			err = -errno;
			xl_ports_point(ports, port, cur);
		}
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
	if (!err && bpf_map_lookup_elem(m->fd[XL_M_RSLOTS], &idx, &u->entry))
		err = -errno;
	if (!err && bpf_map_update_elem(m->fd[XL_M_RSLOTS], &idx, rule, 0))
		err = -errno;
	if (!err && bpf_map_update_elem(m->fd[XL_M_RULES], &port, rule, 0)) {
		err = -errno;
		/* no port points to it: back at once */
		bpf_map_update_elem(m->fd[XL_M_RSLOTS], &idx, &u->entry, 0);
	}
	if (!err) { /* the switch, after the entry is whole */
		u->idx = idx;
		xl_ports_point(ports, port, idx + 1);
	}
out:
	munmap(ports, len);
	return err;
}

/* Takes back what rule_switch() did: the port points where it did, its
 * record is what it was, and, once no program reads it any more, the
 * entry written holds what it held. Returns 0 or -errno. */
static int rule_unswitch(const struct xl_maps *m, __u16 port,
			 const struct rule_undo *u)
{
	size_t len = XL_PORTS * sizeof(struct xl_port);
	struct xl_port *ports;
	int err = 0;

	ports = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     m->fd[XL_M_PORTS], 0);
	if (ports == MAP_FAILED)
		return -errno;
	xl_ports_point(ports, port, u->rslot);
	munmap(ports, len);
	if (u->had ? bpf_map_update_elem(m->fd[XL_M_RULES], &port, &u->record,
					 0) :
		     bpf_map_delete_elem(m->fd[XL_M_RULES], &port) &&
			     errno != ENOENT)
		err = -errno;
	if (u->idx >= 0 && !err)
		err = xl_grace_period();
	if (u->idx >= 0 && !err &&
	    bpf_map_update_elem(m->fd[XL_M_RSLOTS], &u->idx, &u->entry, 0))
		err = -errno;
	return err;
}

int xl_rule_write(const struct xl_maps *m, __u16 port,
		  const struct xl_rule *rule)
{
	struct rule_undo u;

	return rule_switch(m, port, rule, &u);
}

/* Marks in used[XL_MAX_RULES] the stats slots of the rules. */
static void slots_used(const struct xl_maps *m, unsigned char *used)
{
	static struct xl_rule_row rows[XL_MAX_RULES];
	int n, i;

	memset(used, 0, XL_MAX_RULES);
	n = xl_rules_read(m->fd[XL_M_RULES], -1, rows, XL_MAX_RULES);
	for (i = 0; i < n; i++)
		if (rows[i].rule.slot < XL_MAX_RULES)
			used[rows[i].rule.slot] = 1;
}

int xl_free_slot(const struct xl_maps *m, __u32 *slot)
{
	static unsigned char used[XL_MAX_RULES];
	int i;

	slots_used(m, used);
	for (i = 0; i < XL_MAX_RULES; i++) {
		if (!used[i]) {
			*slot = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Every CPU's value of one slot of a per-CPU array, into *buf (malloc'd,
 * for the caller to write back and free; NULL on failure). */
static int percpu_save(int fd, __u32 slot, size_t size, void **buf)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu < 0)
		return ncpu;
	*buf = calloc(ncpu, (size + 7) & ~(size_t)7);
	if (!*buf)
		return -ENOMEM;
	if (!bpf_map_lookup_elem(fd, &slot, *buf))
		return 0;
	free(*buf);
	*buf = NULL;
	return -errno;
}

/* The steps of xl_rule_set(), in their order, as its messages name them. */
enum set_step { S_STATS, S_CEILING, S_RULE, S_UNCEIL, S_COUNTS };

int xl_rule_set(struct xl_ctx *c, __u16 port, const struct xl_rule *rule,
		const struct xl_rule *ceiling, unsigned int how)
{
	static const char *const what[] = {
		[S_STATS] = "clear the counters of",
		[S_CEILING] = "write the ceiling of",
		[S_RULE] = "write the rule of",
		[S_UNCEIL] = "clear the ceiling of",
		[S_COUNTS] = "clear the old counts of",
	};
	static unsigned char used[XL_MAX_RULES];
	const struct xl_maps *m = &c->maps;
	struct xl_total old_total = {}, saved_total;
	struct xl_rule want = {}, old;
	bool had, own, had_total, reset, ceil = false, unceil = false;
	bool new_slot = false, switched = false, total_done = false;
	void *stats = NULL;
	enum set_step step;
	struct rule_undo u;
	char back[128] = "";
	__u32 slot;
	int err, e;

	if (rule && (rule->flags & XL_RULE_ADMIT_KNOWN) &&
	    (err = xl_known_attach(c)))
		return err;
	had = !bpf_map_lookup_elem(m->fd[XL_M_RULES], &port, &old);
	own = had && old.slot < XL_MAX_RULES;
	had_total =
		own && (old.flags & XL_RULE_TOTAL) &&
		!bpf_map_lookup_elem(m->fd[XL_M_TOTAL], &old.slot, &old_total);
	if (rule)
		want = *rule;
	/* A port keeps its stats slot; a new one takes a free one
	 * (XL_SET_SLOT: the one asked for, when free, with its counters). */
	if (own) {
		want.slot = old.slot;
	} else if (rule) {
		if ((how & XL_SET_SLOT) && want.slot < XL_MAX_RULES)
			slots_used(m, used);
		if (!(how & XL_SET_SLOT) || want.slot >= XL_MAX_RULES ||
		    used[want.slot]) {
			if (xl_free_slot(m, &want.slot))
				return xl_ctx_fail(
					c, -ENOSPC, false,
					"no room for another rule (at most %d ports)",
					XL_MAX_RULES);
			new_slot = true;
		}
	}
	slot = want.slot;
	/* A new or changed ceiling starts with fresh windows; a ceiling is
	 * in place before the rule names it, and goes after it stopped. */
	if (rule && (want.flags & XL_RULE_TOTAL)) {
		if (!ceiling && !had_total)
			return xl_ctx_fail(c, -EINVAL, true,
					   "port %u has no ceiling to keep",
					   port);
		ceiling = ceiling ?: &old_total.rule;
		ceil = !had_total || !xl_same_limits(&old_total.rule, ceiling);
	}
	unceil = had_total && !(want.flags & XL_RULE_TOTAL);
	/* New limits start from a clean count (Flask-Limiter keys its
	 * counters by the limit too); so do a removed rule's clients, should
	 * a rule cover them again. */
	reset = !(how & XL_SET_KEEP_COUNTS) &&
		(!rule || !had || !xl_same_limits(&old, &want));

	step = S_STATS;
	if (new_slot) {
		err = percpu_save(m->fd[XL_M_STATS], slot,
				  sizeof(struct xl_stats), &stats);
		if (err || (err = xl_stats_clear(m->fd[XL_M_STATS], slot)))
			goto undo;
	}
	step = ceil ? S_CEILING : S_UNCEIL;
	if ((ceil || unceil) &&
	    bpf_map_lookup_elem(m->fd[XL_M_TOTAL], &slot, &saved_total)) {
		err = -errno;
		goto undo;
	}
	step = S_CEILING;
	if (ceil && (err = xl_total_write(m, slot, ceiling)))
		goto undo;
	total_done = ceil;
	step = S_RULE;
	if ((err = rule_switch(m, port, rule ? &want : NULL, &u)))
		goto undo;
	switched = true;
	step = S_UNCEIL;
	if (unceil && (err = xl_total_write(m, slot, NULL)))
		goto undo;
	total_done = ceil || unceil;
	step = S_COUNTS;
	if (reset && (err = xl_state_clear_port(m, port)))
		goto undo;
	free(stats);
	return 0;

undo:
	/* In the reverse order: a ceiling cleared after the rule stopped
	 * naming it is back before the rule is; one written before the rule
	 * named it goes after. */
	e = 0;
	if (total_done && unceil &&
	    bpf_map_update_elem(m->fd[XL_M_TOTAL], &slot, &saved_total, 0))
		e = -errno;
	if (!e && switched)
		e = rule_unswitch(m, port, &u);
	if (!e && total_done && ceil &&
	    bpf_map_update_elem(m->fd[XL_M_TOTAL], &slot, &saved_total, 0))
		e = -errno;
	if (!e && stats &&
	    bpf_map_update_elem(m->fd[XL_M_STATS], &slot, stats, 0))
		e = -errno;
	/* What the datapath cached while the change was visible goes: the
	 * rule, or a ceiling its old rule names. */
	if (!e && (switched || (total_done && had_total)))
		e = xl_config_resync(m);
	if (e)
		snprintf(
			back, sizeof(back),
			"; writing back what was there failed too (%s): see 'xlimit limit list'",
			strerror(-e));
	else if (step == S_COUNTS)
		snprintf(
			back, sizeof(back),
			"; the rule is back as it was, some of its clients' counts may be cleared");
	free(stats);
	return xl_ctx_fail(c, err, false, "%s port %u: %s%s", what[step], port,
			   strerror(-err), back);
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
