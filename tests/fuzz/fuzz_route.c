/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libFuzzer target: per-endpoint limits' syntax and matching
 * (user/lib/route.c). The input is lines: the first is a request, "X
 * PATH" (X's low bits pick the method, the port and the request's port),
 * every other a route, "F PATH" (F picks its port, methods, whether it
 * has limits, is exempt or failed its check). Besides memory safety
 * (ASan, UBSan), it checks on every input:
 * - xl_route_path_check() accepts exactly "*" and the paths of
 *   printable ASCII that start with '/', hold no blank, '?' or '#', and a
 *   '*' only at their end, shorter than XL_ROUTE_PATH_MAX;
 * - methods that parse format back to the same bits;
 * - xl_route_match() agrees with a plain model of SEMANTICS.md §5 on the
 *   table of the routes that passed their path check: the port's routes,
 *   else port 0's; an exact path, else the longest prefix; an exempt
 *   path; the routes of the path that take the method and have limits;
 *   else the default route, under the path's first id or its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlimit_lib.h"
#include "route.h"

#define MAX_ROUTES 24

#define check(cond, what)                                          \
	do {                                                       \
		if (!(cond)) {                                     \
			fprintf(stderr, "fuzz_route: %s\n", what); \
			abort();                                   \
		}                                                  \
	} while (0)

static const uint16_t ports[4] = { 8080, 0, 9090, 7000 };

static bool path_ok_model(const char *p)
{
	size_t n = strlen(p), i;

	if (!strcmp(p, "*"))
		return true;
	if (!n || p[0] != '/' || n >= XL_ROUTE_PATH_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c <= ' ' || c >= 0x7f || c == '?' || c == '#')
			return false;
		if (c == '*' && i != n - 1)
			return false;
	}
	return true;
}

/* The model: fills ids[] with what the request is charged to (as
 * charged() in tests/unit/test_route.c: own ids, then the default's id
 * with the id it counts under); returns -1 for exempt. */
