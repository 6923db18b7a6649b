// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reading and charging one client through the pinned syscall program; see
 * query.h. The syscall program cannot use LPM tries (it is sleepable), so
 * the allow and deny lists are looked up here, in the same tries with the
 * same full-length key the datapath uses.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <bpf/bpf.h>

#include "xlimit_lib.h"
#include "query.h"
#include "xl_limiter.h"

static bool listed(int fd, const uint8_t addr[16])
{
	struct xl_lpm_key k = { .prefixlen = 128 };
	__u32 v;

	memcpy(k.addr, addr, 16);
	return fd >= 0 && bpf_map_lookup_elem(fd, &k, &v) == 0;
}

int xl_client_query(int prog_fd, int allow_fd, int deny_fd,
		    const uint8_t addr[16], uint16_t port, int op,
		    struct xl_client *c)
{
	struct xl_query q = { .port = port, .op = op };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &q,
		    .ctx_size_in = sizeof(q));
	struct xl_state s;
	struct xl_rule r = {};
	char why[96];
	double now_utc;
	uint32_t i;

	memset(c, 0, sizeof(*c));
	memcpy(q.addr, addr, 16);
	q.now = xl_mono_now();
	c->denied = listed(deny_fd, addr);
	c->allowed = !c->denied && listed(allow_fd, addr);
	if (c->denied || c->allowed)
		q.op = XL_OP_READ; /* listed clients are never counted */
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	if (q.err == -ENOENT)
		return 0;
	if (q.err)
		return q.err;
	/* The rule as the program used it: a hand-written one may hold
	 * no limit, or periods whose ends wrap. */
	r.nlimits = q.nlimits;
	memcpy(r.limits, q.limits, sizeof(r.limits));
	if (xl_rule_check(&r, why, sizeof(why)))
		return -EBADMSG;
	c->covered = true;
	c->rule_port = q.rule_port;
	c->verdict = c->denied	? XL_V_DENIED :
		     c->allowed ? XL_V_ALLOWED :
				  q.verdict;
	c->nlimits = q.nlimits > XL_MAX_LIMITS ? XL_MAX_LIMITS : q.nlimits;

	/* The program's view, evaluated at its own clock reading. */
	memcpy(s.win, q.win, sizeof(s.win));
	now_utc = xl_mono_to_utc(q.now);
	c->report = xl_report_index(&r, &s, q.now, q.breached);
	for (i = 0; i < c->nlimits; i++) {
		xl_client_limit_view(&q.limits[i], &s.win[i], q.now, now_utc,
				     &c->lim[i]);
		c->lim[i].breached = q.breached & (1U << i);
	}
	return 0;
}

void xl_client_limit_view(const struct xl_limit *lim, const struct xl_window *w,
			  uint64_t now, double now_utc,
			  struct xl_client_limit *l)
{
	struct xl_view v;

	memset(l, 0, sizeof(*l));
	xl_view_limit(lim, w, now, &v);
	xl_format_rule_limit(lim, l->text, sizeof(l->text));
	l->amount = v.amount;
	l->period = lim->period_ns / XL_NSEC_PER_SEC;
	l->action = lim->action;
	l->strategy = lim->strategy;
	l->burst = lim->burst;
	l->count = v.live ? v.count : 0;
	l->start = lim->strategy == XL_STRAT_FIXED && l->count ?
			   xl_word_start(w->word) :
			   0;
	l->tat = lim->strategy == XL_STRAT_TOKEN ? w->tat : 0;
	l->remaining = v.remaining;
	l->reset = (uint64_t)floor(xl_mono_to_utc(v.reset_ns)) + 1;
	l->retry_after = (int64_t)trunc((double)l->reset - now_utc);
}
