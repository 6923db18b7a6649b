// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit load`, `attach`, `detach` and `unload`: the commands around the
 * loader in user/lib/attach.c.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "cli.h"

static int parse_max_sources(const char *s, __u32 *v)
{
	unsigned long n;

	if (xl_parse_num(s, 1, 1UL << 26, &n)) {
		xl_err("--max-sources '%s': expected a number of clients from 1 to %lu",
		       s, 1UL << 26);
		return -1;
	}
	*v = n;
	return 0;
}

/* --max-sources and --pin-group, of attach and load */
#define XL_OPT_MAX_SOURCES                                                      \
	{                                                                       \
		"max-sources", 's', "N",                                        \
			"clients tracked at once (LRU; default 262144); only\n" \
			"when the maps are created"                             \
	}
#define XL_OPT_PIN_GROUP                                                       \
	{                                                                      \
		"pin-group", 'g', "GROUP",                                     \
			"let GROUP's members (xlimit-sidecar's user) open\n"   \
			"what the sidecar needs, with no capability; 'none'\n" \
			"makes the pins root's only again"                     \
	}

/* What attach and load are told about the maps they may create. */
struct load_opts {
	__u32 max_sources; /* 0: the default */
	bool group; /* --pin-group given */
	gid_t gid; /* ... as this group, or XL_NO_GROUP */
};

/* Option c of attach or load, if it is one of theirs ('s', 'g'): 0, or
 * -1 after saying what is wrong. */
static int load_opt(const char *cmd, int c, struct load_opts *o)
{
	if (c == 's')
		return parse_max_sources(optarg, &o->max_sources);
	if (c != 'g')
		return 0;
	if (!xl_group_gid(optarg, &o->gid)) {
		xl_err("%s: --pin-group '%s': no such group; create it (groupadd --system %s) or name another",
		       cmd, optarg, optarg);
		return -1;
	}
	o->group = true;
	return 0;
}

/* Loads (or opens what is loaded) and gives the pins the group asked
 * for, if one was. 0 or -errno, with the message in xl_cli. */
static int load(const struct load_opts *o, struct xl_progs *p,
		struct xl_stage *stage)
{
	int err = xl_load(&xl_cli, o->max_sources, p, stage);

	return !err && o->group ? xl_pins_set_group(&xl_cli, o->gid) : err;
}

static const struct xl_opt attach_opts[] = {
	{ "mode", 'm', "MODE",
	  "native XDP (driver), generic XDP (skb), or tc clsact\n"
	  "ingress; auto (default) tries native, then tc" },
	XL_OPT_MAX_SOURCES,
	XL_OPT_PIN_GROUP,
	{}
};
static const struct xl_usage attach_usage = {
	.synopsis =
		"xlimit attach IFACE [--mode auto|native|generic|tc] [--max-sources N]\n"
		"                    [--pin-group GROUP]",
	.opts = attach_opts,
};

int cmd_attach(int argc, char **argv)
{
	enum xl_mode mode = XL_MODE_AUTO;
	struct xl_progs p = { -1, -1, -1 };
	struct xl_stage stage = {};
	struct xl_attachment cur;
	struct load_opts lo = {};
	const char *ifname;
	int c, ifindex, lock, err, i;

	optind = 0;
	while ((c = xl_getopt(argc, argv, &attach_usage)) >= 0) {
		switch (c) {
		case 'm':
			for (i = 0; i < 4; i++)
				if (!strcmp(optarg, xl_mode_names[i]))
					break;
			if (i == 4) {
				xl_err("attach: unknown mode '%s'; expected auto, native, generic or tc",
				       optarg);
				return XL_EXIT_USAGE;
			}
			mode = i;
			break;
		default:
			if (load_opt("attach", c, &lo))
				return XL_EXIT_USAGE;
		}
	}
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (argc - optind != 1) {
		xl_err("attach: expected one interface name");
		xl_usage(&attach_usage, stderr);
		return XL_EXIT_USAGE;
	}
	ifname = argv[optind];
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		xl_err("attach: no interface named '%s' (see 'ip link')",
		       ifname);
		return XL_EXIT_USAGE;
	}

	lock = xl_cli_lock("attach", true);
	if (lock < 0)
		return -lock;
	err = load(&lo, &p, &stage);
	if (err) {
		err = xl_cli_fail("attach");
		goto out;
	}
	if (xl_find_attachment(&xl_cli, ifname, &cur)) {
		if (mode == XL_MODE_AUTO || mode == cur.mode) {
			printf("%s: already attached (%s)\n", ifname,
			       xl_mode_names[cur.mode]);
			err = XL_EXIT_OK;
		} else {
			xl_err("attach %s: already attached in %s mode; run 'xlimit detach %s' first",
			       ifname, xl_mode_names[cur.mode], ifname);
			err = XL_EXIT_FAIL;
		}
		goto out;
	}
	err = xl_cli_attach("attach", ifname, ifindex, &p, &mode);
	if (err) {
		err = XL_EXIT_FAIL;
		goto out;
	}
	err = xl_stage_commit(&xl_cli, &stage);
	if (err) { /* what is staged detaches with it, but a tc filter */
		err = xl_cli_fail("attach");
		xl_cli_detach_all();
	} else
		printf("%s: attached (%s)\n", ifname, xl_mode_names[mode]);
out:
	if (err)
		xl_cli_abort("attach", &stage);
	xl_progs_close(&p);
	xl_unlock(lock);
	return err;
}