static int model(const struct xl_route_row *rows, int n, uint16_t port,
		 const char *path, size_t plen, uint16_t method, uint32_t ids[],
		 int *def_row)
{
	int i, k = 0, best = -1, table_port = -1;
	size_t best_len = 0;

	*def_row = -1;
	for (i = 0; i < n; i++)
		if (rows[i].key.port == port)
			table_port = port;
	if (table_port < 0)
		for (i = 0; i < n; i++)
			if (rows[i].key.port == 0)
				table_port = 0;
	if (table_port < 0)
		return 0;
	for (i = 0; i < n; i++) {
		const char *rp = rows[i].key.path;
		size_t rl = strlen(rp);

		if (rows[i].key.port != table_port || rows[i].invalid)
			continue;
		if (!strcmp(rp, "*")) {
			*def_row = i;
			continue;
		}
		if (rp[rl - 1] != '*' && rl == plen && !memcmp(rp, path, rl)) {
			best = i;
			best_len = (size_t)-1; /* exact: beats every prefix */
		} else if (rp[rl - 1] == '*' && rl - 1 <= plen &&
			   !memcmp(rp, path, rl - 1) &&
			   (best < 0 ||
			    (best_len != (size_t)-1 && rl - 1 > best_len))) {
			best = i;
			best_len = rl - 1;
		}
	}
	if (best < 0) {
		if (*def_row >= 0)
			ids[k++] = rows[*def_row].r.rule.slot;
		return k;
	}
	for (i = 0; i < n; i++) {
		if (rows[i].key.port != table_port || rows[i].invalid ||
		    strcmp(rows[i].key.path, rows[best].key.path))
			continue;
		if (rows[i].r.flags & XL_ROUTE_EXEMPT)
			return -1;
	}
	for (i = 0; i < n; i++) {
		if (rows[i].key.port != table_port || rows[i].invalid ||
		    strcmp(rows[i].key.path, rows[best].key.path))
			continue;
		if (rows[i].r.rule.nlimits &&
		    (!rows[i].key.methods || (rows[i].key.methods & method)))
			ids[k++] = rows[i].r.rule.slot;
	}
	if (k) {
		*def_row = -1;
		return k;
	}
	if (*def_row < 0)
		return 0;
	/* The path's first route, in the table's order. */
	for (i = 0; i < n; i++)
		if (rows[i].key.port == table_port &&
		    !strcmp(rows[i].key.path, rows[best].key.path))
			break;
	ids[k++] = rows[i].r.rule.slot | XL_ROUTE_ID_DEFAULT;
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xl_route_row rows[MAX_ROUTES];
	char line[XL_ROUTE_PATH_MAX + 64], why[256], fmt[64];
	const uint8_t *p = data, *end = data + size, *nl;
	uint32_t ids[MAX_ROUTES + 1];
	struct xl_route_match m;
	char req[300];
	size_t rlen = 0;
	uint16_t method = 0, port = 0, bits;
	int n = 0, k, i, def_row;

	for (k = 0; p < end; k++, p = nl + 1) {
		size_t len;
		uint8_t x;

		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		len = nl - p;
		if (!len)
			continue;
		x = p[0];
		if (k == 0) { /* the request: the decoded path, NULs too */
			rlen = len - 1 < sizeof(req) ? len - 1 : sizeof(req);
			memcpy(req, p + 1, rlen);
			method = 1U << (x & 15); /* bit 9-15: no known one */
			port = ports[(x >> 4) & 3];
			continue;
		}
		if (len - 1 >= sizeof(line))
			continue;
		memcpy(line, p + 1, len - 1);
		line[len - 1] = '\0';
		check(!xl_route_path_check(line, why, sizeof(why)) ==
			      path_ok_model(line),
		      "xl_route_path_check disagrees with the model");
		if (!xl_route_methods_parse(line, &bits, why, sizeof(why))) {
			uint16_t again;

			xl_route_methods_format(bits, fmt, sizeof(fmt));
			check(!xl_route_methods_parse(fmt, &again, why,
						      sizeof(why)) &&
				      again == bits,
			      "methods do not format back to themselves");
		}
		if (!path_ok_model(line) || n == MAX_ROUTES)
			continue;
		memset(&rows[n], 0, sizeof(rows[n]));
		rows[n].key.port = ports[x & 3];
		rows[n].key.methods =
			(x & 4) ? (uint16_t)(1U << ((x >> 3) & 3)) |
					  (x & 0x80 ? XL_METH_GET : 0) :
				  0;
		memcpy(rows[n].key.path, line, strlen(line));
		rows[n].r.rule.slot = n + 1;
		rows[n].r.rule.nlimits = (x & 0x20) ? 0 : 1;
		rows[n].r.flags = (x & 0x40) && !(x & 4) ? XL_ROUTE_EXEMPT : 0;
		rows[n].invalid = (x & 0xe0) == 0xe0;
		/* A default route has limits, no methods, and is not exempt
		 * (xl_route_check() makes any other invalid). */
		if (!strcmp(line, "*")) {
			rows[n].key.methods = 0;
			rows[n].r.rule.nlimits = 1;
			rows[n].r.flags = 0;
		}
		/* A key appears once in the map. */
		for (i = 0; i < n; i++)
			if (!memcmp(&rows[i].key, &rows[n].key,
				    sizeof(rows[n].key)))
				break;
		if (i == n)
			n++;
	}
	qsort(rows, n, sizeof(rows[0]), xl_route_row_cmp);
	xl_route_match(rows, n, port, req, rlen, method, &m);
	k = model(rows, n, port, req, rlen, method, ids, &def_row);
	if (k < 0) {
		check(m.exempt && !m.n && m.def < 0,
		      "exempt: the model says so");
		return 0;
	}
	check(!m.exempt, "exempt: the model says not");
	check(m.n == k - (def_row >= 0 ? 1 : 0), "as many routes as the model");
	for (i = 0; i < m.n; i++)
		check(rows[m.row[i]].r.rule.slot == ids[i],
		      "the routes of the model, in order");
	check((m.def >= 0) == (def_row >= 0), "the default as the model");
	if (def_row >= 0)
		check(m.def == def_row && m.def_id == ids[k - 1],
		      "the default's count as the model");
	return 0;
}
