// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit config set|show`: the live settings (ipv6-prefix).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "cli.h"

static const struct xl_opt config_opts[] = { { "json", 'j', NULL,
					       "config show: print JSON" },
					     {} };
static const struct xl_usage config_usage = {
	.synopsis = "xlimit config set ipv6-prefix N\n"
		    "xlimit config show [--json]",
	.about =
		"ipv6-prefix  IPv6 sources are counted per /N (1-128, default 64:\n"
		"             one client per /64, as a host gets one; 128 counts\n"
		"             each address)",
	.opts = config_opts,
};

int cmd_config(int argc, char **argv)
{
	struct xl_config cfg = {};
	const struct xl_maps *m = &xl_cli.maps;
	__u32 zero = 0;
	int lock, err;

	if (xl_wants_help(argc, argv)) {
		xl_usage(&config_usage, stdout);
		return XL_EXIT_OK;
	}
	if (argc >= 2 && !strcmp(argv[1], "show")) {
		bool json = argc == 3 && !strcmp(argv[2], "--json");

		if (argc > 3 || (argc == 3 && !json)) {
			xl_err("config show: unexpected argument '%s'",
			       argv[argc - 1]);
			return XL_EXIT_USAGE;
		}
		err = xl_cli_open("config show");
		if (err)
			return err;
		bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg);
		xl_maps_close(&xl_cli);
		if (!cfg.ipv6_prefix)
			cfg.ipv6_prefix = XL_IPV6_PREFIX_DEFAULT;
		if (json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(
				o, "ipv6_prefix",
				json_object_new_int(cfg.ipv6_prefix));
			xl_json_print(o);
		} else {
			printf("ipv6-prefix %u\n", cfg.ipv6_prefix);
		}
		return XL_EXIT_OK;
	}
	if (argc >= 2 && !strcmp(argv[1], "set")) {
		unsigned long v;

		if (argc != 4 || strcmp(argv[2], "ipv6-prefix")) {
			xl_err("config set: expected 'ipv6-prefix N'%s%s%s",
			       argc >= 3 ? "; unknown setting '" : "",
			       argc >= 3 ? argv[2] : "", argc >= 3 ? "'" : "");
			return XL_EXIT_USAGE;
		}
		if (xl_parse_num(argv[3], 1, 128, &v)) {
			xl_err("config set ipv6-prefix: '%s' is not a prefix length from 1 to 128",
			       argv[3]);
			return XL_EXIT_USAGE;
		}
		lock = xl_cli_lock("config set", false);
		if (lock < 0)
			return -lock;
		err = xl_cli_open("config set");
		if (!err) {
			bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg);
			cfg.ipv6_prefix = v;
			if (bpf_map_update_elem(m->fd[XL_M_CONFIG], &zero, &cfg,
						BPF_ANY) ||
			    xl_config_resync(m)) {
				xl_err("config set: %s", strerror(errno));
				err = XL_EXIT_FAIL;
			}
			xl_maps_close(&xl_cli);
		}
		xl_unlock(lock);
		return err;
	}
	if (argc >= 2 &&
	    (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))) {
		xl_usage(&config_usage, stdout);
		return XL_EXIT_OK;
	}
	if (argc >= 2)
		xl_err("config: unknown command '%s'; expected set or show",
		       argv[1]);
	else
		xl_err("config: expected a command: set or show");
	xl_usage(&config_usage, stderr);
	return XL_EXIT_USAGE;
}
