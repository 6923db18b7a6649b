/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-endpoint limits (SEMANTICS.md §5), shared by `xlimit route`,
 * `xlimit query`, `apply`/`dump` and the sidecar (part of libxlimit): the syntax of a route's
 * path and methods, the table of xl_routes read into sorted rows, which
 * route a request matches, and a client's counts of routes in
 * xl_route_state.
 */
#ifndef XL_ROUTE_USER_H
#define XL_ROUTE_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xlimit.h"
#include "query.h"

/* At most this many routes of one port share a path (with other
 * methods): as many as a request can be charged to at once. */
#define XL_ROUTE_SAME_PATH 8

enum xl_route_kind {
	XL_RK_EXACT, /* "/a/b": that path only */
	XL_RK_PREFIX, /* "/a/" then a star: every path under "/a/" */
	XL_RK_DEFAULT, /* "*": the port's default limits */
};

/* Checks a route's path: "*", or "/" followed by printable ASCII without
 * blanks, '?' or '#', with '*' only at the end (a prefix), shorter than
 * XL_ROUTE_PATH_MAX. 0, or -EINVAL with what is wrong in why. */
int xl_route_path_check(const char *path, char *why, size_t len);
enum xl_route_kind xl_route_kind(const char *path);

/* "GET,POST" (any case, comma-separated) to XL_METH_* bits. 0, or -EINVAL
 * with the unknown name in why. */
int xl_route_methods_parse(const char *s, uint16_t *methods, char *why,
			   size_t len);
/* The bits as "GET,POST", "" for 0 (every method). */
void xl_route_methods_format(uint16_t methods, char *buf, size_t len);
/* The i-th method (0 to XL_NMETHODS - 1): its name and bit, or NULL. */
#define XL_NMETHODS 9
const char *xl_route_method_name(int i, uint16_t *bit);

/* A message for a 429: printable, no control characters, shorter than
 * XL_ROUTE_MSG_MAX bytes. 0, or -EINVAL with why. */
int xl_route_message_check(const char *msg, char *why, size_t len);

/* Checks a route read back from the map (bpftool may have written it):
 * its path and flags, its limits (xl_rule_check, when it has any), no
 * limits on an exempt route, limits on a default one, a NUL-terminated
 * message. 0, or -EINVAL with why. */
int xl_route_check(const struct xl_route_key *k, const struct xl_route *r,
		   char *why, size_t len);

struct xl_route_row {
	struct xl_route_key key;
	struct xl_route r;
	bool invalid; /* fails xl_route_check(): not matched */
};

/* Whether two keys have the same port and path (methods aside). */
bool xl_route_same_path(const struct xl_route_key *a,
			const struct xl_route_key *b);
/* Checks a route as given (before it has an id): an exempt route has no
 * limits, methods or message; the default route ("*") has limits and no
 * methods, nor is it exempt. 0, or -EINVAL with why. */
int xl_route_valid(const struct xl_route_row *w, char *why, size_t len);
/* Checks that route `w` fits among rows[n], replacing rows[old] (-1:
 * none): at most XL_MAX_ROUTES routes, XL_ROUTE_SAME_PATH of one path
 * (port and path), and an exempt path alone. 0, or -EINVAL with why. */
int xl_route_fits(const struct xl_route_row *rows, int n,
		  const struct xl_route_row *w, int old, char *why, size_t len);

/* Orders rows by port, then path, then methods (qsort). */
int xl_route_row_cmp(const void *a, const void *b);
/* Reads every route of xl_routes into rows[max] (at most XL_MAX_ROUTES),
 * sorted by port, then path, then methods. Returns the count, or
 * -errno. */
int xl_routes_read(int fd, struct xl_route_row *rows, int max);

/*
 * What a request of `method` (an XL_METH_* bit, 0 if none) to `path`
 * (percent-decoded, `plen` bytes) on `port` is charged to: the routes of
 * the port (else those of port 0); among them the exact path, else the
 * longest prefix. An exempt route exempts the request; else the routes of
 * that path whose methods take the request's and that have limits of
 * their own are charged; else the port's default limits ("*"), counted
 * for that path (its first route's id | XL_ROUTE_ID_DEFAULT), or for a
 * path no route matches, for the default route itself.
 */
