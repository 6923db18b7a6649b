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

void xl_sync_read(int sync_fd, struct xl_sync_view *v)
{
	static const char *const names[] = { [XL_SYNC_OFF] = "off",
					     [XL_SYNC_CONNECTING] =
						     "connecting",
					     [XL_SYNC_UP] = "up",
					     [XL_SYNC_DOWN] = "down" };
	struct xl_sync *s = &v->s;
	uint64_t now = xl_mono_now();
	__u32 zero = 0;

	memset(v, 0, sizeof(*v));
	v->state = "off";
	if (!bpf_map_lookup_elem(sync_fd, &zero, s) &&
	    s->link < sizeof(names) / sizeof(names[0]))
		v->state = names[s->link];
	if (s->link != XL_SYNC_OFF && now - s->heartbeat > XL_SYNC_STALE_NS)
		v->state = "stale";
	s->redis[sizeof(s->redis) - 1] = 0;
	s->error[sizeof(s->error) - 1] = 0;
	v->for_s = s->since && now > s->since ? (now - s->since) / 1e9 : 0;
}

struct json_object *xl_sync_json(const struct xl_sync_view *v)
{
	struct json_object *o = json_object_new_object();
	const struct xl_sync *s = &v->s;

	json_object_object_add(o, "state", json_object_new_string(v->state));
	json_object_object_add(o, "redis", json_object_new_string(s->redis));
	json_object_object_add(o, "error", json_object_new_string(s->error));
	json_object_object_add(o, "pid", json_object_new_int64(s->pid));
	json_object_object_add(o, "interval_ms",
			       json_object_new_int64(s->interval_ms));
	json_object_object_add(o, "for_s", json_object_new_double(v->for_s));
	json_object_object_add(o, "pushed", json_object_new_uint64(s->pushed));
	json_object_object_add(o, "limited",
			       json_object_new_uint64(s->limited));
	json_object_object_add(o, "lost", json_object_new_uint64(s->lost));
	return o;
}

void xl_sync_print(const struct xl_sync_view *v)
{
	const struct xl_sync *s = &v->s;

	if (!strcmp(v->state, "off")) {
		printf("sync:         off (no 'xlimit sync' runs)\n");
	} else if (!strcmp(v->state, "up")) {
		printf("sync:         up, %s, for %.0f s; %llu hits pushed, %llu clients limited by the fleet, %llu events lost\n",
		       s->redis, v->for_s, (unsigned long long)s->pushed,
		       (unsigned long long)s->limited,
		       (unsigned long long)s->lost);
	} else if (!strcmp(v->state, "down")) {
		printf("sync:         REDIS UNREACHABLE for %.0f s (%s): local limits only, retrying %s\n",
		       v->for_s, s->error, s->redis);
	} else if (!strcmp(v->state, "connecting")) {
		printf("sync:         connecting to %s\n", s->redis);
	} else {
		printf("sync:         stale: 'xlimit sync' (pid %lld) stopped without saying so; local limits only\n",
		       (long long)s->pid);
	}
}
