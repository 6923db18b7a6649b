// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Table-driven options and usage text (opt.h).
 */
#include <getopt.h>
#include <string.h>

#include "opt.h"

#define XL_OPT_MAX 32

/* The table as getopt_long wants it, --help added. Returns the count. */
static int long_opts(const struct xl_usage *u, struct option *lo)
{
	int n = 0;

	for (; u->opts && u->opts[n].name && n < XL_OPT_MAX; n++)
		lo[n] = (struct option){ u->opts[n].name,
					 u->opts[n].arg ? required_argument :
							  no_argument,
					 NULL, u->opts[n].key };
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n + 1] = (struct option){};
	return n;
}

int xl_getopt(int argc, char **argv, const struct xl_usage *u)
{
	struct option lo[XL_OPT_MAX + 2];
	char shorts[32];
	int c;

	long_opts(u, lo);
	snprintf(shorts, sizeof(shorts), "%s%sh%s",
		 u->operands_in_order ? "-" : "", u->stop_at_operand ? "+" : "",
		 u->shorts ? u->shorts : "");
	c = getopt_long(argc, argv, shorts, lo, NULL);
	if (c == -1)
		return XL_OPT_END;
	if (c == 'h') {
		xl_usage(u, stdout);
		return XL_OPT_HELP;
	}
	if (c == '?' || c == ':') {
		xl_usage(u, stderr);
		return XL_OPT_BAD;
	}
	return c;
}

int xl_usage_bad(const struct xl_usage *u)
{
	xl_usage(u, stderr);
	return 2;
}

int xl_getopt_json(int argc, char **argv, const struct xl_usage *u, bool *json)
{
	int c;

	optind = 0;
	while ((c = xl_getopt(argc, argv, u)) >= 0)
		if (c == 'j')
			*json = true;
	return c;
}

int xl_opt_exit(int c)
{
	return c == XL_OPT_HELP ? 0 : 2;
}

/* Prints text's lines, each after `indent` blanks. */
static void lines(FILE *f, int indent, const char *text)
{
	const char *nl;

	while (text && *text) {
		nl = strchr(text, '\n');
		fprintf(f, "%*s%.*s\n", indent, "",
			(int)(nl ? nl - text : (long)strlen(text)), text);
		text = nl ? nl + 1 : NULL;
	}
}

/* Whether option o has a short form too (a letter in u->shorts). */
static bool has_short(const struct xl_usage *u, const struct xl_opt *o)
{
	return o->key > ' ' && o->key < 127 && o->key != ':' && u->shorts &&
	       strchr(u->shorts, o->key);
}

/* The width of "-k, --name ARG" in the usage. */
static int opt_width(const struct xl_usage *u, const struct xl_opt *o)
{
	return (has_short(u, o) ? 4 : 0) + 2 + strlen(o->name) +
	       (o->arg ? 1 + strlen(o->arg) : 0);
}

void xl_usage(const struct xl_usage *u, FILE *f)
{
	const char *syn = u->synopsis, *nl;
	const struct xl_opt *o;
	int width = 0, w;

	/* "Usage: " on the first line, its width of blanks on the others */
	for (w = 0; syn && *syn; w = 7) {
		nl = strchr(syn, '\n');
		fprintf(f, "%s%.*s\n", w ? "       " : "Usage: ",
			(int)(nl ? nl - syn : (long)strlen(syn)), syn);
		syn = nl ? nl + 1 : NULL;
	}
	lines(f, 2, u->about);
	for (o = u->opts; o && o->name; o++) {
		w = opt_width(u, o);
		if (o->help && w > width)
			width = w;
	}
	for (o = u->opts; o && o->name; o++) {
		const char *h = o->help;
		char sh[8] = "";

		if (!h)
			continue;
		if (has_short(u, o))
			snprintf(sh, sizeof(sh), "-%c, ", o->key);
		nl = strchr(h, '\n');
		fprintf(f, "  %s--%s%s%s%*s%.*s\n", sh, o->name,
			o->arg ? " " : "", o->arg ? o->arg : "",
			width + 2 - opt_width(u, o), "",
			(int)(nl ? nl - h : (long)strlen(h)), h);
		if (nl)
			lines(f, 2 + width + 2, nl + 1);
	}
	lines(f, 2, u->after);
}

int xl_negative_operand(int argc, char **argv, const struct xl_usage *u,
			const char **arg)
{
	const struct xl_opt *o;
	size_t len;
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			break;
		if (a[0] == '-' && a[1] >= '0' && a[1] <= '9') {
			*arg = a;
			return n;
		}
		if (a[0] != '-' || !a[1]) {
			n++;
			continue;
		}
		/* "--name X" (or "--na X"): X is an option's argument */
		if (a[1] != '-' || strchr(a, '='))
			continue;
		len = strlen(a + 2);
		for (o = u->opts; o && o->name; o++) {
			if (!strncmp(o->name, a + 2, len) && o->arg) {
				i++;
				break;
			}
		}
	}
	return -1;
}
