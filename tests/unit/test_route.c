// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of per-endpoint limits' matching and syntax (user/lib/route.c):
 * which routes a request is charged to (an exact path beats every prefix,
 * the longest prefix beats shorter ones, methods pick among a path's
 * routes, a method left out or a route without limits counts the port's
 * default limits under the path's own id, exempt paths, port 0's routes
 * for a port without routes, rows that failed their check left out), and
 * the path, methods and message checks on good and bad input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"
#include "xlimit_lib.h"
#include "route.h"

TEST_ENV_DEFINE;

static struct xl_route_row rows[32];
static int nrows;

static void add(uint16_t port, const char *path, uint16_t methods, uint32_t id,
		uint32_t nlimits, uint32_t flags)
{
	struct xl_route_row *w = &rows[nrows++];

	memset(w, 0, sizeof(*w));
	w->key.port = port;
	w->key.methods = methods;
	memcpy(w->key.path, path, strlen(path));
	w->r.rule.slot = id;
	w->r.rule.nlimits = nlimits;
	w->r.flags = flags;
}

static void table(void)
{
	nrows = 0;
	add(8080, "*", 0, 1, 1, 0);
	add(8080, "/api/*", 0, 2, 1, 0);
	add(8080, "/api/v1/*", 0, 3, 1, 0);
	add(8080, "/api/v1/special", 0, 4, 1, 0);
	add(8080, "/get", XL_METH_GET, 5, 1, 0);
	add(8080, "/get", XL_METH_POST | XL_METH_PUT, 6, 1, 0);
	add(8080, "/get", XL_METH_GET | XL_METH_HEAD, 12, 1, 0);
	add(8080, "/free", 0, 7, 0, XL_ROUTE_EXEMPT);
	add(8080, "/plain", 0, 8, 0, 0);
	add(8080, "/a*", 0, 13, 1, 0); /* a prefix without its '/' */
	add(0, "/zero", 0, 10, 1, 0);
	add(9090, "/only", 0, 11, 1, 0);
	add(9090, "/broken", 0, 14, 1, 0);
	rows[nrows - 1].invalid = true;
	qsort(rows, nrows, sizeof(rows[0]), xl_route_row_cmp);
}

/* The ids a request is charged to, as "5 12" (its own routes), "d1"
 * (the default route's limits under id 1), "exempt" or "-". */
static const char *charged(uint16_t port, const char *path, size_t plen,
			   uint16_t method)
{
	static char buf[128];
	struct xl_route_match m;
	size_t off = 0;
	int i;

	xl_route_match(rows, nrows, port, path, plen, method, &m);
	buf[0] = '\0';
	if (m.exempt)
		return "exempt";
	for (i = 0; i < m.n; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%u",
				i ? " " : "", rows[m.row[i]].r.rule.slot);
	if (m.def >= 0) {
		if (m.def_id & XL_ROUTE_ID_DEFAULT)
			off += snprintf(buf + off, sizeof(buf) - off,
					"%sd%u+%u", off ? " " : "",
					rows[m.def].r.rule.slot,
					m.def_id & ~XL_ROUTE_ID_DEFAULT);
		else
			off += snprintf(buf + off, sizeof(buf) - off, "%sd%u",
					off ? " " : "",
					rows[m.def].r.rule.slot);
	}
	return off ? buf : "-";
}

