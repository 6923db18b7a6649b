/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Declarations shared by the parts of xlimit-sidecar: its settings, the
 * kernel objects it reads and charges clients through, the rate-limit
 * decision for one request (limit.c), the reverse proxy (proxy.c, on
 * sockets of its own and http_parser), which also serves the nginx
 * auth_request endpoint (auth.c decides its answers), and the Prometheus
 * metrics (metrics.c, on evhttp: conn.c). Each of --workers threads runs its own libevent loop with
 * its own listeners (SO_REUSEPORT), connections and kernel fds: the state
 * of these files is thread-local, but for the settings, the counters
 * /metrics sums (metrics.c) and the --max-buffered budget (conn.c). The
 * clients' counts are shared through the kernel's maps.
 */
#ifndef XL_SIDECAR_H
#define XL_SIDECAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xlimit.h"
#include "query.h"
#include "route.h"

struct event_base;
struct evhttp_request;
struct evkeyvalq;

#define SC_MAX_TRUST 64 /* --trust-proxy entries */
#define SC_MAX_WORKERS 256 /* --workers */

/* When Retry-After is sent. */
enum sc_retry_after {
	SC_RA_OVER = 0, /* on 429 only, as RFC 9110 (the default) */
	SC_RA_ALWAYS, /* on every counted response, as Flask-Limiter */
};

struct sc_config {
	const char *listen; /* ADDR:PORT of the proxy, or NULL */
	const char *upstream; /* HOST:PORT of the application */
	const char *auth_listen; /* ADDR:PORT of the auth endpoint */
	const char *metrics_listen; /* ADDR:PORT of /metrics */
	const char *pin_dir;
	struct xl_lpm_key trust[SC_MAX_TRUST];
	int ntrust;
	bool trust_real_ip; /* X-Real-IP of a trusted peer names the client */
	enum sc_retry_after retry_after;
	bool ietf; /* RateLimit-Policy and RateLimit fields */
	bool charge_first; /* the kernel does not see the SYNs */
	int upstream_timeout; /* seconds: slower is 504 */
	int client_timeout; /* seconds idle while sending or reading */
	int header_timeout; /* seconds for a request's head: more is 400 */
	long max_header_size; /* bytes of request headers: more is 431 */
	long max_body_size; /* bytes of request body: more is 413 */
	long max_buffered; /* request bytes held in all: more is 413 */
	long max_response_size; /* response bytes held for a client */
	long max_connections; /* client connections per listener */
	long upstream_connections; /* to the application: more is 503 */
	bool verbose;
	const char *user; /* --user: run as this user after start */
	int workers; /* threads, each with its own loop and listeners */
};

extern struct sc_config sc_cfg;

/* ---- limit.c: who the client is and what the kernel says ---------- */

/* Opens the pinned objects under sc_cfg.pin_dir. 0 or -errno. */
int sc_kernel_open(void);
void sc_kernel_close(void);
/* Closes and opens the pins again (SIGHUP). */
void sc_kernel_reopen(void);
/* fds of xl_rules and xl_stats, for the metrics. */
int sc_rules_fd(void);
int sc_stats_fd(void);

/* What to do with a request. */
enum sc_verdict {
	SC_NOT_COUNTED = 0, /* no rule, or allow-listed: no headers */
	SC_WITHIN, /* counted and within the limits: headers */
	SC_OVER, /* over a limit: 429 with headers */
	SC_DENIED, /* deny-listed: 403 */
	SC_ERROR, /* the kernel could not be asked: pass without headers */
};

struct sc_decision {
	enum sc_verdict verdict;
	struct xl_client client; /* the port's, or the route's that applied */
	uint32_t report; /* index of the limit shown in headers */
	uint16_t port;
	char message[XL_ROUTE_MSG_MAX]; /* a route's 429 text, "" if none */
};

/* When a connection was accepted, on the datapath's coarse monotonic
 * clock (ns; 0: not known): `at`, read after the accept, so after the
 * SYN; `handshake`, when the kernel says it completed the handshake, at
 * most `at` and, its clock being coarse, maybe ticks before the SYN
 * (handshake.c). */
struct sc_accepted {
	uint64_t at, handshake;
};
/* The times of the connection on `fd`, just accepted. */
struct sc_accepted sc_accepted(int fd);
/* Whether limit `l`'s state shows the SYN of the connection accepted at
 * `a` as charged. */
bool sc_syn_seen(const struct xl_client_limit *l, struct sc_accepted a);

/* Decides one request of `addr` (v4-mapped) to `port`, the `nreq`-th on
 * its connection (1 = the first, whose SYN the kernel charged), matched
 * to routes already (sc_route_plan*()). `direct` says the kernel saw this
 * client's SYN (false when the client came from a proxy header);
 * `accepted` is when the connection was accepted: a first request is
 * only read when every limit shows its SYN charged (sc_syn_seen()).
 * First its port's limits, then the routes it matches (route.c, SEMANTICS.md
 * §5). An exempt route's request is not charged to the port; a request
 * the port refuses is not charged to its routes. The headers show the
 * route's limit when one applied, else the port's. */
