/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Redis side of `xlimit sync`: one interface over a standalone server,
 * a Sentinel-managed master and a Cluster, on Debian's hiredis. Commands
 * run in pipelines; in a Cluster each goes to the master of its key's slot
 * (from CLUSTER SLOTS), and MOVED and ASK replies are followed.
 */
#ifndef XL_SYNC_REDIS_H
#define XL_SYNC_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#define XR_MAX_SEEDS 16
#define XR_MAX_NODES 64
#define XR_SLOTS 16384

enum xr_kind { XR_STANDALONE, XR_SENTINEL, XR_CLUSTER };

struct xr_addr {
	char host[256];
	int port;
};

struct xr_node {
	struct xr_addr a;
	redisContext *c;
	int queued; /* commands appended, replies not read yet */
};

struct xr {
	enum xr_kind kind;
	struct xr_addr seeds[XR_MAX_SEEDS];
	int nseeds;
	char master[128]; /* Sentinel: the master's name */
	int db; /* standalone and Sentinel: SELECT db */
	struct xr_node nodes[XR_MAX_NODES];
	int nnodes;
	unsigned short slot_node[XR_SLOTS]; /* Cluster: slot -> node */
	int slots_known;
	int timeout_ms;
	char user[128]; /* AUTH on every connection, when pass is set */
	char pass[256];
	char shown[300]; /* the URL with the password as "***", for logs */
	char err[160]; /* why the last call failed */
};

/* One command. `key` routes it in a Cluster (NULL: any node). `script`,
 * when argv[0] is EVALSHA, is the Lua source to load where the server
 * answers NOSCRIPT. `reply` is the caller's to free (xr_replies_free). */
struct xr_cmd {
	int argc;
	const char *argv[12];
	size_t argvlen[12];
	const char *key;
	const char *script;
	redisReply *reply;
};

/* Parses redis://HOST[:PORT][/DB], redis+sentinel://H:P[,H:P...]/MASTER[/DB]
 * or redis+cluster://H:P[,H:P...], each with an optional [USER]:PASSWORD@
 * (percent-encoded) before the hosts, as Flask-Limiter's storage URLs.
 * 0, or -1 with what is wrong in err. */
int xr_parse_url(struct xr *r, const char *url, char *err, size_t len);

/* Connects (Sentinel: asks the sentinels for the master; Cluster: reads
 * the slots). 0, or -1 with r->err. */
int xr_connect(struct xr *r);
void xr_close(struct xr *r);

/* Runs the commands as pipelines, one per node. 0 when every command got
 * a reply (which may be a Redis error), -1 on a connection failure (all
 * connections are closed; r->err says why; replies got so far are kept). */
int xr_run(struct xr *r, struct xr_cmd *cmds, size_t n);
void xr_replies_free(struct xr_cmd *cmds, size_t n);

/* Fills in argv[] from NULL-terminated strings. */
void xr_cmd_set(struct xr_cmd *c, const char *key, const char *a0, ...);

/* The Cluster slot of a key (CRC16 of the key or of its {hash tag}). */
unsigned xr_key_slot(const char *key, size_t len);

#endif /* XL_SYNC_REDIS_H */
