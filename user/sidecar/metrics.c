// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * /metrics of xlimit-sidecar, in Prometheus' text format, on a listen
 * address of its own: the datapath's per-rule counters (xl_stats summed
 * over CPUs, labelled by the rule's port, as `xlimit stats` shows them),
 * the per-route counters of every sidecar process (xl_route_stats, by
 * port, path and methods) and this one's own counters and request
 * latency histogram.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "route.h"
#include "sidecar.h"

static _Thread_local struct evhttp *metrics_http;

/* Latency buckets, seconds (upper bounds; +Inf is implied). */
static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
				  0.025,  0.05,	 0.1,	 0.25,	0.5,
				  1,	  2.5,	 5,	 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

/* What one worker counts: written by it alone (no locked instruction),
 * read by the worker serving /metrics, each word whole. */
struct sc_stats {
	uint64_t counters[SC_C_NR];
	uint64_t bucket_counts[NBUCKETS + 1];
	uint64_t latency_count;
	uint64_t latency_ns;
} __attribute__((aligned(64))); /* no cache line shared */

static struct sc_stats solo; /* before sc_stats_init(), and for 1 */
static struct sc_stats *all_stats = &solo;
static int nstats = 1;
static _Thread_local struct sc_stats *my_stats = &solo;

int sc_stats_init(int workers)
{
	struct sc_stats *s;

	if (workers <= 1)
		return 0;
	s = aligned_alloc(64, workers * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, workers * sizeof(*s));
	all_stats = s;
	nstats = workers;
	return 0;
}

void sc_stats_bind(int worker)
{
	my_stats = &all_stats[worker < nstats ? worker : 0];
}

static void bump(uint64_t *v, uint64_t n)
{
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

/* The sum over the workers of the word at `off` in their stats. */
static uint64_t sum(size_t off)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < nstats; i++)
		n += __atomic_load_n((uint64_t *)((char *)&all_stats[i] + off),
				     __ATOMIC_RELAXED);
	return n;
}

#define SUM(field) sum((char *)&all_stats->field - (char *)all_stats)

void sc_count(enum sc_counter c)
{
	bump(&my_stats->counters[c], 1);
}

void sc_observe_latency(double seconds)
{
	size_t i;

	for (i = 0; i < NBUCKETS && seconds > buckets[i]; i++)
		;
	bump(&my_stats->bucket_counts[i], 1);
	bump(&my_stats->latency_count, 1);
	bump(&my_stats->latency_ns, seconds > 0 ? seconds * 1e9 : 0);
}

uint64_t sc_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

double sc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void kernel_metrics(struct evbuffer *b)
{
	static struct xl_stat_row rows[XL_MAX_RULES];
	int n = xl_stat_rows(sc_rules_fd(), sc_stats_fd(), rows), i, j;

	evbuffer_add_printf(
		b,
		"# HELP xlimit_kernel_syns_total New connections (SYNs) the datapath counted, by rule port and outcome (seen = all of them).\n"
		"# TYPE xlimit_kernel_syns_total counter\n");
	for (i = 0; i < n; i++)
		for (j = 0; j < XL_STAT_NR; j++)
			evbuffer_add_printf(
				b,
				"xlimit_kernel_syns_total{port=\"%u\",result=\"%s\"} %llu\n",
				rows[i].port, xl_stat_names[j],
				(unsigned long long)rows[i].s.c[j]);
}

/* A label value: backslash and double quote escaped (a path has no
 * newline). */
static void label_value(struct evbuffer *b, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && s[i]; i++)
		evbuffer_add_printf(b, "%s%c",
				    s[i] == '\\' || s[i] == '"' ? "\\" : "",
				    s[i]);
}

/* Each route's counters, read from the pins at each scrape: what the
 * xlimit_route program counted for every worker and process. */
static void route_metrics(struct evbuffer *b)
{
	int routes_fd = -1, rstats_fd = -1, n = 0, i, j;
	struct xl_route_row *rows = NULL;
	struct xl_rstats *st = NULL;
	char methods[64];

	if (!sc_pin_open(XL_STR(XL_MAP_ROUTES), &routes_fd) &&
	    !sc_pin_open(XL_STR(XL_MAP_RSTATS), &rstats_fd))
		n = xl_route_stat_rows_new(routes_fd, rstats_fd, &rows, &st);
	evbuffer_add_printf(
		b,
		"# HELP xlimit_route_requests_total Requests charged to a route (xlimit route), by its port, path and methods (\"\": every method) and what they came to: passed (within its limits), limited (over one: 429), exempted (an exempt route's).\n"
		"# TYPE xlimit_route_requests_total counter\n");
	for (i = 0; i < n; i++) {
		xl_route_methods_format(rows[i].key.methods, methods,
					sizeof(methods));
		for (j = 0; j < XL_RSTAT_NR; j++) {
			/* an exempt route's requests are never charged, the
			 * others' never exempted */
			if ((j == XL_RSTAT_EXEMPTED) !=
			    !!(rows[i].r.flags & XL_ROUTE_EXEMPT))
				continue;
			evbuffer_add_printf(
				b,
				"xlimit_route_requests_total{port=\"%u\",path=\"",
				rows[i].key.port);
			label_value(b, rows[i].key.path, XL_ROUTE_PATH_MAX);
			evbuffer_add_printf(
				b, "\",methods=\"%s\",result=\"%s\"} %llu\n",
				methods, xl_rstat_names[j],
				(unsigned long long)st[i].c[j]);
		}
	}
	free(rows);
	free(st);
	if (routes_fd >= 0)
		close(routes_fd);
	if (rstats_fd >= 0)
		close(rstats_fd);
}

