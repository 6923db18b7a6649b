// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * How `xlimit status` shows `xlimit sync`: from xl_sync, which the daemon
 * rewrites every round (a heartbeat, the state of its link to Redis and
 * why it is down).
 */
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "cli.h"

/* A daemon whose heartbeat is older than this is gone. */
#define XL_SYNC_STALE_NS (10 * XL_NSEC_PER_SEC)

struct json_object *xl_sync_json(int sync_fd)
{
	static const char *const names[] = { [XL_SYNC_OFF] = "off",
					     [XL_SYNC_CONNECTING] =
						     "connecting",
					     [XL_SYNC_UP] = "up",
					     [XL_SYNC_DOWN] = "down" };
	struct json_object *o = json_object_new_object();
	struct xl_sync s = {};
	uint64_t now = xl_mono_now();
	const char *state = "off";
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(sync_fd, &zero, &s) &&
	    s.link < sizeof(names) / sizeof(names[0]))
		state = names[s.link];
	if (s.link != XL_SYNC_OFF && now - s.heartbeat > XL_SYNC_STALE_NS)
		state = "stale";
	s.redis[sizeof(s.redis) - 1] = 0;
	s.error[sizeof(s.error) - 1] = 0;
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "redis", json_object_new_string(s.redis));
	json_object_object_add(o, "error", json_object_new_string(s.error));
	json_object_object_add(o, "pid", json_object_new_int64(s.pid));
	json_object_object_add(o, "interval_ms",
			       json_object_new_int64(s.interval_ms));
	json_object_object_add(
		o, "for_s",
		json_object_new_double(
			s.since && now > s.since ? (now - s.since) / 1e9 : 0));
	json_object_object_add(o, "pushed", json_object_new_uint64(s.pushed));
	json_object_object_add(o, "limited", json_object_new_uint64(s.limited));
	json_object_object_add(o, "lost", json_object_new_uint64(s.lost));
	return o;
}

void xl_sync_print(struct json_object *sync)
{
	const char *state =
		json_object_get_string(json_object_object_get(sync, "state"));
	const char *redis =
		json_object_get_string(json_object_object_get(sync, "redis"));
	double for_s =
		json_object_get_double(json_object_object_get(sync, "for_s"));

	if (!strcmp(state, "off")) {
		printf("sync:         off (no 'xlimit sync' runs)\n");
	} else if (!strcmp(state, "up")) {
		printf("sync:         up, %s, for %.0f s; %llu hits pushed, %llu clients limited by the fleet, %llu events lost\n",
		       redis, for_s,
		       (unsigned long long)json_object_get_uint64(
			       json_object_object_get(sync, "pushed")),
		       (unsigned long long)json_object_get_uint64(
			       json_object_object_get(sync, "limited")),
		       (unsigned long long)json_object_get_uint64(
			       json_object_object_get(sync, "lost")));
	} else if (!strcmp(state, "down")) {
		printf("sync:         REDIS UNREACHABLE for %.0f s (%s): local limits only, retrying %s\n",
		       for_s,
		       json_object_get_string(
			       json_object_object_get(sync, "error")),
		       redis);
	} else if (!strcmp(state, "connecting")) {
		printf("sync:         connecting to %s\n", redis);
	} else {
		printf("sync:         stale: 'xlimit sync' (pid %lld) stopped without saying so; local limits only\n",
		       (long long)json_object_get_int64(
			       json_object_object_get(sync, "pid")));
	}
}
