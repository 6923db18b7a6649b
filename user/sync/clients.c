// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The client table of `xlimit sync` (clients.h): linear probing over a
 * power-of-2 array of pointers, kept at most half full; deletion is a
 * rebuild, done by the sweep.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "xl_key.h"

static size_t home(const struct xs_table *t, const struct xl_key *k)
{
	return xl_key_hash(k, 0x5eed) & (t->cap - 1);
}

static void place(struct xs_table *t, struct xs_client *c)
{
	size_t i = home(t, &c->key);

	while (t->slot[i])
		i = (i + 1) & (t->cap - 1);
	t->slot[i] = c;
	t->n++;
}

/* Moves every client for which keep() says 1 into a table of `cap`. */
static int rebuild(struct xs_table *t, size_t cap,
		   int (*keep)(const struct xs_client *c, void *arg), void *arg)
{
	struct xs_client **old = t->slot;
	size_t oldcap = t->cap, i;

	t->slot = calloc(cap, sizeof(*t->slot));
	if (!t->slot) {
		t->slot = old;
		return -ENOMEM;
	}
	t->cap = cap;
	t->n = 0;
	for (i = 0; i < oldcap; i++) {
		if (!old[i])
			continue;
		if (!keep || keep(old[i], arg))
			place(t, old[i]);
		else
			free(old[i]);
	}
	free(old);
	return 0;
}

struct xs_client *xs_table_find(const struct xs_table *t,
				const struct xl_key *k)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = home(t, k); t->slot[i]; i = (i + 1) & (t->cap - 1))
		if (!memcmp(&t->slot[i]->key, k, sizeof(*k)))
			return t->slot[i];
	return NULL;
}

struct xs_client *xs_table_get(struct xs_table *t, const struct xl_key *k)
{
	struct xs_client *c = xs_table_find(t, k);

	if (c)
		return c;
	if (2 * (t->n + 1) > t->cap &&
	    rebuild(t, t->cap ? 2 * t->cap : 1024, NULL, NULL))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key = *k;
	place(t, c);
	return c;
}

int xs_table_sweep(struct xs_table *t,
		   int (*keep)(const struct xs_client *c, void *arg), void *arg)
{
	size_t cap = t->cap;

	/* Shrink when a quarter full or less, never below the start size. */
	while (cap > 1024 && 4 * t->n <= cap)
		cap /= 2;
	return t->cap ? rebuild(t, cap, keep, arg) : 0;
}

void xs_table_free(struct xs_table *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->slot[i]);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

int xs_list_push(struct xs_list *l, struct xs_client *c)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		struct xs_client **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = c;
	return 0;
}
