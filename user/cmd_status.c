// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit status`: where xlimit is attached, its rules, lists, clients and
 * the sync daemon, in text or JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "attach.h"
#include "cli.h"

static __u32 count_keys(int fd, size_t key_size)
{
	char prev[64], next[64];
	__u32 n = 0;

	if (key_size > sizeof(prev))
		return 0;
	if (bpf_map_get_next_key(fd, NULL, next))
		return 0;
	do {
		n++;
		memcpy(prev, next, key_size);
	} while (!bpf_map_get_next_key(fd, prev, next));
	return n;
}

static __u32 map_capacity(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.max_entries;
}

/* What the datapath did with clients and with frames it could not read,
 * over every rule: clients created, restored from xl_over, and created
 * but no longer tracked (evicted by the LRU, or cleared with their rule);
 * frames dropped for too-short first fragments and too-deep headers. */
struct xl_totals {
	__u64 created, restored, forgotten, frag_dropped, deep_dropped;
};

static int status_totals(const struct xl_maps *m, __u32 tracked,
			 struct xl_totals *t)
{
	static struct xl_stat_row rows[XL_MAX_RULES];
	struct xl_stats g;
	int n, i, err;

	memset(t, 0, sizeof(*t));
	n = xl_stat_rows(m->fd[XL_M_RULES], m->fd[XL_M_STATS], rows);
	if (n < 0)
		return n;
	err = xl_stats_read(m->fd[XL_M_STATS], XL_SLOT_GLOBAL, &g);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		t->created += rows[i].s.c[XL_STAT_NEW];
		t->restored += rows[i].s.c[XL_STAT_RESTORED];
		t->frag_dropped += rows[i].s.c[XL_STAT_FRAG_DROPPED];
	}
	t->frag_dropped += g.c[XL_STAT_FRAG_DROPPED];
	t->deep_dropped = g.c[XL_STAT_DEEP_DROPPED];
	t->forgotten = t->created > tracked ? t->created - tracked : 0;
	return 0;
}

/* A list changed behind xlimit's back (bpftool) while the config says it
 * is empty is not looked up by the datapath: say so, and make it look. */