static const struct xl_opt load_opts[] = { XL_OPT_MAX_SOURCES,
					   XL_OPT_PIN_GROUP,
					   {} };
static const struct xl_usage load_usage = {
	.synopsis = "xlimit load [--max-sources N] [--pin-group GROUP]",
	.about =
		"Loads and pins the maps and programs without attaching them, so\n"
		"that limits and lists can be set before traffic is seen.",
	.opts = load_opts,
};

int cmd_load(int argc, char **argv)
{
	struct xl_progs p = { -1, -1, -1 };
	struct xl_stage stage = {};
	struct load_opts lo = {};
	int c, lock, err;

	optind = 0;
	while ((c = xl_getopt(argc, argv, &load_usage)) >= 0)
		if (load_opt("load", c, &lo))
			return XL_EXIT_USAGE;
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (optind != argc) {
		xl_err("load: unexpected argument '%s'", argv[optind]);
		return XL_EXIT_USAGE;
	}
	lock = xl_cli_lock("load", true);
	if (lock < 0)
		return -lock;
	err = load(&lo, &p, &stage);
	if (!err)
		err = xl_stage_commit(&xl_cli, &stage);
	if (err) {
		err = xl_cli_fail("load");
		xl_cli_abort("load", &stage);
	}
	xl_progs_close(&p);
	xl_unlock(lock);
	return err;
}

static const struct xl_opt detach_opts[] = { { "all", 'a', NULL,
					       "detach from every interface" },
					     {} };
static const struct xl_usage detach_usage = {
	.synopsis = "xlimit detach IFACE... | --all",
	.opts = detach_opts,
};

int cmd_detach(int argc, char **argv)
{
	struct xl_attachment a[XL_MAX_IFACES];
	bool all = false;
	int c, i, n, lock, err = 0;

	optind = 0;
	while ((c = xl_getopt(argc, argv, &detach_usage)) >= 0) {
		switch (c) {
		case 'a':
			all = true;
			break;
		}
	}
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (all == (optind < argc) || argc - optind > XL_MAX_IFACES) {
		xl_err("detach: expected interface names or --all");
		xl_usage(&detach_usage, stderr);
		return XL_EXIT_USAGE;
	}
	if (access(xl_cli.pin_dir, F_OK)) { /* not loaded: none attached */
		for (i = optind; i < argc; i++) {
			if (!if_nametoindex(argv[i])) {
				xl_err("detach: no interface named '%s' (see 'ip link')",
				       argv[i]);
				return XL_EXIT_USAGE;
			}
		}
		for (i = optind; i < argc; i++)
			printf("%s: not attached\n", argv[i]);
		return XL_EXIT_OK;
	}
	lock = xl_cli_lock("detach", false);
	if (lock < 0)
		return -lock;
	if (all) {
		err = xl_cli_detach_all() ? XL_EXIT_FAIL : XL_EXIT_OK;
		goto out;
	}
	/* Check every name before detaching any. */
	for (i = optind, n = 0; i < argc; i++, n++) {
		if (xl_find_attachment(&xl_cli, argv[i], &a[n]))
			continue;
		if (!if_nametoindex(argv[i])) {
			xl_err("detach: no interface named '%s' (see 'ip link')",
			       argv[i]);
			err = XL_EXIT_USAGE;
			goto out;
		}
		a[n].name[0] = '\0'; /* exists, not attached */
	}
	for (i = 0; i < n; i++) {
		if (!a[i].name[0]) {
			printf("%s: not attached\n", argv[optind + i]);
			continue;
		}
		if (xl_cli_detach(&a[i]))
			err = XL_EXIT_FAIL;
		else
			printf("%s: detached\n", a[i].name);
	}
out:
	xl_unlock(lock);
	return err;
}

int xl_cli_unload(const char *cmd)
{
	int err = XL_EXIT_OK;

	/* Maps and programs go only once nothing runs them: else xlimit
	 * stays loaded as it was, less what did detach. */
	if (xl_cli_detach_all()) {
		xl_err("%s: left %s in place with the maps and programs (see above for what stays attached); run 'xlimit %s' again once that is fixed",
		       cmd, xl_cli.pin_dir, cmd);
		return XL_EXIT_FAIL;
	}
	if (xl_remove_pins(&xl_cli, xl_cli.pin_dir, false))
		err = xl_cli_fail(cmd);
	/* Only if empty: anything else in it is not ours to remove. Under
	 * the lock, so that a load waiting for it makes a whole new one. */
	if (rmdir(xl_cli.pin_dir) && errno != ENOENT) {
		xl_err("%s: %s is not empty; left in place: %s", cmd,
		       xl_cli.pin_dir, strerror(errno));
		err = XL_EXIT_FAIL;
	}
	return err;
}

static const struct xl_usage unload_usage = {
	.synopsis = "xlimit unload",
	.about = "Detaches xlimit everywhere and removes every pin it made.",
};

int cmd_unload(int argc, char **argv)
{
	int c, lock, err = XL_EXIT_OK;

	optind = 0;
	c = xl_getopt(argc, argv, &unload_usage);
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (optind < argc) {
		xl_err("unload: unexpected argument '%s'", argv[optind]);
		return XL_EXIT_USAGE;
	}
	if (access(xl_cli.pin_dir, F_OK))
		return XL_EXIT_OK; /* nothing loaded */
	lock = xl_cli_lock("unload", true);
	if (lock < 0)
		return -lock;
	err = xl_cli_unload("unload");
	xl_unlock(lock);
	return err;
}