static void counter(struct evbuffer *b, const char *name, const char *help,
		    const char *labels, enum sc_counter c, bool head)
{
	if (head)
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s counter\n",
				    name, help, name);
	evbuffer_add_printf(b, "%s%s %llu\n", name, labels,
			    (unsigned long long)SUM(counters[c]));
}

static void own_metrics(struct evbuffer *b)
{
	uint64_t cum = 0;
	size_t i;

	counter(b, "xlimit_sidecar_requests_total",
		"Requests the proxy answered.", "", SC_C_REQUESTS, true);
	counter(b, "xlimit_sidecar_limited_total",
		"Requests the proxy answered 429 (over a limit).", "",
		SC_C_LIMITED, true);
	counter(b, "xlimit_sidecar_denied_total",
		"Requests the proxy answered 403 (deny list).", "", SC_C_DENIED,
		true);
	counter(b, "xlimit_sidecar_upstream_errors_total",
		"Requests the application did not answer: connect = 502, timeout = 504, busy = 503 (--upstream-connections in use), too_large = 502 (its headers over 256 KiB); connect and timeout also count responses cut after their head.",
		"{kind=\"connect\"}", SC_C_UPSTREAM_CONNECT, true);
	counter(b, "xlimit_sidecar_upstream_errors_total", NULL,
		"{kind=\"timeout\"}", SC_C_UPSTREAM_TIMEOUT, false);
	counter(b, "xlimit_sidecar_upstream_errors_total", NULL,
		"{kind=\"busy\"}", SC_C_UPSTREAM_BUSY, false);
	counter(b, "xlimit_sidecar_upstream_errors_total", NULL,
		"{kind=\"too_large\"}", SC_C_UPSTREAM_TOO_LARGE, false);
	counter(b, "xlimit_sidecar_auth_requests_total",
		"nginx auth_request subrequests answered.", "",
		SC_C_AUTH_REQUESTS, true);
	counter(b, "xlimit_sidecar_auth_limited_total",
		"auth_request subrequests answered 429.", "", SC_C_AUTH_LIMITED,
		true);
	counter(b, "xlimit_sidecar_kernel_errors_total",
		"Requests the kernel's state could not be read or charged for (passed without headers).",
		"", SC_C_KERNEL_ERRORS, true);
	evbuffer_add_printf(
		b,
		"# HELP xlimit_sidecar_buffered_bytes Request bytes the sidecar holds now (read from clients, not yet taken by the application): the share of --max-buffered in use.\n"
		"# TYPE xlimit_sidecar_buffered_bytes gauge\n"
		"xlimit_sidecar_buffered_bytes %zu\n",
		sc_buffered());
	evbuffer_add_printf(
		b,
		"# HELP xlimit_sidecar_request_duration_seconds Time from a request to its answer, through the proxy.\n"
		"# TYPE xlimit_sidecar_request_duration_seconds histogram\n");
	for (i = 0; i < NBUCKETS; i++) {
		cum += SUM(bucket_counts[i]);
		evbuffer_add_printf(
			b,
			"xlimit_sidecar_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			buckets[i], (unsigned long long)cum);
	}
	evbuffer_add_printf(
		b,
		"xlimit_sidecar_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		"xlimit_sidecar_request_duration_seconds_sum %.6f\n"
		"xlimit_sidecar_request_duration_seconds_count %llu\n",
		(unsigned long long)SUM(latency_count), SUM(latency_ns) / 1e9,
		(unsigned long long)SUM(latency_count));
	evbuffer_add_printf(
		b,
		"# HELP xlimit_sidecar_worker_requests_total Requests the proxy answered, by worker (--workers).\n"
		"# TYPE xlimit_sidecar_worker_requests_total counter\n");
	for (i = 0; i < (size_t)nstats; i++)
		evbuffer_add_printf(
			b,
			"xlimit_sidecar_worker_requests_total{worker=\"%zu\"} %llu\n",
			i,
			(unsigned long long)__atomic_load_n(
				&all_stats[i].counters[SC_C_REQUESTS],
				__ATOMIC_RELAXED));
}

static void metrics_request(struct evhttp_request *req, void *arg)
{
	const char *path =
		evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *b;

	(void)arg;
	if (!path || strcmp(path, "/metrics")) {
		evhttp_send_error(req, 404, "Not Found (try /metrics)");
		return;
	}
	b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	kernel_metrics(b);
	route_metrics(b);
	own_metrics(b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

int sc_metrics_start(struct event_base *base, int fd)
{
	metrics_http = evhttp_new(base);
	if (!metrics_http)
		return -ENOMEM;
	if (sc_http_setup(metrics_http, base, "metrics-listen",
			  metrics_request))
		return -ENOMEM;
	evhttp_set_allowed_methods(metrics_http,
				   EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	return sc_bind(metrics_http, "metrics-listen", fd);
}

void sc_metrics_stop(void)
{
	if (metrics_http)
		sc_http_free(metrics_http);
	metrics_http = NULL;
}
