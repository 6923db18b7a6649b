/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What `xlimit sync` knows of each active client: per limit, the local
 * window it read last, the hits not yet added to Redis, and until when the
 * fleet found the client over. An open-addressing table keyed by xl_key;
 * clients with nothing left to do are dropped by xs_table_sweep().
 */
#ifndef XL_SYNC_CLIENTS_H
#define XL_SYNC_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

#include "xlimit.h"

struct xs_limit {
	uint64_t lstart; /* start (ns) of the local window read last */
	uint64_t lcount; /* its count then */
	uint64_t pending; /* hits read and not yet in Redis */
	uint64_t pending_since; /* monotonic ns of the oldest of them */
	uint64_t over_end; /* the fleet's window end when over, else 0 */
};

struct xs_client {
	struct xl_key key;
	uint8_t touched; /* in the list of clients to read this round */
	uint8_t dirty; /* in the list of clients with pending hits */
	uint64_t seen; /* monotonic ns of the last read */
	struct xs_limit l[XL_MAX_LIMITS];
};

struct xs_table {
	struct xs_client **slot;
	size_t cap; /* a power of 2 */
	size_t n;
};

/* The client of `k`, added when missing (NULL: out of memory). */
struct xs_client *xs_table_get(struct xs_table *t, const struct xl_key *k);
/* The client of `k`, or NULL. */
struct xs_client *xs_table_find(const struct xs_table *t,
				const struct xl_key *k);
/* Frees every client for which keep() says 0. Returns 0 or -ENOMEM. */
int xs_table_sweep(struct xs_table *t,
		   int (*keep)(const struct xs_client *c, void *arg),
		   void *arg);
void xs_table_free(struct xs_table *t);

/* A growing array of client pointers. */
struct xs_list {
	struct xs_client **v;
	size_t n, cap;
};

int xs_list_push(struct xs_list *l, struct xs_client *c);

#endif /* XL_SYNC_CLIENTS_H */
