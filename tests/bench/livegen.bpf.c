// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The flood generator's XDP program, built only for the benchmarks: run
 * by BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES (tests/bench/livegen.c),
 * it gives each frame of an IPv4 TCP SYN template the next of gen_nsrc
 * source addresses, fixes the IPv4 and TCP checksums incrementally, and
 * redirects it into a veth. The peer receives it as an XDP frame, with no
 * socket buffer built before its own XDP program runs, as from a NIC.
 * Each frame also gets the next IP ID: a NIC's DMA writes every frame it
 * receives, so the receiver's first read of a frame is of a line another
 * agent wrote, whether the source changed or not (with one source, a
 * frame the page pool handed back unchanged would be in the receiver's
 * cache still, from its last trip).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

__u32 gen_ifindex; /* the veth to send into */
__u32 gen_nsrc = 1; /* sources cycled through */
__u32 gen_base; /* the first source, host order */
__u32 gen_seq; /* one CPU runs the generator: no other writer */
__u32 gen_frames; /* frames sent: the IP ID of the next */

/* One's complement update of a 16-bit checksum for a 32-bit field that
 * changed from `from` to `to` (RFC 1624, eqn. 3). */
static __always_inline __u16 csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u64 s = (__u16)~check;

	s += (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s;
}

SEC("xdp")
int gen_syn(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct tcphdr *th = (void *)(iph + 1);
	__u32 n = gen_seq + 1, from, to, *idw = (__u32 *)&iph->id;

	if ((void *)(th + 1) > data_end || iph->ihl != 5)
		return XDP_ABORTED;
	if (n >= gen_nsrc)
		n = 0;
	gen_seq = n;
	/* The IP ID and the fragment word, as one 32-bit field. */
	from = *idw;
	to = bpf_htonl((gen_frames++ & 0xffff) << 16 |
		       (bpf_ntohl(from) & 0xffff));
	iph->check = csum_replace4(iph->check, from, to);
	*idw = to;
	/* The page pool may hand back a frame this program already
	 * changed: update from whatever source it holds now. */
	from = iph->saddr;
	to = bpf_htonl(gen_base + n);
	if (from != to) {
		iph->check = csum_replace4(iph->check, from, to);
		th->check = csum_replace4(th->check, from, to);
		iph->saddr = to;
	}
	return bpf_redirect(gen_ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
