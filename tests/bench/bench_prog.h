/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The benchmarks' XDP programs that are one shared body with a constant. */
#ifndef XL_BENCH_PROG_H
#define XL_BENCH_PROG_H

/* One XDP program per variant of a shared body. */
#define BENCH_PROG(name, body, arg)             \
	SEC("xdp") int name(struct xdp_md *ctx) \
	{                                       \
		return body(ctx, arg);          \
	}

#endif /* XL_BENCH_PROG_H */
