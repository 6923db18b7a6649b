// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit parse`: checks a limit string as Flask-Limiter reads it, and
 * shows what it means.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "limit_parse.h"

#define XL_PARSE_MAX 64 /* items `xlimit parse` accepts */

static const struct xl_opt parse_opts[] = { XL_OPT_JSON, {} };
static const struct xl_usage parse_usage = {
	.synopsis = "xlimit parse LIMITS [--json]",
	.about =
		"Checks LIMITS as Flask-Limiter reads it, and prints each limit.",
	.opts = parse_opts,
	.operands_in_order = true,
};

int cmd_parse(int argc, char **argv)
{
	struct xl_parsed_limit items[XL_PARSE_MAX];
	const char *input = NULL;
	struct json_object *arr;
	bool json = false;
	char err[256];
	int c, n, i;

	/* "-1/second" is an operand (an invalid limit string), not options */
	n = xl_negative_operand(argc, argv, &parse_usage, &input);
	if (n > 0) {
		xl_err("parse: expected one limit string, got '%s' too; quote it",
		       input);
		return XL_EXIT_USAGE;
	}
	if (n == 0) { /* never a limit string: let the parser say why */
		xl_parse_limits(input, items, XL_PARSE_MAX, err, sizeof(err));
		xl_err("couldn't parse rate limit string '%s': %s", input, err);
		return XL_EXIT_USAGE;
	}
	optind = 0;
	while ((c = xl_getopt(argc, argv, &parse_usage)) >= 0) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case XL_OPT_OPERAND:
			if (input) {
				xl_err("parse: expected one limit string, got '%s' and '%s'; quote it",
				       input, optarg);
				return XL_EXIT_USAGE;
			}
			input = optarg;
			break;
		}
	}
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (!input) {
		xl_err("parse: expected a limit string, e.g. xlimit parse \"10/second\"");
		return XL_EXIT_USAGE;
	}
	n = xl_parse_limits(input, items, XL_PARSE_MAX, err, sizeof(err));
	if (n < 0) {
		xl_err("couldn't parse rate limit string '%s': %s", input, err);
		return XL_EXIT_USAGE;
	}
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();
		char text[96];

		xl_format_limit(text, sizeof(text), &items[i]);
		if (!json)
			puts(text);
		json_object_object_add(e, "amount",
				       json_object_new_uint64(items[i].amount));
		json_object_object_add(
			e, "multiples",
			json_object_new_uint64(items[i].multiples));
		json_object_object_add(
			e, "granularity",
			json_object_new_string(xl_unit_name(items[i].unit)));
		json_object_object_add(
			e, "period", json_object_new_uint64(items[i].seconds));
		json_object_array_add(arr, e);
	}
	if (json)
		xl_json_print(arr);
	else
		json_object_put(arr);
	return XL_EXIT_OK;
}