#define CHARGED(port, path, method, want)                             \
	ASSERT_STREQ(charged(port, path, strlen(path), method), want, \
		     #port " " path " " #method)

static void test_match(void)
{
	table();
	/* Exact beats every prefix; the longest prefix beats shorter. */
	CHARGED(8080, "/api/v1/special", XL_METH_GET, "4");
	CHARGED(8080, "/api/v1/special/x", XL_METH_GET, "3");
	CHARGED(8080, "/api/v1/", XL_METH_GET, "3");
	CHARGED(8080, "/api/v1", XL_METH_GET, "2");
	CHARGED(8080, "/api/x", XL_METH_GET, "2");
	/* "/a*" is a prefix of bytes, not of path segments. */
	CHARGED(8080, "/api", XL_METH_GET, "13");
	CHARGED(8080, "/abc", XL_METH_GET, "13");
	/* No route's path: the default route, under its own id. */
	CHARGED(8080, "/", XL_METH_GET, "d1");
	CHARGED(8080, "/API/x", XL_METH_GET, "d1");
	/* Methods pick among a path's routes, each its own count. */
	CHARGED(8080, "/get", XL_METH_GET, "5 12");
	CHARGED(8080, "/get", XL_METH_HEAD, "12");
	CHARGED(8080, "/get", XL_METH_POST, "6");
	/* A method no route of the path takes: the default limits, counted
	 * for that path (its first route's id). */
	CHARGED(8080, "/get", XL_METH_DELETE, "d1+5");
	CHARGED(8080, "/get", 0, "d1+5");
	/* A route without limits counts the defaults on its own. */
	CHARGED(8080, "/plain", XL_METH_GET, "d1+8");
	CHARGED(8080, "/free", XL_METH_POST, "exempt");
	/* Exact paths only: no trailing '/' nor case folded. */
	CHARGED(8080, "/free/", XL_METH_GET, "d1");
	/* A port without routes takes port 0's; a port with routes does
	 * not, and without a default route leaves the rest alone. */
	CHARGED(7000, "/zero", XL_METH_GET, "10");
	CHARGED(7000, "/other", XL_METH_GET, "-");
	CHARGED(9090, "/zero", XL_METH_GET, "-");
	CHARGED(9090, "/only", XL_METH_GET, "11");
	/* A row that failed its check is never matched. */
	CHARGED(9090, "/broken", XL_METH_GET, "-");
	/* A decoded NUL ends no path: "/api/\0x" is under /api/. */
	ASSERT_STREQ(charged(8080, "/api/\0x", 7, XL_METH_GET), "2",
		     "a path with a NUL inside");
	ASSERT_STREQ(charged(8080, "/api/v1/special\0", 16, XL_METH_GET), "3",
		     "an exact path with a NUL after it is not that path");
	/* An empty table. */
	nrows = 0;
	CHARGED(8080, "/api/x", XL_METH_GET, "-");
}

static void test_syntax(void)
{
	static const char *const good[] = {
		"*", "/", "/a", "/a/*", "/*", "/a-b_c.d~e%20f:g@h!$&'()+,;="
	};
	static const char *const bad[] = { "",		"a",	"/a b", "/a*b",
					   "/a?x",	"/a#x", "**",	"/\x7f",
					   "/\xc3\xa9", "/a\t" };
	uint16_t bits;
	char why[256], path[200], msg[300];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ASSERT_EQ(xl_route_path_check(good[i], why, sizeof(why)), 0,
			  good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(xl_route_path_check(bad[i], why, sizeof(why)),
			  -EINVAL, bad[i]);
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[XL_ROUTE_PATH_MAX - 1] = '\0';
	ASSERT_EQ(xl_route_path_check(path, why, sizeof(why)), 0,
		  "a path of 127 bytes");
	path[XL_ROUTE_PATH_MAX - 1] = 'a';
	path[XL_ROUTE_PATH_MAX] = '\0';
	ASSERT_EQ(xl_route_path_check(path, why, sizeof(why)), -EINVAL,
		  "a path of 128 bytes");
	ASSERT_EQ(xl_route_kind("*"), XL_RK_DEFAULT, "* is the default");
	ASSERT_EQ(xl_route_kind("/a/*"), XL_RK_PREFIX, "/a/* is a prefix");
	ASSERT_EQ(xl_route_kind("/a"), XL_RK_EXACT, "/a is exact");

	ASSERT_EQ(xl_route_methods_parse("get,Post,PATCH", &bits, why,
					 sizeof(why)),
		  0, "methods in any case");
	ASSERT_EQ(bits, XL_METH_GET | XL_METH_POST | XL_METH_PATCH,
		  "methods' bits");
	xl_route_methods_format(bits, why, sizeof(why));
	ASSERT_STREQ(why, "GET,POST,PATCH", "methods formatted");
	ASSERT_EQ(xl_route_methods_parse("GET,", &bits, why, sizeof(why)),
		  -EINVAL, "an empty method");
	ASSERT_EQ(xl_route_methods_parse("GETS", &bits, why, sizeof(why)),
		  -EINVAL, "an unknown method");
	ASSERT_EQ(xl_route_methods_parse("GE", &bits, why, sizeof(why)),
		  -EINVAL, "a method's prefix");

	ASSERT_EQ(xl_route_message_check("slow <down> \"now\"", why,
					 sizeof(why)),
		  0, "a message");
	ASSERT_EQ(xl_route_message_check("a\nb", why, sizeof(why)), -EINVAL,
		  "a message of two lines");
	memset(msg, 'x', sizeof(msg));
	msg[XL_ROUTE_MSG_MAX - 1] = '\0';
	ASSERT_EQ(xl_route_message_check(msg, why, sizeof(why)), 0,
		  "a message of 255 bytes");
	msg[XL_ROUTE_MSG_MAX - 1] = 'x';
	msg[XL_ROUTE_MSG_MAX] = '\0';
	ASSERT_EQ(xl_route_message_check(msg, why, sizeof(why)), -EINVAL,
		  "a message of 256 bytes");
}

int main(void)
{
	RUN_TEST(match);
	RUN_TEST(syntax);
	return test_summary();
}
