// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit status`: where xlimit is attached, its rules, lists, clients and
 * the sync daemon, in text or JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "attach.h"
#include "cli.h"
#include "route.h"

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
	err = xl_config_resync(m);
	xl_unlock(lock);
	xl_err("status: the %s%s%s list%s changed outside xlimit: %s",
	       allow ? "allow" : "", allow && deny ? " and " : "",
	       deny ? "deny" : "", allow && deny ? "s were" : " was",
	       err ? "could not make the datapath look it up; run 'xlimit status' again" :
		     "the datapath looks it up again from now on");
}

/* Everything `status` shows, read once; rendered by status_json() or
 * status_print(). */
struct xl_status {
	struct xl_attachment a[XL_MAX_IFACES];
	int nifs;
	int prog_id; /* the pinned XDP program's, or 0 */
	struct xl_rule_row *rows;
	int nrules;
	__u32 nallow, ndeny, tracked, max_sources, known;
	bool learning; /* the sockops program is attached */
	__u32 ipv6_prefix;
	char pin_group[64]; /* "none" when the pins are root's only */
	struct xl_totals t;
	struct xl_sync_view sync;
	int nroutes;
	struct xl_rstats route_sum; /* over every route */
};

/* The number of routes and their counters summed into st. */
static int status_routes(const struct xl_maps *m, struct xl_status *st)
{
	struct xl_route_row *rows;
	struct xl_rstats *rs;
	int n, i, j;

	memset(&st->route_sum, 0, sizeof(st->route_sum));
	n = xl_route_stat_rows_new(m->fd[XL_M_ROUTES], m->fd[XL_M_RSTATS],
				   &rows, &rs);
	for (i = 0; i < n; i++)
		for (j = 0; j < XL_RSTAT_NR; j++)
			st->route_sum.c[j] += rs[i].c[j];
	st->nroutes = n;
	free(rows);
	free(rs);
	return n < 0 ? n : 0;
}

static void status_json(const struct xl_status *st)
{
	struct json_object *o = json_object_new_object(), *ifs, *rr;
	const struct xl_totals *t = &st->t;
	int i;

	json_object_object_add(o, "pin_dir",
			       json_object_new_string(xl_cli.pin_dir));
	json_object_object_add(o, "pin_group",
			       json_object_new_string(st->pin_group));
	json_object_object_add(o, "prog_id", json_object_new_int(st->prog_id));
	ifs = json_object_new_array();
	for (i = 0; i < st->nifs; i++) {
		const struct xl_attachment *a = &st->a[i];
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "name",
				       json_object_new_string(a->name));
		json_object_object_add(e, "ifindex",
				       json_object_new_int(a->ifindex));
		json_object_object_add(
			e, "mode", json_object_new_string(xl_mode_label(a)));
		json_object_object_add(e, "here",
				       json_object_new_boolean(a->ifindex));
		json_object_object_add(e, "prog_id",
				       json_object_new_int64(a->prog_id));
		json_object_array_add(ifs, e);
	}
	json_object_object_add(o, "interfaces", ifs);
	json_object_object_add(o, "rules", xl_rules_json(st->rows, st->nrules));
	json_object_object_add(o, "allow_count",
			       json_object_new_int64(st->nallow));
	json_object_object_add(o, "deny_count",
			       json_object_new_int64(st->ndeny));
	json_object_object_add(o, "tracked",
			       json_object_new_int64(st->tracked));
	json_object_object_add(o, "max_sources",
			       json_object_new_int64(st->max_sources));
	json_object_object_add(o, "known_count",
			       json_object_new_int64(st->known));
	json_object_object_add(o, "learning_known",
			       json_object_new_boolean(st->learning));
	json_object_object_add(o, "clients_created",
			       json_object_new_uint64(t->created));
	json_object_object_add(o, "clients_forgotten",
			       json_object_new_uint64(t->forgotten));
	json_object_object_add(o, "clients_restored",
			       json_object_new_uint64(t->restored));
	json_object_object_add(o, "frag_dropped",
			       json_object_new_uint64(t->frag_dropped));
	json_object_object_add(o, "deep_dropped",
			       json_object_new_uint64(t->deep_dropped));
	json_object_object_add(o, "route_count",
			       json_object_new_int(st->nroutes));
	rr = json_object_new_object();
	for (i = 0; i < XL_RSTAT_NR; i++)
		json_object_object_add(
			rr, xl_rstat_names[i],
			json_object_new_uint64(st->route_sum.c[i]));
	json_object_object_add(o, "route_requests", rr);
	json_object_object_add(o, "ipv6_prefix",
			       json_object_new_int(st->ipv6_prefix));
	json_object_object_add(o, "sync", xl_sync_json(&st->sync));
	xl_json_print(o);
}

