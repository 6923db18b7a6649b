/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-rule, per-CPU counters of what the datapath did with counted SYNs.
 */
#ifndef XL_STATS_H
#define XL_STATS_H

#include "maps.h"

/* One counter of one slot, on this CPU. */
static __always_inline void xl_count_one(__u32 slot, __u32 c)
{
	struct xl_stats *st = bpf_map_lookup_elem(&XL_MAP_STATS, &slot);

	if (st && c < XL_STAT_NR)
		st->c[c]++;
}

/* A counted SYN: its verdict, and whether it created (or restored) the
 * client's state. */
static __always_inline void xl_count(__u32 slot, __u32 verdict, __u32 created,
				     __u32 restored)
{
	struct xl_stats *st = bpf_map_lookup_elem(&XL_MAP_STATS, &slot);
	__u32 c;

	if (!st)
		return;
	switch (verdict) {
	case XL_V_ALLOWED:
		c = XL_STAT_ALLOWED;
		break;
	case XL_V_DENIED:
		c = XL_STAT_DENIED;
		break;
	case XL_V_OVER_DROP:
		c = XL_STAT_DROPPED;
		break;
	case XL_V_OVER_PASS:
		c = XL_STAT_OVER_PASSED;
		break;
	case XL_V_OVER_REJECT:
		c = XL_STAT_REJECTED;
		break;
	case XL_V_OVER_TOTAL:
		c = XL_STAT_TOTAL_DROPPED;
		break;
	default:
		c = XL_STAT_PASSED;
	}
	/* Per-CPU value: plain adds, this CPU is the only writer. */
	st->c[XL_STAT_SEEN]++;
	st->c[c]++;
	st->c[XL_STAT_NEW] += created;
	st->c[XL_STAT_RESTORED] += restored;
}

#endif /* XL_STATS_H */
