/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The maps of the xlimit datapath, all pinned by name under the pin root
 * the loader gives (/sys/fs/bpf/xlimit) and all with BTF, so that
 * `bpftool map dump pinned /sys/fs/bpf/xlimit/xl_state` prints field
 * names. Their layouts are in include/xlimit.h.
 */
#ifndef XL_MAPS_H
#define XL_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xlimit.h"

/* Destination port (0 = every port without a rule) -> its limits: the
 * record, which the datapath does not read (see include/xlimit.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, struct xl_rule);
	__uint(max_entries, XL_MAX_RULES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_RULES SEC(".maps");

/* What the datapath reads of the rules: port -> entry of xl_rslots ->
 * rule. Mmapable, so that the writer switches a port's entry with one
 * atomic store. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xl_port);
	__uint(max_entries, XL_PORTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_PORTS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xl_rule);
	__uint(max_entries, XL_RSLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_RSLOTS SEC(".maps");

/* (source, port) -> one fixed window per limit. The loader may resize it
 * before the first load (`xlimit attach --max-sources`). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xl_key);
	__type(value, struct xl_state);
	__uint(max_entries, XL_STATE_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_STATE SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct xl_lpm_key);
	__type(value, __u32);
	__uint(max_entries, XL_LIST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_ALLOW SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct xl_lpm_key);
	__type(value, __u32);
	__uint(max_entries, XL_LIST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_DENY SEC(".maps");

/* Per rule slot (and XL_SLOT_GLOBAL), per CPU: no atomics needed,
 * softirq does not nest. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xl_stats);
	__uint(max_entries, XL_STATS_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_STATS SEC(".maps");

/* Live settings, changed without a reload. An all-zero entry (never set)
 * means the defaults. Mmapable, so that the sidecar reads the generation
 * on every request without a syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xl_config);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_CONFIG SEC(".maps");

/* Clients that went over a limit, by a keyed hash of their key: read
 * when a client is created, written when a hit is refused (decide.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xl_over);
	__uint(max_entries, XL_OVER_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_OVER SEC(".maps");

/* Verdicts this CPU reached for hot sources (decide.h's xl_cached()):
 * per CPU, so no atomics and no line shared between CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xl_vcache);
	__uint(max_entries, XL_VCACHE_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_VCACHE SEC(".maps");

/* Per rule slot: the port's ceiling for all sources together and its
 * windows (flood.h). An array: the datapath's lookup is an index. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xl_total);
	__uint(max_entries, XL_MAX_RULES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_TOTAL SEC(".maps");

/* Clients that completed a TCP handshake on a port with --admit-known,
 * written by the sockops program only (flood.h). A map of its own, so
 * that the churn a flood of new sources makes in xl_state never evicts
 * them: only completed handshakes add to it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xl_key);
	__type(value, struct xl_known);
	__uint(max_entries, XL_KNOWN_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_KNOWN SEC(".maps");

/* Per-endpoint limits for the sidecar: (port, methods, path) -> the
 * route's limits, flags and 429 message. No datapath program reads it
 * (the kernel sees ports, not paths); the sidecar and the CLI do. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct xl_route_key);
	__type(value, struct xl_route);
	__uint(max_entries, XL_MAX_ROUTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_ROUTES SEC(".maps");

/* (client, route) -> one window per limit of the route, charged by the
 * xlimit_route syscall program (route.h). An LRU, as xl_state. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xl_route_skey);
	__type(value, struct xl_state);
	__uint(max_entries, XL_RSTATE_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_RSTATE SEC(".maps");

/* Route id -> what the xlimit_route program decided for the route's
 * requests (include/xlimit.h), per CPU: a worker's add is to a line of
 * its CPU's. Entries come and go with the routes (the CLI). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __u32);
	__type(value, struct xl_rstats);
	__uint(max_entries, XL_MAX_ROUTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} XL_MAP_RSTATS SEC(".maps");

#endif /* XL_MAPS_H */