struct sc_route_plan;
void sc_decide_planned(const struct sc_route_plan *p, const uint8_t addr[16],
		       uint16_t port, uint64_t nreq, bool direct,
		       struct sc_accepted accepted, struct sc_decision *d);
/* Text as HTML (markupsafe's escapes, as Flask's error pages) into buf;
 * cut at len - 1 bytes, never inside an escape. */
void sc_html_escape(const char *s, char *buf, size_t len);

/* Where rate-limit headers go: has(arg, name) says whether the response
 * has that header already (NULL: never), add(arg, name, value) adds one. */
struct sc_sink {
	bool (*has)(void *arg, const char *name);
	void (*add)(void *arg, const char *name, const char *value);
	void *arg;
};
/* Adds the rate-limit headers of `d`, leaving any the application set
 * alone. `over` says the response is the 429. */
void sc_put_headers(const struct sc_decision *d, const struct sc_sink *k,
		    bool over);
/* v in decimal, at the end of buf; returns where it starts. */
char *sc_u64_str(char buf[24], uint64_t v);

/* The body of a refusal with `code` (429 over the limit, 403 for a denied
 * client) into `body`: HTML, or problem+json when `accept` prefers JSON.
 * Returns its Content-Type. */
struct evbuffer;
const char *sc_refusal_body(const struct sc_decision *d, int code,
			    const char *accept, struct evbuffer *body);

/* accept.c: the q value (0 to 1) an Accept header gives a media type
 * "type/subtype": that of its most specific matching range (exact, then
 * "type/ *", then "* / *"), 0 if none matches. Linear in the header's
 * length. */
double sc_accept_q(const char *accept, const char *type);
/* True when `accept` prefers application/json or problem+json to
 * text/html; false without Accept. */
bool sc_prefers_json(const char *accept);

/* True when `addr` (v4-mapped) is in --trust-proxy. */
bool sc_trusted(const uint8_t addr[16]);
/* Any sockaddr to 16 bytes (v4-mapped for IPv4); -1 if not IP. */
int sc_sockaddr_addr(const struct sockaddr_storage *ss, uint8_t addr[16],
		     uint16_t *port);
/* The client behind a trusted proxy: the right-most address of the
 * X-Forwarded-For lines `xff` (in order) that is not itself trusted, else
 * (with --trust-real-ip) `real_ip`, the X-Real-IP. Returns 0 and fills
 * addr, or -1 when the headers name no address. */
int sc_forwarded_client(const char *const *xff, int nxff, const char *real_ip,
			uint8_t addr[16]);

/* ---- route.c: per-endpoint limits ------------------------------------ */

/* What a request is charged to, copied out of the route table. */
struct sc_route_plan {
	bool exempt; /* an exempt route: no limit at all */
	uint32_t exempt_id; /* ... its id, for its counter */
	int n; /* routes to charge, in order */
	uint32_t id[XL_ROUTE_SAME_PATH + 1]; /* the count of each */
	struct xl_route copy[XL_ROUTE_SAME_PATH + 1];
};

struct sc_route_decision {
	bool applied; /* some route's limits were charged */
	bool over; /* ... and one refused */
	struct xl_client client; /* the one to show */
	char message[XL_ROUTE_MSG_MAX];
};

/* Matches a request of `method` (an XL_METH_* bit, 0: another) to
 * `raw_path` (as sent: it is percent-decoded here) on `port` to routes;
 * the table is read again when xl_config's generation moved. */
void sc_route_plan(const char *raw_path, uint16_t method, uint16_t port,
		   struct sc_route_plan *p);
/* The XL_METH_* bit of a method's name, 0 for one of none. */
uint16_t sc_method_bit(const char *name);
/* The same for a request nginx names in an auth subrequest: its
 * $request_uri and $request_method. A URI without a path counts as a path
 * no route matches. */
void sc_route_plan_uri(const char *uri, const char *method, uint16_t port,
		       struct sc_route_plan *p);
/* Counts a request of the exempt route of p in xl_route_stats. */
void sc_route_exempt(const struct sc_route_plan *p);
/* Charges the client `addr` (v4-mapped) for the plan's routes, up to the
 * first that refuses. */
void sc_route_charge(const struct sc_route_plan *p, const uint8_t addr[16],
		     uint16_t port, struct sc_route_decision *rd);
/* Opens the pin NAME of the sidecar's pin directory into *fd: 0, or
 * -errno (and *fd < 0). */
int sc_pin_open(const char *name, int *fd);
/* The pin directory, as sc_kernel_open() found it (as root, before
 * --user: under `ip netns exec`, through /proc/PID/root). */
struct xl_ctx *sc_pin_ctx(void);
/* xl_config mapped read-only, or NULL when it cannot be (this user may
 * only read the pins, or the map is an older version's). */
const struct xl_config *sc_config_map(void);
/* xl_config as mapped by sc_routes_open(), or a copy of it at most a
 * tick of the coarse clock old where it cannot be mapped (a sidecar that
 * may only read it); NULL when neither can be had. Its words are read
 * with atomic loads. */
