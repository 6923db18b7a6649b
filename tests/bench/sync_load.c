// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Load for bench_sync.sh: makes N clients active in a loaded xlimit, each
 * sending one SYN every ROUND_MS, for SECONDS, through the pinned XDP
 * program with BPF_PROG_TEST_RUN (no frame leaves the machine). Sources
 * are 198.18.0.0 + i (198.18.0.0/15 holds 131072). Prints the rounds it
 * completed and how long the slowest took.
 *
 * Usage: sync_load PIN_DIR PORT N ROUND_MS SECONDS
 *
 * With "hot" first, the cost of one hot source's SYN instead: one frame run
 * REPEAT times in the kernel, the median over 5 runs of the kernel's own
 * average (test_run's duration), in ns.
 *
 * Usage: sync_load hot PIN_DIR PORT REPEAT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pkt.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_prog(const char *pin_dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/prog_xdp", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "sync_load: %s: %s\n", path, strerror(errno));
	return fd;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static int hot(const char *pin_dir, __u16 port, unsigned int repeat)
{
	struct pkt_spec spec = { .l3 = PKT_IPV4, .l4 = PKT_TCP, .dport = port };
	__u8 frame[PKT_MAX];
	__u32 ns[5];
	int fd = open_prog(pin_dir), i;

	if (fd < 0)
		return 1;
	for (i = 0; i < 5; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
			    .repeat = repeat);

		o.data_size_in = (__u32)pkt_build(&spec, frame, sizeof(frame));
		if (bpf_prog_test_run_opts(fd, &o)) {
			fprintf(stderr, "sync_load: test run: %s\n",
				strerror(errno));
			return 1;
		}
		ns[i] = o.duration;
	}
	qsort(ns, 5, sizeof(ns[0]), cmp_u32);
	printf("%u\n", ns[2]);
	return 0;
}

int main(int argc, char **argv)
{
	struct pkt_spec spec = { .l3 = PKT_IPV4, .l4 = PKT_TCP };
	__u8 frame[PKT_MAX], out[PKT_MAX];
	unsigned long n, round_ms, seconds, i, rounds = 0;
	double start, end, slowest = 0;
	char src[INET_ADDRSTRLEN];
	size_t len;
	int fd;

	if (argc == 5 && !strcmp(argv[1], "hot"))
		return hot(argv[2], (__u16)strtoul(argv[3], NULL, 10),
			   (unsigned int)strtoul(argv[4], NULL, 10));
	if (argc != 6) {
		fprintf(stderr,
			"usage: sync_load PIN_DIR PORT N ROUND_MS SECONDS\n");
		return 2;
	}
	n = strtoul(argv[3], NULL, 10);
	round_ms = strtoul(argv[4], NULL, 10);
	seconds = strtoul(argv[5], NULL, 10);
	if (!n || n > 131072 || !round_ms || !seconds) {
		fprintf(stderr,
			"sync_load: N 1..131072, ROUND_MS and SECONDS > 0\n");
		return 2;
	}
	fd = open_prog(argv[1]);
	if (fd < 0)
		return 1;
	spec.dport = (__u16)strtoul(argv[2], NULL, 10);
	spec.src = src;
	start = mono();
	end = start + seconds;
	while (mono() < end) {
		double t0 = mono(), took;

		for (i = 0; i < n; i++) {
			struct in_addr a = { htonl((198u << 24 | 18u << 16) +
						   (__u32)i) };
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
				    .data_out = out,
				    .data_size_out = sizeof(out), .repeat = 1);

			inet_ntop(AF_INET, &a, src, sizeof(src));
			len = pkt_build(&spec, frame, sizeof(frame));
			o.data_size_in = (__u32)len;
			if (bpf_prog_test_run_opts(fd, &o)) {
				fprintf(stderr, "sync_load: test run: %s\n",
					strerror(errno));
				return 1;
			}
		}
		rounds++;
		took = mono() - t0;
		if (took > slowest)
			slowest = took;
		while (mono() < t0 + round_ms / 1000.0 && mono() < end) {
			struct timespec ts = { 0, 5000000 };

			nanosleep(&ts, NULL);
		}
	}
	printf("rounds %lu clients %lu slowest_round_s %.3f\n", rounds, n,
	       slowest);
	return 0;
}
