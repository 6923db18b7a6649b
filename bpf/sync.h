/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath's side of fleet-wide limits (`xlimit sync`): while the
 * daemon runs (XL_CFG_SYNC in xl_config), a charged client is reported to
 * it once per epoch through a ring buffer, so that the daemon reads only
 * the clients that moved. Without the flag none of this is reached. The
 * fleet's verdict comes back through xl_state itself (see include/xlimit.h),
 * so the datapath has nothing else to look up.
 */
#ifndef XL_SYNC_H
#define XL_SYNC_H

#include "maps.h"
#include "xl_key.h"

/* The daemon's epoch and status. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xl_sync);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_SYNC SEC(".maps");

/* The epoch each client (by a keyed hash of its key) was last reported
 * in, under the hash's high half as a tag. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XL_SYNC_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_SEEN SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XL_SYNC_RING);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_EVENTS SEC(".maps");

/*
 * Tells the daemon that the client of `k` was charged, unless it was told
 * so in this epoch already. `h` is a keyed hash of the source (decide.h
 * computes it only while the flag is set): of the whole address, where
 * k's is masked to the IPv6 prefix, so two sources of one /64 keep a
 * mark each, and the second is a spare event. A global function: the
 * verifier checks it once. Two CPUs may
 * both see the old mark and both report: a spare event, which the daemon
 * folds into one. No wakeup: the daemon drains the ring on its own clock.
 * A full ring loses the event (counted in xl_sync.lost).
 */
__attribute__((noinline)) int xl_sync_note(const struct xl_key *k, __u64 h)
{
	struct xl_sync_event *e;
	struct xl_sync *s;
	__u32 zero = 0, slot;
	__u64 mark, *seen;

	if (!k)
		return 0;
	s = bpf_map_lookup_elem(&XL_MAP_SYNC, &zero);
	if (!s)
		return 0;
	slot = h & (XL_SYNC_SLOTS - 1);
	seen = bpf_map_lookup_elem(&XL_MAP_SEEN, &slot);
	if (!seen)
		return 0;
	mark = (h & 0xffffffff00000000ULL) | XL_READ(s->epoch);
	if (XL_READ(*seen) == mark)
		return 0;
	*seen = mark; /* written once an epoch: no line bouncing per SYN */
	e = bpf_ringbuf_reserve(&XL_MAP_EVENTS, sizeof(*e), 0);
	if (!e) {
		/* The mark stays: the client is reported at its first hit
		 * of a later epoch, with every hit since, and a daemon that
		 * died with the flag set costs a failed reserve per client
		 * and epoch, not per SYN. */
		__sync_fetch_and_add(&s->lost, 1);
		return 0;
	}
	__builtin_memcpy(&e->key, k, sizeof(e->key));
	e->epoch = (__u32)mark;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 1;
}

#endif /* XL_SYNC_H */