const struct xl_config *sc_config(void);
/* Opens (0 or -errno) and closes the route program and maps, this
 * worker's. */
int sc_routes_open(void);
void sc_routes_close(void);

/* ---- privs.c: --user ------------------------------------------------ */

/* Looks NAME up (at option parsing): 0, or -1 when there is no such user. */
int sc_user_lookup(const char *name);
/* Becomes --user, keeping only the capabilities still needed (none
 * without --user). 0, or -1 with a message. */
int sc_drop_privileges(void);

/* ---- proxy.c, auth.c, metrics.c ----------------------------------- */

/* Resolves --upstream once, at start (the first address getaddrinfo
 * gives): requests never wait for a lookup. 0, or -1 with a message. */
int sc_resolve_upstream(void);

/* Requests of which this worker's proxy sent the application a byte
 * (retries too). */
extern _Thread_local unsigned long sc_up_requests;

/* Each serves on `base` the listening socket `fd` (sc_listen()), which
 * it owns from then on. 0 or -errno, with a message. The proxy's core
 * serves both the proxy and the auth endpoint: sc_proxy_stop() ends
 * both. */
int sc_proxy_start(struct event_base *base, int fd);
int sc_auth_start(struct event_base *base, int fd);
int sc_metrics_start(struct event_base *base, int fd);
void sc_proxy_stop(void);
void sc_metrics_stop(void);

/* auth.c: the answer to an auth_request subrequest from `peer`, whose
 * fields find(arg, name) gives (NULL when absent): the decision in `d`,
 * and what to answer in `a`. */
typedef const char *sc_find_fn(void *arg, const char *name);
struct sc_auth_answer {
	int code; /* 204 within, 429 (or 403) over, 403 denied */
	const char *error; /* a subrequest refused (`code`): why; or NULL */
	const char *verdict; /* X-Xlimit-Verdict */
	char message[6 * XL_ROUTE_MSG_MAX]; /* X-Xlimit-Message, "" none */
};
void sc_auth_decide(const uint8_t peer[16], sc_find_fn *find, void *arg,
		    struct sc_decision *d, struct sc_auth_answer *a);

/* Parses "ADDR:PORT" or "[V6]:PORT" into host (without brackets) and
 * port. 0 or -1. */
int sc_parse_hostport(const char *s, char *host, size_t len, uint16_t *port);

/* ---- conn.c: client connections and their limits --------------------- */

struct evhttp;
typedef void (*sc_handler)(struct evhttp_request *req, void *arg);
/* The settings shared by every listener (timeouts, sizes, the connection
 * cap, the header deadline); each request goes to `handler`. `what` is
 * the listener's option, for messages. 0 or -errno. */
int sc_http_setup(struct evhttp *http, struct event_base *base,
		  const char *what, sc_handler handler);
/* A listening socket on ADDR:PORT (with SO_REUSEPORT when there are
 * several workers): the fd, or -errno with a message. */
int sc_listen(const char *what, const char *addr);
/* Has an evhttp accept on listening socket `fd` (closed on failure). */
int sc_bind(struct evhttp *http, const char *what, int fd);
/* A worker's share of a bound given for the whole process (rounded up). */
long sc_share(long total);
/* evhttp_free(), and what sc_http_setup() made for it. */
void sc_http_free(struct evhttp *http);
void sc_conns_free(void);
/* The budget of --max-buffered request bytes: what the proxy holds on
 * top of what the connections are reading. */
void sc_buffer_hold(size_t n);
void sc_buffer_release(size_t n);
bool sc_buffer_full(void);
/* The bytes in it now. */
size_t sc_buffered(void);

/* ---- metrics.c: what the sidecar counts ----------------------------- */

enum sc_counter {
	SC_C_REQUESTS, /* requests answered by the proxy */
	SC_C_LIMITED, /* of which 429 */
	SC_C_DENIED, /* of which 403 (deny list) */
	SC_C_UPSTREAM_CONNECT, /* 502: the application was unreachable */
	SC_C_UPSTREAM_TIMEOUT, /* 504: the application was too slow */
	SC_C_UPSTREAM_BUSY, /* 503: --upstream-connections all in use */
	SC_C_UPSTREAM_TOO_LARGE, /* 502: its headers over SC_UP_MAX_HEADERS */
	SC_C_AUTH_REQUESTS, /* auth_request subrequests */
	SC_C_AUTH_LIMITED, /* of which 429 */
	SC_C_KERNEL_ERRORS, /* the syscall program could not be run */
	SC_C_NR,
};

/* Room for the counters of `workers` workers (before they start); 0 or
 * -ENOMEM. */
int sc_stats_init(int workers);
/* The calling thread counts as worker `worker` from now on. */
void sc_stats_bind(int worker);
void sc_count(enum sc_counter c);
/* Records one proxied request's latency, in seconds. */
void sc_observe_latency(double seconds);
/* Coarse monotonic ns (CLOCK_MONOTONIC_COARSE), the clock of the
 * datapath's windows. */
uint64_t sc_mono_ns(void);
/* Monotonic seconds, for latencies. */
double sc_now(void);

#endif /* XL_SIDECAR_H */