static void status_print(const struct xl_status *st)
{
	const struct xl_totals *t = &st->t;
	int i;

	printf("pin dir:      %s (group %s)\n", xl_cli.pin_dir, st->pin_group);
	printf("program id:   %d\n", st->prog_id);
	printf("interfaces:  ");
	for (i = 0; i < st->nifs; i++)
		printf(" %s (%s%s)", st->a[i].name, xl_mode_label(&st->a[i]),
		       st->a[i].ifindex ? "" : ", gone or in another netns");
	printf("%s\n", st->nifs ? "" : " none");
	printf("rules:        %d\n", st->nrules);
	for (i = 0; i < st->nrules; i++) {
		printf("  port %-5d ", st->rows[i].port);
		xl_rule_print(&st->rows[i]);
		printf("\n");
	}
	printf("routes:       %d (requests: %llu %s, %llu %s, %llu %s)\n",
	       st->nroutes,
	       (unsigned long long)st->route_sum.c[XL_RSTAT_PASSED],
	       xl_rstat_names[XL_RSTAT_PASSED],
	       (unsigned long long)st->route_sum.c[XL_RSTAT_LIMITED],
	       xl_rstat_names[XL_RSTAT_LIMITED],
	       (unsigned long long)st->route_sum.c[XL_RSTAT_EXEMPTED],
	       xl_rstat_names[XL_RSTAT_EXEMPTED]);
	printf("allow list:   %u\ndeny list:    %u\n", st->nallow, st->ndeny);
	printf("known:        %u of %u%s\n", st->known, XL_KNOWN_MAX,
	       st->learning ? " (learning from established connections)" : "");
	printf("tracked:      %u of %u\nipv6 prefix:  /%u\n", st->tracked,
	       st->max_sources, st->ipv6_prefix);
	printf("clients:      %llu created, %llu forgotten (evicted or cleared), %llu restored over a limit\n",
	       (unsigned long long)t->created, (unsigned long long)t->forgotten,
	       (unsigned long long)t->restored);
	printf("dropped:      %llu tiny fragments, %llu too-deep headers\n",
	       (unsigned long long)t->frag_dropped,
	       (unsigned long long)t->deep_dropped);
	xl_sync_print(&st->sync);
}

static const struct xl_opt status_opts[] = { XL_OPT_JSON, {} };
static const struct xl_usage status_usage = {
	.synopsis = "xlimit status [--json]",
	.opts = status_opts,
};

int cmd_status(int argc, char **argv)
{
	static struct xl_status st;
	const struct xl_maps *m = &xl_cli.maps;
	struct xl_progs p = { -1, -1, -1 };
	struct xl_config cfg = {};
	char path[PATH_MAX];
	bool json = false;
	__u32 zero = 0;
	gid_t gid;
	int c, err;

	c = xl_getopt_json(argc, argv, &status_usage, &json);
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (optind != argc) {
		xl_err("status: unexpected argument '%s'", argv[optind]);
		return XL_EXIT_USAGE;
	}
	err = xl_cli_open("status");
	if (err)
		return err;
	xl_progs_open(&xl_cli, &p);
	st.prog_id = p.xdp >= 0 ? xl_get_prog_id(p.xdp) : 0;
	xl_progs_close(&p);
	st.nifs = xl_list_attachments(&xl_cli, st.a, XL_MAX_IFACES);
	if (xl_pins_get_group(&xl_cli, &gid))
		gid = XL_NO_GROUP;
	xl_group_name(gid, st.pin_group, sizeof(st.pin_group));
	bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg);
	st.ipv6_prefix = cfg.ipv6_prefix ? cfg.ipv6_prefix :
					   XL_IPV6_PREFIX_DEFAULT;
	st.nallow = count_keys(m->fd[XL_M_ALLOW], sizeof(struct xl_lpm_key));
	st.ndeny = count_keys(m->fd[XL_M_DENY], sizeof(struct xl_lpm_key));
	lists_repair(m, &cfg, st.nallow, st.ndeny);
	st.tracked = count_keys(m->fd[XL_M_STATE], sizeof(struct xl_key));
	st.max_sources = map_capacity(m->fd[XL_M_STATE]);
	st.known = count_keys(m->fd[XL_M_KNOWN], sizeof(struct xl_key));
	xl_pin_path(&xl_cli, path, sizeof(path), XL_PIN_SOCKOPS_LINK);
	st.learning = !access(path, F_OK);
	xl_sync_read(m->fd[XL_M_SYNC], &st.sync);
	st.nrules = xl_cli_rules(&st.rows);
	err = st.nrules < 0 ? st.nrules : status_totals(m, st.tracked, &st.t);
	if (!err)
		err = status_routes(m, &st);
	xl_maps_close(&xl_cli);
	if (err) {
		xl_err("status: read counters: %s", strerror(-err));
		free(st.rows);
		return XL_EXIT_FAIL;
	}
	if (json)
		status_json(&st);
	else
		status_print(&st);
	free(st.rows);
	return XL_EXIT_OK;
}
