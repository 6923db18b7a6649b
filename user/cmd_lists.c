// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The allow and deny lists (`xlimit allow|deny add|del|list CIDR...`).
 * Every CIDR on the command line is checked before the first is written,
 * and a failure part way through takes back what was written: a list is
 * changed whole or not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "cli.h"

struct list_def {
	const char *name; /* "allow" */
	enum xl_map_id map;
	struct xl_usage usage;
};

static const struct xl_opt list_opts[] = { XL_OPT_JSON, {} };

#define XL_LIST_CIDR                                                \
	"CIDR: an IPv4 or IPv6 address, with an optional /prefix\n" \
	"(198.18.0.0/15, 2001:2::/48)."

static const struct list_def lists[] = {
	{ "allow",
	  XL_M_ALLOW,
	  { .synopsis = "xlimit allow add CIDR...\n"
			"xlimit allow del CIDR...\n"
			"xlimit allow list [--json]",
	    .about =
		    "Sources in the allow list are never limited, never counted.\n" XL_LIST_CIDR,
	    .opts = list_opts } },
	{ "deny",
	  XL_M_DENY,
	  { .synopsis = "xlimit deny add CIDR...\n"
			"xlimit deny del CIDR...\n"
			"xlimit deny list [--json]",
	    .about =
		    "New connections from sources in the deny list are always\n"
		    "dropped, on every port. " XL_LIST_CIDR,
	    .opts = list_opts } },
};

/* Parses every CIDR of argv[2..]; returns the count, or -1 (printed). */
static int parse_cidrs(const struct list_def *l, const char *op, int argc,
		       char **argv, struct xl_lpm_key **keys)
{
	char err[160];
	int i, n = argc - 2;

	if (n < 1) {
		xl_err("%s %s: expected at least one address or CIDR", l->name,
		       op);
		return -1;
	}
	*keys = calloc(n, sizeof(**keys));
	if (!*keys) {
		xl_err("%s %s: out of memory", l->name, op);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (xl_parse_cidr(argv[i + 2], &(*keys)[i], err, sizeof(err))) {
			xl_err("%s %s: %s", l->name, op, err);
			free(*keys);
			return -1;
		}
	}
	return n;
}

/* Whether two keys are the same entry of a trie: the same prefix length
 * and the same bits up to it. */
static bool same_prefix(const struct xl_lpm_key *a, const struct xl_lpm_key *b)
{
	return a->prefixlen == b->prefixlen && xl_addr_in_prefix(a->addr, b);
}

/* Marks the keys the list holds as entries of their own. A lookup would
 * not tell: the trie answers it with any prefix that covers the key. */
static void mark_listed(int fd, const struct xl_lpm_key *keys, int n,
			bool *listed)
{
	struct xl_lpm_key k, prev;
	int i;

	if (bpf_map_get_next_key(fd, NULL, &k))
		return;
	do {
		for (i = 0; i < n; i++)
			if (same_prefix(&k, &keys[i]))
				listed[i] = true;
		prev = k;
	} while (!bpf_map_get_next_key(fd, &prev, &k));
}

/* Whether keys[i] was given before on the command line. */
static bool given_before(const struct xl_lpm_key *keys, int i)
{
	int j;

	for (j = 0; j < i; j++)
		if (same_prefix(&keys[j], &keys[i]))
			return true;
	return false;
}

