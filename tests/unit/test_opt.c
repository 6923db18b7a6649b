// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the CLI's option table (user/opt.c): the usage text made
 * from a table, options and their arguments parsed by it, --help, an
 * unknown option and an option without its argument (getopt's message and
 * the usage on stderr, exit 2), operands in order, and negative numbers
 * taken for the operands they are.
 */
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>

#include "testing.h"
#include "opt.h"

TEST_ENV_DEFINE;

static const struct xl_opt opts[] = {
	{ "mode", 'm', "MODE", "how to attach:\nnative or tc" },
	{ "all", 'a', NULL, "every interface" },
	{ "secret", 's', "X", NULL }, /* parsed, not shown */
	{}
};
static const struct xl_usage usage = {
	.synopsis = "xlimit frob IFACE [--mode MODE]\nxlimit frob --all",
	.about = "Frobs an interface.",
	.opts = opts,
	.after = "See xlimit(8).",
	.shorts = "n:",
};

static const char want_usage[] = "Usage: xlimit frob IFACE [--mode MODE]\n"
				 "       xlimit frob --all\n"
				 "  Frobs an interface.\n"
				 "  --mode MODE  how to attach:\n"
				 "               native or tc\n"
				 "  --all        every interface\n"
				 "  See xlimit(8).\n";

/* Runs xl_getopt() over args to the end, the keys and option arguments
 * into got ("m=native a"), what it printed on fd `fd` into out. Returns
 * the last value. */
static int run(int fd, const char *const *args, char *got, size_t glen,
	       char *out, size_t olen)
{
	char *argv[16];
	int argc = 0, c, saved, tmp;
	FILE *f = tmpfile();
	size_t n;

	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	fflush(fd == 1 ? stdout : stderr);
	saved = dup(fd);
	tmp = fileno(f);
	dup2(tmp, fd);
	got[0] = '\0';
	optind = 0;
	while ((c = xl_getopt(argc, argv, &usage)) >= 0)
		snprintf(got + strlen(got), glen - strlen(got), "%s%c%s%s",
			 *got ? " " : "", c == XL_OPT_OPERAND ? '@' : c,
			 optarg ? "=" : "", optarg ? optarg : "");
	fflush(fd == 1 ? stdout : stderr);
	dup2(saved, fd);
	close(saved);
	rewind(f);
	n = fread(out, 1, olen - 1, f);
	out[n] = '\0';
	fclose(f);
	if (c == XL_OPT_END)
		snprintf(got + strlen(got), glen - strlen(got), " | %s",
			 optind < argc ? argv[optind] : "");
	return c;
}

static void test_usage_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	xl_usage(&usage, f);
	fclose(f);
	ASSERT_STREQ(buf, want_usage, "usage from the table");
	free(buf);
}

static void test_parse(void)
{
	static const char *const args[] = { "xlimit frob", "--mo", "native",
					    "--all",	   "-n",   "5",
					    "--secret=x",  "eth0", NULL };
	char got[256], out[4096];

	ASSERT_EQ(run(2, args, got, sizeof(got), out, sizeof(out)), XL_OPT_END,
		  "ends");
	ASSERT_STREQ(got, "m=native a n=5 s=x | eth0",
		     "keys, arguments, an abbreviation, a short option");
	ASSERT_STREQ(out, "", "nothing printed");
}

static void test_help(void)
{
	static const char *const args[] = { "xlimit frob", "--help", NULL };
	static const char *const args_h[] = { "xlimit frob", "-h", NULL };
	char got[256], out[4096];
	int c;

	c = run(1, args, got, sizeof(got), out, sizeof(out));
	ASSERT_EQ(c, XL_OPT_HELP, "--help");
	ASSERT_EQ(xl_opt_exit(c), 0, "--help: exit 0");
	ASSERT_STREQ(out, want_usage, "--help: the usage on stdout");
	c = run(1, args_h, got, sizeof(got), out, sizeof(out));
	ASSERT_EQ(c, XL_OPT_HELP, "-h");
	ASSERT_STREQ(out, want_usage, "-h: the usage on stdout");
}

/* A bad command line: XL_OPT_BAD (exit 2), getopt's message `says`
 * first, then the usage, all on stderr. */
static void bad(const char *const *args, const char *says, const char *name)
{
	char got[256], out[4096];
	int c = run(2, args, got, sizeof(got), out, sizeof(out));

	ASSERT_EQ(c, XL_OPT_BAD, name);
	ASSERT_EQ(xl_opt_exit(c), 2, name);
	if (!ASSERT_TRUE(!strncmp(out, says, strlen(says)), name))
		fprintf(stderr, "  said: %s\n", out);
	ASSERT_TRUE(strstr(out, want_usage) != NULL, name);
}