static void lists_repair(const struct xl_maps *m, const struct xl_config *cfg,
			 __u32 nallow, __u32 ndeny)
{
	bool allow = nallow && (cfg->flags & XL_CFG_NO_ALLOW);
	bool deny = ndeny && (cfg->flags & XL_CFG_NO_DENY);
	int lock, err;

	if (!allow && !deny)
		return;
	lock = xl_cli_lock("status", false);
	if (lock < 0)
		return;
	err = xl_config_resync(m->fd[XL_M_CONFIG], m->fd[XL_M_ALLOW],
			       m->fd[XL_M_DENY]);
	xl_unlock(lock);
	xl_err("status: the %s%s%s list%s changed outside xlimit: %s",
	       allow ? "allow" : "", allow && deny ? " and " : "",
	       deny ? "deny" : "", allow && deny ? "s were" : " was",
	       err ? "could not make the datapath look it up; run 'xlimit status' again" :
		     "the datapath looks it up again from now on");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct xl_attachment a[XL_MAX_IFACES];
	struct json_object *o, *ifs, *rules, *sync;
	struct xl_progs p = { -1, -1, -1 };
	__u32 zero = 0, nallow, ndeny, tracked, cap, known;
	char path[PATH_MAX];
	struct xl_config cfg = {};
	struct xl_totals t;
	const struct xl_maps *m = &xl_cli.maps;
	bool json = false;
	int c, n, i, err;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			puts("Usage: xlimit status [--json]");
			return XL_EXIT_OK;
		default:
			fputs("Usage: xlimit status [--json]\n", stderr);
			return XL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		xl_err("status: unexpected argument '%s'", argv[optind]);
		return XL_EXIT_USAGE;
	}
	err = xl_cli_open("status");
	if (err)
		return err;
	progs_open(&xl_cli, &p);
	n = list_attachments(&xl_cli, a, XL_MAX_IFACES);
	bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg);
	nallow = count_keys(m->fd[XL_M_ALLOW], sizeof(struct xl_lpm_key));
	ndeny = count_keys(m->fd[XL_M_DENY], sizeof(struct xl_lpm_key));
	lists_repair(m, &cfg, nallow, ndeny);
	tracked = count_keys(m->fd[XL_M_STATE], sizeof(struct xl_key));
	cap = map_capacity(m->fd[XL_M_STATE]);
	known = count_keys(m->fd[XL_M_KNOWN], sizeof(struct xl_key));
	err = status_totals(m, tracked, &t);
	if (err) {
		xl_err("status: read counters: %s", strerror(-err));
		progs_close(&p);
		xl_maps_close(&xl_cli);
		return XL_EXIT_FAIL;
	}

	o = json_object_new_object();
	json_object_object_add(o, "pin_dir",
			       json_object_new_string(xl_cli.pin_dir));
	json_object_object_add(
		o, "prog_id",
		json_object_new_int(p.xdp >= 0 ? get_prog_id(p.xdp) : 0));
	ifs = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "name",
				       json_object_new_string(a[i].name));
		json_object_object_add(e, "ifindex",
				       json_object_new_int(a[i].ifindex));
		json_object_object_add(
			e, "mode", json_object_new_string(mode_label(&a[i])));
		json_object_object_add(e, "here",
				       json_object_new_boolean(a[i].ifindex));
		json_object_object_add(e, "prog_id",
				       json_object_new_int64(a[i].prog_id));
		json_object_array_add(ifs, e);
	}
	json_object_object_add(o, "interfaces", ifs);
	rules = xl_rules_json(m->fd[XL_M_RULES], m->fd[XL_M_TOTAL]);
	json_object_object_add(o, "rules", rules);
	json_object_object_add(o, "allow_count", json_object_new_int64(nallow));
	json_object_object_add(o, "deny_count", json_object_new_int64(ndeny));
	json_object_object_add(o, "tracked", json_object_new_int64(tracked));
	json_object_object_add(o, "max_sources", json_object_new_int64(cap));
	json_object_object_add(o, "known_count", json_object_new_int64(known));
	xl_pin_path(&xl_cli, path, sizeof(path), XL_PIN_SOCKOPS_LINK);
	json_object_object_add(o, "learning_known",
			       json_object_new_boolean(!access(path, F_OK)));
	json_object_object_add(o, "clients_created",
			       json_object_new_uint64(t.created));
	json_object_object_add(o, "clients_forgotten",
			       json_object_new_uint64(t.forgotten));
	json_object_object_add(o, "clients_restored",
			       json_object_new_uint64(t.restored));
	json_object_object_add(o, "frag_dropped",
			       json_object_new_uint64(t.frag_dropped));
	json_object_object_add(o, "deep_dropped",
			       json_object_new_uint64(t.deep_dropped));
	json_object_object_add(
		o, "ipv6_prefix",
		json_object_new_int(cfg.ipv6_prefix ? cfg.ipv6_prefix :
						      XL_IPV6_PREFIX_DEFAULT));
	sync = xl_sync_json(m->fd[XL_M_SYNC]);
	json_object_object_add(o, "sync", sync);

	if (json) {
		xl_json_print(o);
	} else {
		printf("pin dir:      %s\n", xl_cli.pin_dir);
		printf("program id:   %d\n",
		       p.xdp >= 0 ? get_prog_id(p.xdp) : 0);
		printf("interfaces:  ");
		for (i = 0; i < n; i++)
			printf(" %s (%s%s)", a[i].name, mode_label(&a[i]),
			       a[i].ifindex ? "" :
					      ", gone or in another netns");
		printf("%s\n", n ? "" : " none");
		printf("rules:        %zu\n", json_object_array_length(rules));
		for (i = 0; i < (int)json_object_array_length(rules); i++) {
			struct json_object *e =
				json_object_array_get_idx(rules, i);

			printf("  port %-5d ",
			       json_object_get_int(
				       json_object_object_get(e, "port")));
			xl_print_rule_limits(e);
			printf("\n");
		}
		printf("allow list:   %u\ndeny list:    %u\n", nallow, ndeny);
		printf("known:        %u of %u%s\n", known, XL_KNOWN_MAX,
		       access(path, F_OK) ?
			       "" :
			       " (learning from established connections)");
		printf("tracked:      %u of %u\nipv6 prefix:  /%u\n", tracked,
		       cap,
		       cfg.ipv6_prefix ? cfg.ipv6_prefix :
					 XL_IPV6_PREFIX_DEFAULT);
		printf("clients:      %llu created, %llu forgotten (evicted or cleared), %llu restored over a limit\n",
		       (unsigned long long)t.created,
		       (unsigned long long)t.forgotten,
		       (unsigned long long)t.restored);
		printf("dropped:      %llu tiny fragments, %llu too-deep headers\n",
		       (unsigned long long)t.frag_dropped,
		       (unsigned long long)t.deep_dropped);
		xl_sync_print(sync);
		json_object_put(o);
	}
	progs_close(&p);
	xl_maps_close(&xl_cli);
	return XL_EXIT_OK;
}
