// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The datapath's counters: per slot, summed over the CPUs, and by rule.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xlimit_lib.h"

int xl_percpu_sum(int fd, const void *key, __u64 *sum, int n)
{
	int ncpu = libbpf_num_possible_cpus(), i, j, err = 0;
	__u64 *v;

	memset(sum, 0, n * sizeof(*sum));
	if (ncpu < 0)
		return ncpu;
	v = calloc((size_t)ncpu * n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, v))
		err = -errno;
	for (i = 0; i < ncpu && !err; i++)
		for (j = 0; j < n; j++)
			sum[j] += v[i * n + j];
	free(v);
	return err;
}

int xl_stats_read(int fd, uint32_t slot, struct xl_stats *sum)
{
	return xl_percpu_sum(fd, &slot, sum->c, XL_STAT_NR);
}

const char *const xl_stat_names[XL_STAT_NR] = {
	[XL_STAT_SEEN] = "seen",
	[XL_STAT_PASSED] = "passed",
	[XL_STAT_DROPPED] = "dropped",
	[XL_STAT_OVER_PASSED] = "over_passed",
	[XL_STAT_ALLOWED] = "allowed",
	[XL_STAT_DENIED] = "denied",
	[XL_STAT_FRAG_DROPPED] = "frag_dropped",
	[XL_STAT_DEEP_DROPPED] = "deep_dropped",
	[XL_STAT_NEW] = "clients_created",
	[XL_STAT_RESTORED] = "clients_restored",
	[XL_STAT_REJECTED] = "rejected",
	[XL_STAT_TOTAL_DROPPED] = "total_dropped",
	[XL_STAT_KNOWN_ADMITTED] = "known_admitted",
	[XL_STAT_KNOWN_LEARNED] = "known_learned",
};

int xl_stat_rows(int rules_fd, int stats_fd, struct xl_stat_row *rows)
{
	struct xl_rule_row *rr = calloc(XL_MAX_RULES, sizeof(*rr));
	int n, i, err = 0;

	if (!rr)
		return -ENOMEM;
	n = xl_rules_read(rules_fd, -1, rr, XL_MAX_RULES);
	for (i = 0; i < n && !err; i++) {
		rows[i].port = rr[i].port;
		rows[i].rule = rr[i].rule;
		/* A slot out of range (a rule written by hand) has no
		 * counters: the datapath finds none to add to either. */
		memset(&rows[i].s, 0, sizeof(rows[i].s));
		if (rows[i].rule.slot < XL_MAX_RULES)
			err = xl_stats_read(stats_fd, rows[i].rule.slot,
					    &rows[i].s);
	}
	free(rr);
	return err ? err : n;
}

int xl_stats_clear(int fd, uint32_t slot)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	struct xl_stats *v;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &slot, v, BPF_ANY))
		err = -errno;
	free(v);
	return err;
}