struct xl_route_match {
	bool matched; /* some route's path matched */
	bool exempt;
	int n; /* rows charged with their own limits */
	int row[XL_ROUTE_SAME_PATH];
	int def; /* the default route's row, -1 if none is charged */
	uint32_t def_id; /* the id its limits are counted under */
	int path_row; /* the first row of the matched path, -1 */
};
void xl_route_match(const struct xl_route_row *rows, int n, uint16_t port,
		    const char *path, size_t plen, uint16_t method,
		    struct xl_route_match *m);

/* Route ids whose counts a change makes meaningless, to delete from
 * xl_route_state once the change is written. Zero-initialised: empty. */
struct xl_route_ids {
	int n, cap;
	uint32_t *id;
	bool nomem; /* an add failed: clear everything */
};
/* Adds w's counts (its own, and its count of the default limits) and, for
 * a default route ("*"), every count of the default limits on its port,
 * whose routes are among rows[n]. */
void xl_route_ids_of(struct xl_route_ids *s, const struct xl_route_row *rows,
		     int n, const struct xl_route_row *w);
/* Deletes the counts of the ids from xl_route_state (fd) and empties the
 * set. 0, or -ENOMEM when the set could not hold them all (then every
 * count was deleted). */
int xl_route_ids_clear(int fd, struct xl_route_ids *s);
void xl_route_ids_free(struct xl_route_ids *s);
/* An id no route of rows[n] has: one past the largest. */
uint32_t xl_route_next_id(const struct xl_route_row *rows, int n);

/* The names of a route's counters (enum xl_rstat), as `stats --json`,
 * `route list --json` and /metrics print them. */
extern const char *const xl_rstat_names[XL_RSTAT_NR];
/* Makes xl_route_stats (rstats_fd) hold an entry for every route of
 * xl_routes (routes_fd), a new route's at zero, and with `prune` none for
 * an id no route has (apply prunes once it is done, so that a route its
 * rollback puts back keeps its counts). Called after every change of
 * routes, before the generation moves. 0 or -errno. */
int xl_route_stats_sync(int routes_fd, int rstats_fd, bool prune);
/* The counters of route `id`, summed over the CPUs: 0, or -ENOENT (then
 * zero) when it has no entry, or another -errno. */
int xl_route_stats_read(int rstats_fd, uint32_t id, struct xl_rstats *sum);

/* Every route (xl_routes_read()) into rows[max] and its counters into
 * st[max] (zero for a route without an entry). Returns the count or
 * -errno. */
int xl_route_stat_rows(int routes_fd, int rstats_fd, struct xl_route_row *rows,
		       struct xl_rstats *st, int max);
/* xl_route_stat_rows() into arrays of XL_MAX_ROUTES it allocates, *rows
 * and *st, for the caller to free. Returns the count, or -errno with
 * nothing allocated. */
int xl_route_stat_rows_new(int routes_fd, int rstats_fd,
			   struct xl_route_row **rows, struct xl_rstats **st);

/* The route whose limits a count of route w in xl_route_state counts:
 * w's own, or the default route ("*") of w's port for a count of the
 * default limits (`dflt`: its id has XL_ROUTE_ID_DEFAULT) and for the
 * default route itself. NULL when there is none, or it has no limits or
 * is invalid: such a count is not shown. */
const struct xl_route_row *xl_route_limits_of(const struct xl_route_row *rows,
					      int n,
					      const struct xl_route_row *w,
					      bool dflt);
/* A count of a route as `query` and `top` name it: "PATH", then its
 * methods when it has any ("/login POST"), then " (default limits)" for
 * a count of the port's default limits. */
void xl_route_label(const char *path, uint16_t methods, bool dflt, char *buf,
		    size_t len);

/* A client's count of one route. */
struct xl_route_count {
	char path[XL_ROUTE_PATH_MAX + 1];
	uint16_t methods;
	bool dflt; /* the port's default limits, counted for this route */
	uint32_t nlimits;
	struct xl_client_limit lim[XL_MAX_LIMITS];
};

/* The client `addr`'s counts of routes on `port` (xl_route_state, its
 * key masked as the program masks it, with ipv6_prefix) into out[max].
 * Returns the count, or -errno. */
int xl_route_counts(int routes_fd, int rstate_fd, const uint8_t addr[16],
		    uint16_t port, uint32_t ipv6_prefix,
		    struct xl_route_count *out, int max);
/* The ports the client has route counts on, added to ports[*n] (max),
 * skipping those there already. */
void xl_route_count_ports(int rstate_fd, const uint8_t addr[16],
			  uint32_t ipv6_prefix, uint16_t *ports, int *n,
			  int max);

#endif /* XL_ROUTE_USER_H */
