// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The SYN flood generator of the benchmarks: prebuilt IPv4 SYN frames
 * (one per forged source, with valid checksums), sent for a bounded time
 * through an AF_PACKET socket with PACKET_QDISC_BYPASS, in sendmmsg()
 * batches, on the interface it is given. It is the same generator for
 * every row of the flood table. Sources are `--sources` consecutive
 * addresses from `--src-base`, cycled in order; the benchmark keeps them
 * and the destination inside 198.18.0.0/15 and runs this in a network
 * namespace of its own. It stops after `--seconds`, or `--count` frames
 * if that comes first. Prints `sent=N errors=N seconds=S pps=R`.
 *
 * With --live it sends the same frames another way: BPF_PROG_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES runs livegen.bpf.c on one template frame,
 * which takes the next source and redirects the frame into the interface.
 * On a veth the peer then receives XDP frames, no socket buffer built
 * before its XDP program runs, as a NIC's driver hands them over; the
 * sending side costs far less than AF_PACKET's. "sent" then counts the
 * frames the program redirected, whether or not the peer had room;
 * --pace sends them slowly enough for the peer to take in every one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_packet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pkt.h"
#include "livegen.skel.h"

#define BATCH_MAX 1024
#define SOURCES_MAX 1000000
#define FRAME_LEN 54 /* Ethernet + IPv4 + TCP, no options */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_mac(const char *s, __u8 mac[6])
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = b[i];
	}
	return 0;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max,
		       unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || end == s || *out < min || *out > max ? -1 : 0;
}

/* BPF_PROG_RUN in live-frames mode: runs the generator program over the
 * template `frame` (its source is the first one) in chunks until `secs`
 * or `count`. Paced, the chunks are PACE_CHUNK frames PACE_GAP_US apart:
 * a fraction of the peer's ring of 256, so that a receiver that keeps up
 * with 1 frame a microsecond takes in every frame (to fill its tables). */