static int list_change(const struct list_def *l, int argc, char **argv,
		       bool add)
{
	const char *op = add ? "add" : "del";
	struct xl_lpm_key *keys;
	bool *done = NULL, *listed;
	const struct xl_maps *m = &xl_cli.maps;
	int n, i, lock, err, fd;
	char text[64];
	__u32 one = 1;

	n = parse_cidrs(l, op, argc, argv, &keys);
	if (n < 0)
		return XL_EXIT_USAGE;
	lock = xl_cli_lock(l->name, false);
	if (lock < 0) {
		free(keys);
		return -lock;
	}
	err = xl_cli_open(l->name);
	if (err)
		goto out_unlock;
	fd = m->fd[l->map];
	done = calloc(2 * n, sizeof(*done));
	if (!done) {
		err = XL_EXIT_FAIL;
		goto out;
	}
	listed = done + n;
	mark_listed(fd, keys, n, listed);
	/* Deleting what is not there is an error, found before any change. */
	for (i = 0; !add && i < n; i++) {
		if (!listed[i]) {
			xl_format_cidr(&keys[i], text, sizeof(text));
			xl_err("%s del: %s is not in the %s list (see 'xlimit %s list')",
			       l->name, text, l->name, l->name);
			err = XL_EXIT_USAGE;
			goto out;
		}
	}
	/* The datapath must look the list up before it holds the entry. */
	if (add && xl_config_lists_unsure(m)) {
		xl_err("%s add: write %s: %s", l->name, XL_STR(XL_MAP_CONFIG),
		       strerror(errno));
		err = XL_EXIT_FAIL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		/* An entry already present is left as it is (and not taken
		 * back on failure: it was there before); one given twice is
		 * changed once. */
		if ((add && listed[i]) || given_before(keys, i))
			continue;
		if (add ? bpf_map_update_elem(fd, &keys[i], &one, BPF_NOEXIST) :
			  bpf_map_delete_elem(fd, &keys[i])) {
			xl_format_cidr(&keys[i], text, sizeof(text));
			xl_err("%s %s %s: %s%s", l->name, op, text,
			       strerror(errno),
			       errno == ENOSPC ? " (the list is full)" : "");
			err = XL_EXIT_FAIL;
			break;
		}
		done[i] = true;
	}
	if (err) { /* take back what this command changed */
		for (i = 0; i < n; i++) {
			if (!done[i])
				continue;
			if (add)
				bpf_map_delete_elem(fd, &keys[i]);
			else
				bpf_map_update_elem(fd, &keys[i], &one,
						    BPF_NOEXIST);
		}
	}
	/* Skip only what is empty now; forget verdicts of the old lists. */
	i = xl_config_resync(m);
	if (i && !err) {
		xl_err("%s %s: write %s: %s", l->name, op,
		       XL_STR(XL_MAP_CONFIG), strerror(-i));
		err = XL_EXIT_FAIL;
	}
out:
	free(done);
	xl_maps_close(&xl_cli);
out_unlock:
	xl_unlock(lock);
	free(keys);
	return err;
}

static int list_show(const struct list_def *l, int argc, char **argv)
{
	struct xl_lpm_key *keys = NULL;
	struct json_object *arr;
	bool json = argc == 3 && !strcmp(argv[2], "--json");
	size_t i, n = 0;
	const struct xl_maps *m = &xl_cli.maps;
	char text[64];
	int err;

	if (argc > 3 || (argc == 3 && !json)) {
		xl_err("%s list: unexpected argument '%s'; usage: xlimit %s list [--json]",
		       l->name, argv[argc - 1], l->name);
		return XL_EXIT_USAGE;
	}
	err = xl_cli_open(l->name);
	if (err)
		return err;
	err = xl_list_read(m->fd[l->map], &keys, &n);
	xl_maps_close(&xl_cli);
	if (err) {
		xl_err("%s list: %s", l->name, strerror(-err));
		return XL_EXIT_FAIL;
	}
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		xl_format_cidr(&keys[i], text, sizeof(text));
		if (json)
			json_object_array_add(arr,
					      json_object_new_string(text));
		else
			puts(text);
	}
	free(keys);
	if (json)
		xl_json_print(arr);
	else
		json_object_put(arr);
	return XL_EXIT_OK;
}

static int list_cmd(const struct list_def *l, int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";

	if (xl_wants_help(argc, argv)) {
		xl_usage(&l->usage, stdout);
		return XL_EXIT_OK;
	}
	if (!strcmp(op, "add") || !strcmp(op, "del"))
		return list_change(l, argc, argv, !strcmp(op, "add"));
	if (!strcmp(op, "list"))
		return list_show(l, argc, argv);
	if (!strcmp(op, "help") || !strcmp(op, "--help")) {
		xl_usage(&l->usage, stdout);
		return XL_EXIT_OK;
	}
	if (*op)
		xl_err("%s: unknown command '%s'; expected add, del or list",
		       l->name, op);
	else
		xl_err("%s: expected a command: add, del or list", l->name);
	xl_usage(&l->usage, stderr);
	return XL_EXIT_USAGE;
}

int cmd_allow(int argc, char **argv)
{
	return list_cmd(&lists[0], argc, argv);
}

int cmd_deny(int argc, char **argv)
{
	return list_cmd(&lists[1], argc, argv);
}
