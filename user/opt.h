/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The commands' options and usage text from one table each: xl_getopt()
 * parses argv by the table (with getopt_long, whose messages stay), and
 * xl_usage() prints the text --help shows from the same table.
 */
#ifndef XL_OPT_H
#define XL_OPT_H

#include <stdbool.h>
#include <stdio.h>

/* One option: --NAME, or --NAME ARG when arg is set. */
struct xl_opt {
	const char *name; /* without "--" */
	int key; /* what xl_getopt() returns for it: a letter, or above 255 */
	const char *arg; /* the argument's name in the usage text; NULL: none */
	const char *help; /* its lines in the usage text, '\n' between them */
};

/* --json, of every command that prints */
#define XL_OPT_JSON                                                          \
	{                                                                    \
		"json", 'j', NULL, "print JSON (see xlimit(8), JSON OUTPUT)" \
	}

/* A command: what `Usage:` says, its options, and text after them. */
struct xl_usage {
	const char *synopsis; /* lines after "Usage: ", '\n' between them */
	const char *about; /* lines under the synopsis, or NULL */
	const struct xl_opt *opts; /* ends with {}; --help is implied */
	const char *after; /* lines after the options, or NULL */
	const char *shorts; /* short options as getopt takes them ("n:") */
	bool operands_in_order; /* operands come back as XL_OPT_OPERAND */
	bool stop_at_operand; /* the first operand ends the options */
};

enum {
	XL_OPT_END = -1, /* no option left: operands from optind on */
	XL_OPT_HELP = -2, /* --help (-h): usage printed on stdout */
	XL_OPT_BAD = -3, /* unknown option, or one without its argument:
			  * getopt's message and the usage on stderr */
	XL_OPT_OPERAND = 1, /* an operand, in optarg (operands_in_order) */
};

/* The next option of argv, as getopt_long: its key with its argument in
 * optarg, or one of XL_OPT_*. Start with optind = 0. */
int xl_getopt(int argc, char **argv, const struct xl_usage *u);

/* xl_getopt() for a command whose one option is --json (sets *json):
 * returns XL_OPT_END, or XL_OPT_HELP / XL_OPT_BAD for xl_opt_exit(). */
int xl_getopt_json(int argc, char **argv, const struct xl_usage *u, bool *json);

/* The usage text: "Usage: SYNOPSIS", the about lines, then each option
 * with its help in a column, then the after lines. */
void xl_usage(const struct xl_usage *u, FILE *f);

/* Prints the usage on stderr after a bad command line: returns 2. */
int xl_usage_bad(const struct xl_usage *u);

/* The exit code for XL_OPT_HELP (0) or XL_OPT_BAD (2). */
int xl_opt_exit(int c);

/* getopt_long() reads an operand such as "-1" as options. None of the
 * commands takes a negative number, but the message must name it as the
 * bad operand it is: returns the position among the operands (0 for the
 * first) of the first one that starts with '-' and a digit, with it in
 * *arg, or -1. Arguments of options that take one are skipped; "--" ends
 * the search. */
int xl_negative_operand(int argc, char **argv, const struct xl_usage *u,
			const char **arg);

#endif /* XL_OPT_H */