static void test_unknown(void)
{
	static const char *const args[] = { "xlimit frob", "--frob", "eth0",
					    NULL };
	static const char *const args_short[] = { "xlimit frob", "-q", NULL };

	bad(args, "xlimit frob: unrecognized option '--frob'\n",
	    "unknown option");
	bad(args_short, "xlimit frob: invalid option -- 'q'\n",
	    "unknown short option");
}

static void test_missing_argument(void)
{
	static const char *const args[] = { "xlimit frob", "eth0", "--mode",
					    NULL };
	static const char *const args_n[] = { "xlimit frob", "-n", NULL };

	bad(args, "xlimit frob: option '--mode' requires an argument\n",
	    "--mode without its argument");
	bad(args_n, "xlimit frob: option requires an argument -- 'n'\n",
	    "-n without its argument");
}

static void test_operands_in_order(void)
{
	static const struct xl_opt o[] = { { "json", 'j', NULL, "JSON" }, {} };
	static const struct xl_usage u = { .synopsis = "xlimit parse LIMITS",
					   .opts = o,
					   .operands_in_order = true };
	char *argv[] = { "xlimit parse", "10/second", "--json", "5/minute",
			 NULL };
	char got[64] = "";
	int c;

	optind = 0;
	while ((c = xl_getopt(4, argv, &u)) >= 0)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%c%s",
			 *got ? " " : "", c == XL_OPT_OPERAND ? '@' : c,
			 c == XL_OPT_OPERAND ? optarg : "");
	ASSERT_EQ(c, XL_OPT_END, "ends");
	ASSERT_STREQ(got, "@10/second j @5/minute", "operands in place");
}

static void test_negative_operand(void)
{
	char *a1[] = { "x", "80", "-1/second", NULL };
	char *a2[] = { "x", "--mode", "-1", "eth0", NULL };
	char *a3[] = { "x", "--", "-1", NULL };
	char *a4[] = { "x", "-5", NULL };
	const char *arg = NULL;

	ASSERT_EQ(xl_negative_operand(3, a1, &usage, &arg), 1,
		  "the second operand");
	ASSERT_STREQ(arg, "-1/second", "named");
	ASSERT_EQ(xl_negative_operand(4, a2, &usage, &arg), -1,
		  "an option's argument is not an operand");
	ASSERT_EQ(xl_negative_operand(3, a3, &usage, &arg), -1,
		  "none after --");
	ASSERT_EQ(xl_negative_operand(2, a4, &usage, &arg), 0,
		  "the first operand");
}

/* A short form in .shorts is shown beside the long one; a table of more
 * than 16 options (the sidecar's 22) is parsed whole. */
static void test_short_form_and_many(void)
{
	static const struct xl_opt o[] = { { "o0", 256, NULL, NULL },
					   { "o1", 257, NULL, NULL },
					   { "o2", 258, NULL, NULL },
					   { "o3", 259, NULL, NULL },
					   { "o4", 260, NULL, NULL },
					   { "o5", 261, NULL, NULL },
					   { "o6", 262, NULL, NULL },
					   { "o7", 263, NULL, NULL },
					   { "o8", 264, NULL, NULL },
					   { "o9", 265, NULL, NULL },
					   { "o10", 266, NULL, NULL },
					   { "o11", 267, NULL, NULL },
					   { "o12", 268, NULL, NULL },
					   { "o13", 269, NULL, NULL },
					   { "o14", 270, NULL, NULL },
					   { "o15", 271, NULL, NULL },
					   { "o16", 272, NULL, NULL },
					   { "size", 273, "N", "how big" },
					   { "verbose", 'v', NULL, "talk" },
					   {} };
	static const struct xl_usage u = { .synopsis = "x [-v]",
					   .opts = o,
					   .shorts = "v" };
	char *argv[] = { "x", "--o16", "--size", "3", "-v", "--verbose", NULL };
	char got[64] = "", *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int c;

	xl_usage(&u, f);
	fclose(f);
	ASSERT_STREQ(buf,
		     "Usage: x [-v]\n"
		     "  --size N       how big\n"
		     "  -v, --verbose  talk\n",
		     "-v beside --verbose, in one column");
	free(buf);
	optind = 0;
	while ((c = xl_getopt(6, argv, &u)) >= 0)
		snprintf(got + strlen(got), sizeof(got) - strlen(got),
			 "%s%d%s%s", *got ? " " : "", c, optarg ? "=" : "",
			 optarg ? optarg : "");
	ASSERT_EQ(c, XL_OPT_END, "ends");
	ASSERT_STREQ(got, "272 273=3 118 118", "the 17th option and after");
}

int main(void)
{
	RUN_TEST(usage_text);
	RUN_TEST(short_form_and_many);
	RUN_TEST(parse);
	RUN_TEST(help);
	RUN_TEST(unknown);
	RUN_TEST(missing_argument);
	RUN_TEST(operands_in_order);
	RUN_TEST(negative_operand);
	return test_summary();
}
