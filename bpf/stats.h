/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-rule, per-CPU counters of what the datapath did with counted SYNs.
 */
#ifndef XL_STATS_H
#define XL_STATS_H

#include "maps.h"

static __always_inline void xl_count(__u32 slot, __u32 verdict)
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
	default:
		c = XL_STAT_PASSED;
	}
	/* Per-CPU value: plain adds, this CPU is the only writer. */
	st->c[XL_STAT_SEEN]++;
	st->c[c]++;
}

#endif /* XL_STATS_H */
