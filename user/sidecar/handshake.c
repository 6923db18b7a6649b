// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Whether the kernel charged the SYN of a connection the sidecar serves,
 * so that its first request is only read (limit.c). The datapath dates a
 * SYN with the coarse monotonic clock (bpf/decide.h). On that clock the
 * sidecar knows two times of a connection: when it accepted it, read
 * after accept() returned and so never before the SYN; and when the
 * kernel completed the handshake, the accept time less the ages TCP_INFO
 * gives. Those ages count jiffies, which the coarse clock does not always
 * follow: it may lag them by a tick or more (4 ms at HZ=250; 16 ms seen
 * under load), so the handshake may come out ticks before the SYN it
 * followed. Each strategy is judged against the time that errs on its
 * safe side: a fixed window must have opened by the accept, a token
 * bucket's TAT must be past the handshake.
 */
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "xlimit_lib.h"
#include "sidecar.h"

/* The kernel keeps how long ago, in ms, the socket last sent data,
 * received data and received an ACK; all three start at the handshake.
 * Data the client sent before the accept moves the last two, never the
 * first (the sidecar has sent nothing yet): the longest is the nearest. */
struct sc_accepted sc_accepted(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	bool info = !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
		    len >= offsetof(struct tcp_info, tcpi_last_ack_recv) +
				    sizeof(ti.tcpi_last_ack_recv);
	/* Read after TCP_INFO: a tick between the two only makes the
	 * handshake earlier. */
	struct sc_accepted a = { .at = xl_mono_now() };
	uint64_t ago;

	a.handshake = a.at;
	if (!info)
		return a;
	ago = ti.tcpi_last_data_sent;
	if (ti.tcpi_last_data_recv > ago)
		ago = ti.tcpi_last_data_recv;
	if (ti.tcpi_last_ack_recv > ago)
		ago = ti.tcpi_last_ack_recv;
	ago *= 1000000ULL;
	if (ago < a.at)
		a.handshake = a.at - ago;
	return a;
}

/* A fixed window must be open and have started no later than the accept
 * (the SYN came before it); a sliding window must hold a hit; a bucket's
 * TAT must be past the handshake, as a SYN charged before it left the TAT
 * at least T past the SYN (T shorter than the handshake took reads as no
 * record: the request is charged). */
bool sc_syn_seen(const struct xl_client_limit *l, struct sc_accepted a)
{
	if (l->strategy == XL_STRAT_TOKEN)
		return a.handshake ? l->tat > a.handshake : l->count > 0;
	return l->count > 0 &&
	       (l->strategy != XL_STRAT_FIXED || !a.at || l->start <= a.at);
}
