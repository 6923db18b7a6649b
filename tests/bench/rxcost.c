// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Runs a command and reports the NET_RX softirq time each CPU spent
 * while it ran (rxcost.bpf.c), as `cpuN_net_rx_ns=T cpuN_net_rx_runs=R`
 * lines after the command's own output. The flood benchmark runs the
 * generator under it, pinned to one CPU: the softirq time on that CPU is
 * the receiver's share of the work. Exits with the command's status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rxcost.skel.h"

struct rx_time {
	__u64 start;
	__u64 total_ns;
	__u64 runs;
};

static int read_times(int fd, struct rx_time *t)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(fd, &zero, t);
}

int main(int argc, char **argv)
{
	struct rx_time *before, *after;
	struct rxcost_bpf *skel;
	int ncpus, status, i, fd;
	pid_t pid;

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: rxcost -- COMMAND [ARG...]\n");
		return 2;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return 1;
	before = calloc(ncpus, sizeof(*before));
	after = calloc(ncpus, sizeof(*after));
	skel = rxcost_bpf__open_and_load();
	if (!before || !after || !skel || rxcost_bpf__attach(skel)) {
		fprintf(stderr, "rxcost: load and attach: %s (needs root)\n",
			strerror(errno));
		return 1;
	}
	fd = bpf_map__fd(skel->maps.rx_time);
	if (read_times(fd, before))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "rxcost: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || read_times(fd, after))
		return 1;
	fflush(stdout);
	for (i = 0; i < ncpus; i++)
		printf("cpu%d_net_rx_ns=%llu cpu%d_net_rx_runs=%llu\n", i,
		       (unsigned long long)(after[i].total_ns -
					    before[i].total_ns),
		       i, (unsigned long long)(after[i].runs - before[i].runs));
	rxcost_bpf__destroy(skel);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
