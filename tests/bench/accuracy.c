// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Accuracy of the limiter (include/xl_limiter.h, the code the datapath
 * runs) with a simulated clock: a client sends at twice its limit, evenly
 * spaced, for 60 windows, and the hits admitted are compared with the
 * exact allowance (60 × amount). A second client sends as many hits in
 * bursts placed at window edges, the worst case of a fixed window: the
 * table also gives the most hits admitted within any span of one period. Prints a Markdown table. Fixed window is the only strategy
 * the limiter has; each new one gets its rows here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlimit.h"
#include "xl_limiter.h"

#define WINDOWS 60
#define MAX_HITS 100000

static __u64 admitted_at[MAX_HITS];

struct client {
	const char *name;
	__u64 amount, period_s;
	int bursty;
};

/* The most admitted hits within any half-open span of one period. */
static __u64 max_in_period(__u64 n, __u64 period)
{
	__u64 best = 0, i, j = 0;

	for (i = 0; i < n; i++) {
		while (admitted_at[i] - admitted_at[j] >= period)
			j++;
		if (i - j + 1 > best)
			best = i - j + 1;
	}
	return best;
}

static void run(const struct client *c)
{
	struct xl_rule r = { .nlimits = 1 };
	struct xl_state s;
	__u64 period = c->period_s * XL_NSEC_PER_SEC, hits, i, n = 0;
	__u64 t0 = 1000 * XL_NSEC_PER_SEC, exact, peak;

	memset(&s, 0, sizeof(s));
	r.limits[0].amount = c->amount;
	r.limits[0].period_ns = period;
	hits = 2 * c->amount * WINDOWS;
	if (hits > MAX_HITS)
		return;
	for (i = 0; i < hits; i++) {
		__u64 now;

		if (!c->bursty) {
			/* Evenly: 2 × amount hits per period. */
			now = t0 + i * period / (2 * c->amount);
		} else {
			/* Two windows per cycle of 4 × amount hits: one hit
			 * opens the first, the rest of its quota comes just
			 * before its end, the next window's all at its start.
			 * The first window starts where the unit of its first
			 * hit does, up to 1.05 ms before it, so all 2 × amount
			 * are admitted within one period of that hit. */
			__u64 a = c->amount, k = i % (4 * a);
			__u64 cyc = t0 + i / (4 * a) * 2 * period;
			__u64 end =
				xl_word_start(xl_word_open(cyc, 0)) + period;

			now = k == 0 ? cyc : k < 2 * a ? end - 1 : end;
		}
		if (!xl_charge(&r, &s, now))
			admitted_at[n++] = now;
	}
	exact = c->amount * WINDOWS;
	peak = max_in_period(n, period);
	printf("| fixed-window | %s | %llu per %llu s | %llu | %llu | %llu | "
	       "%+.2f%% | %llu (%.2f× the limit) |\n",
	       c->name, (unsigned long long)c->amount,
	       (unsigned long long)c->period_s, (unsigned long long)hits,
	       (unsigned long long)n, (unsigned long long)exact,
	       100.0 * ((double)n - exact) / exact, (unsigned long long)peak,
	       (double)peak / c->amount);
}

int main(void)
{
	static const struct client clients[] = {
		{ "2× rate, even", 10, 1, 0 },
		{ "2× rate, even", 100, 60, 0 },
		{ "2× rate, even", 5, 10, 0 },
		{ "2× rate, bursts at window edges", 10, 1, 1 },
		{ "2× rate, bursts at window edges", 100, 60, 1 },
	};
	size_t i;

	printf("| strategy | client | limit | sent | admitted | exact | "
	       "error | most admitted in one period |\n");
	printf("|---|---|---|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
		run(&clients[i]);
	return 0;
}
