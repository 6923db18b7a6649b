// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlimit: the command line of the xlimit rate limiter. main() takes the
 * global options and dispatches to a command from the table below; each
 * command lives in one of the cmd_*.c files.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "cli.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !xl_cli.verbose)
		return 0;
	if (!xl_cli.verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static const struct xl_cmd commands[] = {
	{ "attach", cmd_attach,
	  "attach IFACE [--mode auto|native|generic|tc] [--max-sources N]" },
	{ "detach", cmd_detach, "detach IFACE... | --all" },
	{ "load", cmd_load,
	  "load [--max-sources N]   (maps and programs, no interface)" },
	{ "unload", cmd_unload,
	  "unload                   (detach everywhere, remove every pin)" },
	{ "status", cmd_status, "status [--json]" },
	{ "limit", cmd_limit,
	  "limit set|add|del|list ...   (per-port limits)" },
	{ "route", cmd_route,
	  "route add|del|list ...   (per-endpoint limits, for the sidecar)" },
	{ "allow", cmd_allow, "allow add|del|list CIDR...   (never limited)" },
	{ "deny", cmd_deny, "deny add|del|list CIDR...    (always dropped)" },
	{ "config", cmd_config, "config set|show ...   (ipv6-prefix N)" },
	{ "stats", cmd_stats, "stats [--json] [--watch SECONDS]" },
	{ "query", cmd_query, "query ADDRESS [PORT] [--json]" },
	{ "top", cmd_top,
	  "top [-n N] [--port PORT] [--ports | --routes] [--json]" },
	{ "apply", cmd_apply,
	  "apply FILE [--check]   (make xlimit what FILE says)" },
	{ "dump", cmd_dump,
	  "dump [--json]   (the live configuration, as FILE)" },
	{ "upgrade", cmd_upgrade,
	  "upgrade   (reload this version, keeping the configuration)" },
	{ "sync", cmd_sync,
	  "sync --redis URL [--interval 100ms]   (limits across a fleet)" },
	{ "parse", cmd_parse,
	  "parse LIMITS [--json]   (validate a limit string)" },
	{}
};

static const struct xl_opt main_opts[] = {
	{ "verbose", 'v', NULL,
	  "libbpf's messages, with the verifier's log when a load fails" },
	{ "pin-dir", 'p', "DIR",
	  "where the maps and programs are pinned (default\n" XL_PIN_DIR ")" },
	{}
};
static const struct xl_usage main_usage = {
	.synopsis = "xlimit [-v] [--pin-dir DIR] COMMAND [ARGS]",
	.about = "Per-client connection rate limits in the kernel (XDP/tc).",
	.opts = main_opts,
	.shorts = "v",
	.stop_at_operand = true, /* the command's options are its own */
};

/* After the usage: the commands. */
static void commands_list(FILE *f)
{
	const struct xl_cmd *c;

	fprintf(f, "\nCommands:\n");
	for (c = commands; c->name; c++)
		fprintf(f, "  %s\n", c->summary);
	fprintf(f, "\nEvery command takes --help. See xlimit(8).\n");
}

static void usage(FILE *f)
{
	xl_usage(&main_usage, f);
	commands_list(f);
}

int main(int argc, char **argv)
{
	int c;

	xl_ctx_init(&xl_cli, NULL);
	while ((c = xl_getopt(argc, argv, &main_usage)) >= 0) {
		switch (c) {
		case 'v':
			xl_cli.verbose = true;
			break;
		case 'p':
			if (optarg[0] != '/') {
				xl_err("--pin-dir '%s': expected an absolute path under a bpf filesystem",
				       optarg);
				return XL_EXIT_USAGE;
			}
			if (strlen(optarg) >= sizeof(xl_cli.pin_dir)) {
				xl_err("--pin-dir '%s' is too long", optarg);
				return XL_EXIT_USAGE;
			}
			strcpy(xl_cli.pin_dir, optarg);
			break;
		}
	}
	if (c != XL_OPT_END) {
		commands_list(c == XL_OPT_HELP ? stdout : stderr);
		return xl_opt_exit(c);
	}
	libbpf_set_print(libbpf_print);
	if (xl_pin_dir_resolve(&xl_cli) && xl_cli.verbose)
		xl_err("this mount namespace has its own /sys (as under 'ip netns exec'): pinning in the one of process %d, as %s",
		       xl_cli.anchor, xl_cli.pin_dir);
	if (optind >= argc) {
		usage(stderr);
		return XL_EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return XL_EXIT_OK;
	}
	return xl_dispatch("", commands, argc - optind, argv + optind);
}