#define PACE_CHUNK 32
#define PACE_GAP_US 100
static int live_flood(const char *ifname, const __u8 *frame, size_t len,
		      unsigned long nsrc, unsigned long secs,
		      unsigned long count, int pace)
{
	struct livegen_bpf *g = livegen_bpf__open();
	unsigned long long sent = 0;
	double start, t;
	__u32 base;
	int err;

	if (!g)
		return -1;
	memcpy(&base, frame + PKT_ETH_HLEN + 12, 4);
	g->bss->gen_ifindex = if_nametoindex(ifname);
	g->bss->gen_base = ntohl(base);
	g->data->gen_nsrc = nsrc;
	g->bss->gen_seq = nsrc - 1; /* the first frame takes source 0 */
	if (!g->bss->gen_ifindex) {
		fprintf(stderr, "synflood: no interface %s\n", ifname);
		return -1;
	}
	err = livegen_bpf__load(g);
	if (err) {
		fprintf(stderr, "synflood: load livegen: %s\n", strerror(-err));
		return -1;
	}
	start = t = now_s();
	while (t < start + secs && (!count || sent < count)) {
		unsigned long chunk = pace ? PACE_CHUNK : 1UL << 18;

		if (pace && sent)
			usleep(PACE_GAP_US);
		if (count && count - sent < chunk)
			chunk = count - sent;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
			    .data_size_in = len, .repeat = chunk,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
		if (bpf_prog_test_run_opts(bpf_program__fd(g->progs.gen_syn),
					   &o)) {
			fprintf(stderr, "synflood: live test_run: %s\n",
				strerror(errno));
			return -1;
		}
		sent += chunk;
		t = now_s();
	}
	printf("sent=%llu errors=0 seconds=%.3f pps=%.0f\n", sent, t - start,
	       sent / (t - start));
	livegen_bpf__destroy(g);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: synflood --ifname IF --src-mac MAC --dst-mac MAC\n"
		   "                --dst IPV4 --dport PORT --src-base IPV4\n"
		   "                [--sources N] [--seconds S] [--count N]\n"
		   "                [--batch N] [--live [--pace]]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ifname", required_argument, NULL, 'i' },
		{ "src-mac", required_argument, NULL, 'S' },
		{ "dst-mac", required_argument, NULL, 'D' },
		{ "dst", required_argument, NULL, 'd' },
		{ "dport", required_argument, NULL, 'p' },
		{ "src-base", required_argument, NULL, 'b' },
		{ "sources", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'B' },
		{ "live", no_argument, NULL, 'L' },
		{ "pace", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct pkt_spec spec = { .tcp_flags = PKT_TCP_SYN };
	unsigned long nsrc = 1, secs = 3, batch = 256, dport = 80, count = 0;
	const char *ifname = NULL, *dst = NULL, *base = NULL;
	static struct mmsghdr msgs[BATCH_MAX];
	static struct iovec iov[BATCH_MAX];
	unsigned long long sent = 0, errors = 0;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct in_addr base_addr;
	double start, end, t;
	__u8 *frames, buf[PKT_MAX];
	unsigned long i, next = 0;
	int c, fd, one = 1, sndbuf = 1 << 24, live = 0, pace = 0;

	while ((c = getopt_long(argc, argv, "i:S:D:d:p:b:n:t:c:B:LPh", opts,
				NULL)) != -1) {
		switch (c) {
		case 'i':
			ifname = optarg;
			break;
		case 'S':
			if (parse_mac(optarg, spec.smac))
				goto bad;
			break;
		case 'D':
			if (parse_mac(optarg, spec.dmac))
				goto bad;
			break;
		case 'd':
			dst = optarg;
			break;
		case 'p':
			if (parse_ulong(optarg, 1, 65535, &dport))
				goto bad;
			break;
		case 'b':
			base = optarg;
			break;
		case 'n':
			if (parse_ulong(optarg, 1, SOURCES_MAX, &nsrc))
				goto bad;
			break;
		case 't':
			if (parse_ulong(optarg, 1, 60, &secs))
				goto bad;
			break;
		case 'c':
			if (parse_ulong(optarg, 1, ~0UL, &count))
				goto bad;
			break;
		case 'B':
			if (parse_ulong(optarg, 1, BATCH_MAX, &batch))
				goto bad;
			break;
		case 'L':
			live = 1;
			break;
		case 'P':
			pace = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (!ifname || !dst || !base ||
	    inet_pton(AF_INET, base, &base_addr) != 1)
		goto bad;

	/* One frame per source, built once: the send loop only sends. */
	frames = malloc(nsrc * FRAME_LEN);
	if (!frames) {
		fprintf(stderr, "synflood: no memory for %lu frames\n", nsrc);
		return 1;
	}
	spec.dst = dst;
	spec.dport = dport;
	for (i = 0; i < nsrc; i++) {
		struct in_addr a = { htonl(ntohl(base_addr.s_addr) + i) };
		char src[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &a, src, sizeof(src));
		spec.src = src;
		if (pkt_build(&spec, buf, sizeof(buf)) != FRAME_LEN) {
			fprintf(stderr, "synflood: cannot build a frame\n");
			return 2;
		}
		memcpy(frames + i * FRAME_LEN, buf, FRAME_LEN);
	}

	if (live)
		return live_flood(ifname, frames, FRAME_LEN, nsrc, secs, count,
				  pace) ?
			       1 :
			       0;

	/* Protocol 0: this socket sends and never receives. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("synflood: socket(AF_PACKET)");
		return 1;
	}
	sll.sll_ifindex = if_nametoindex(ifname);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "synflood: no interface %s\n", ifname);
		return 1;
	}
	/* Straight to the driver: no qdisc on the generator's side. */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
		       sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
		       sizeof(sndbuf)) ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("synflood: set up the socket");
		return 1;
	}
	for (i = 0; i < batch; i++) {
		iov[i].iov_len = FRAME_LEN;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	start = now_s();
	end = start + secs;
	do {
		int n;

		if (count && count - sent < batch)
			batch = count - sent;
		for (i = 0; i < batch; i++) {
			iov[i].iov_base = frames + next * FRAME_LEN;
			if (++next == nsrc)
				next = 0;
		}
		n = sendmmsg(fd, msgs, batch, 0);
		t = now_s();
		if (n < 0) {
			if (errno != ENOBUFS && errno != EAGAIN &&
			    errno != EINTR) {
				perror("synflood: sendmmsg");
				return 1;
			}
			errors++;
			next = (next + nsrc - batch % nsrc) % nsrc;
			continue;
		}
		/* A short send leaves the rest of the batch unsent: the
		 * next batch goes on from the first frame not sent. */
		if ((unsigned long)n < batch)
			next = (next + nsrc - (batch - n) % nsrc) % nsrc;
		sent += n;
	} while (t < end && (!count || sent < count));
	printf("sent=%llu errors=%llu seconds=%.3f pps=%.0f\n", sent, errors,
	       t - start, sent / (t - start));
	close(fd);
	free(frames);
	return 0;
bad:
	usage(stderr);
	return 2;
}
