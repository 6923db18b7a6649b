// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlimit-sidecar: command line, the libevent loop and its listeners. The
 * sidecar sits in front of an HTTP application (or beside nginx, as its
 * auth_request endpoint) and shows each client what the kernel's xlimit
 * state says about it: X-RateLimit-* headers, and 429 over the limit.
 * Exit codes as the CLI's: 0 stopped by a signal, 1 failed, 2 bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h> /* before libevent's: TAILQ_FIRST */
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "msg.h"
#include "opt.h"
#include "xlimit_lib.h"
#include "sidecar.h"

struct sc_config sc_cfg = {
	.pin_dir = XL_PIN_DIR,
	.retry_after = SC_RA_OVER,
	.upstream_timeout = 30,
	.client_timeout = 30,
	.header_timeout = 10,
	.max_header_size = 8192,
	.max_body_size = 8L << 20,
	.max_buffered = 128L << 20,
	.max_response_size = 1L << 20,
	.max_connections = 1024,
	.upstream_connections = 256,
	.workers = 1,
};

enum {
	O_LISTEN = 256,
	O_UPSTREAM,
	O_AUTH,
	O_METRICS,
	O_PIN,
	O_TRUST,
	O_REAL_IP,
	O_RETRY,
	O_IETF,
	O_CHARGE,
	O_UP_TO,
	O_CLI_TO,
	O_HDR_TO,
	O_MAX_HDR,
	O_MAX_BODY,
	O_MAX_BUF,
	O_MAX_RESP,
	O_MAX_CONN,
	O_UP_CONN,
	O_WORKERS,
	O_USER,
};

/* The options, and the usage text --help prints, from one table
 * (user/opt.h); docs/xlimit-sidecar.8 describes the same. */
static const struct xl_opt opts[] = {
	{ "listen", O_LISTEN, "ADDR:PORT",
	  "proxy the clients that connect here ..." },
	{ "upstream", O_UPSTREAM, "HOST:PORT",
	  "... to the application here (a name is\nresolved once, at start)" },
	{ "auth-listen", O_AUTH, "ADDR:PORT",
	  "answer nginx auth_request subrequests here" },
	{ "metrics-listen", O_METRICS, "ADDR:PORT",
	  "serve Prometheus /metrics here" },
	{ "pin-dir", O_PIN, "DIR",
	  "xlimit's pinned objects\n(default " XL_PIN_DIR ")" },
	{ "trust-proxy", O_TRUST, "CIDR...",
	  "peers whose X-Forwarded-For names the client,\n"
	  "and who may use --auth-listen (repeatable,\nor comma-separated)" },
	{ "user", O_USER, "NAME",
	  "run as NAME once the pins are open and the\n"
	  "listeners bound; with no capability when\n"
	  "NAME is in the pins' group (xlimit load\n"
	  "--pin-group), else keeping\nCAP_DAC_OVERRIDE to reopen the pins" },
	{ "trust-real-ip", O_REAL_IP, NULL,
	  "their X-Real-IP too, without X-Forwarded-For" },
	{ "retry-after", O_RETRY, "429|always",
	  "Retry-After on 429 only (default, RFC 9110)\n"
	  "or on every counted response (Flask-Limiter)" },
	{ "ietf-headers", O_IETF, NULL,
	  "add the IETF draft RateLimit-Policy and\nRateLimit fields" },
	{ "charge-first", O_CHARGE, NULL,
	  "charge the first request of a connection too:\n"
	  "the kernel does not see the clients' SYNs" },
	{ "upstream-timeout", O_UP_TO, "SECONDS",
	  "the application's answer, else 504 (default 30)" },
	{ "client-timeout", O_CLI_TO, "SECONDS",
	  "idle time while a client sends or reads\n(default 30)" },
	{ "header-timeout", O_HDR_TO, "SECONDS",
	  "a request's head from its first byte, else\n"
	  "400 and closed (default 10)" },
	{ "max-header-size", O_MAX_HDR, "BYTES",
	  "request headers, else 431 (default 8192)" },
	{ "max-body-size", O_MAX_BODY, "BYTES",
	  "request body, else 413 (default 8 MiB)" },
	{ "max-buffered", O_MAX_BUF, "BYTES",
	  "request bytes held in all, else 413\n(default 128 MiB)" },
	{ "max-response-size", O_MAX_RESP, "BYTES",
	  "response bytes held for a slow client\n"
	  "before the application is not read\n(default 1 MiB)" },
	{ "max-connections", O_MAX_CONN, "N",
	  "client connections per listener; past it\n"
	  "new ones wait in the backlog (default 1024)" },
	{ "upstream-connections", O_UP_CONN, "N",
	  "connections to the application, else 503\n(default 256)" },
	{ "workers", O_WORKERS, "N|auto",
	  "threads, each with its own event loop and\n"
	  "listeners (SO_REUSEPORT); auto: one per\nCPU (default 1)" },
	{ "verbose", 'v', NULL, "log kernel query errors" },
	{}
};

static const struct xl_usage usage = {
	.synopsis =
		"xlimit-sidecar [--listen ADDR:PORT --upstream HOST:PORT]\n"
		"               [--auth-listen ADDR:PORT] [--metrics-listen ADDR:PORT]\n"
		"               [OPTIONS]",
	.about =
		"Shows HTTP clients the limits xlimit enforces in the kernel:\n"
		"X-RateLimit-* headers on every response, 429 Too Many Requests\n"
		"over the limit.",
	.opts = opts,
	.after =
		"At least one of --listen (with --upstream) and --auth-listen\n"
		"is needed. Exit codes: 1 failed, 2 bad usage. See\n"
		"xlimit-sidecar(8).",
	.shorts = "v",
	.stop_at_operand = true, /* CIDR... stays after --trust-proxy */
};

static int bad_usage(const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	xl_err("%s; try 'xlimit-sidecar --help'", msg);
	return XL_EXIT_USAGE;
}

int sc_parse_hostport(const char *s, char *host, size_t len, uint16_t *port)
{
	const char *colon;
	size_t n;

	if (!s || !*s)
		return -1;
	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -1;
		n = end - s - 1;
		s++;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -1;
		n = colon - s;
	}
	if (n == 0 || n >= len)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return xl_parse_port(colon + 1, false, port);
}

/* The name of the option whose key is `key`. */
static const char *opt_name(int key)
{
	const struct xl_opt *o;

	for (o = opts; o->name && o->key != key; o++)
		;
	return o->name ? o->name : "?";
}

/* The whole number of option `key`, from min to max. */
static int parse_num(int key, const char *s, long min, long max, long *v)
{
	unsigned long n;

	if (xl_parse_num(s, min, max, &n)) {
		xl_err("--%s '%s': expected a whole number from %ld to %ld; try 'xlimit-sidecar --help'",
		       opt_name(key), s, min, max);
		return -1;
	}
	*v = n;
	return 0;
}

/* ADDR:PORT where ADDR is a literal address (it is bound). */
static int check_listen(int key, const char *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	uint8_t addr[16];
	uint16_t port;

	if (sc_parse_hostport(s, host, sizeof(host), &port) ||
	    xl_parse_addr(host, addr)) {
		xl_err("--%s '%s': expected ADDRESS:PORT (e.g. 0.0.0.0:80 or [::]:80); try 'xlimit-sidecar --help'",
		       opt_name(key), s);
		return -1;
	}
	return 0;
}

static int add_trust(const char *list)
{
	char buf[256], err[256];
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(buf))
			return bad_usage(
				"--trust-proxy '%s': empty or too long entry",
				list);
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (sc_cfg.ntrust == SC_MAX_TRUST)
			return bad_usage(
				"--trust-proxy: more than 64 entries ('%s')",
				buf);
		if (xl_parse_cidr(buf, &sc_cfg.trust[sc_cfg.ntrust], err,
				  sizeof(err))) {
			xl_err("--trust-proxy: %s; try 'xlimit-sidecar --help'",
			       err);
			return XL_EXIT_USAGE;
		}
		sc_cfg.ntrust++;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int parse_args(int argc, char **argv)
{
	char host[256];
	uint16_t port;
	long v;
	int c, rc;

	optind = 0;
	while ((c = xl_getopt(argc, argv, &usage)) >= 0) {
		switch (c) {
		case O_LISTEN:
			if (check_listen(O_LISTEN, optarg))
				return XL_EXIT_USAGE;
			sc_cfg.listen = optarg;
			break;
		case O_UPSTREAM:
			if (sc_parse_hostport(optarg, host, sizeof(host),
					      &port))
				return bad_usage(
					"--upstream '%s': expected HOST:PORT (e.g. 127.0.0.1:8080)",
					optarg);
			sc_cfg.upstream = optarg;
			break;
		case O_AUTH:
			if (check_listen(O_AUTH, optarg))
				return XL_EXIT_USAGE;
			sc_cfg.auth_listen = optarg;
			break;
		case O_METRICS:
			if (check_listen(O_METRICS, optarg))
				return XL_EXIT_USAGE;
			sc_cfg.metrics_listen = optarg;
			break;
		case O_PIN:
			if (!*optarg || strlen(optarg) >= PATH_MAX - 32)
				return bad_usage(
					"--pin-dir '%s': not a usable path",
					optarg);
			sc_cfg.pin_dir = optarg;
			break;
		case O_TRUST:
			rc = add_trust(optarg);
			/* CIDR...: the words up to the next option. */
			while (!rc && optind < argc && argv[optind][0] != '-')
				rc = add_trust(argv[optind++]);
			if (rc)
				return rc;
			break;
		case O_REAL_IP:
			sc_cfg.trust_real_ip = true;
			break;
		case O_RETRY:
			if (!strcmp(optarg, "429"))
				sc_cfg.retry_after = SC_RA_OVER;
			else if (!strcmp(optarg, "always"))
				sc_cfg.retry_after = SC_RA_ALWAYS;
			else
				return bad_usage(
					"--retry-after '%s': expected '429' or 'always'",
					optarg);
			break;
		case O_IETF:
			sc_cfg.ietf = true;
			break;
		case O_CHARGE:
			sc_cfg.charge_first = true;
			break;
		case O_UP_TO:
			if (parse_num(O_UP_TO, optarg, 1, 3600, &v))
				return XL_EXIT_USAGE;
			sc_cfg.upstream_timeout = v;
			break;
		case O_CLI_TO:
			if (parse_num(O_CLI_TO, optarg, 1, 3600, &v))
				return XL_EXIT_USAGE;
			sc_cfg.client_timeout = v;
			break;
		case O_MAX_HDR:
			if (parse_num(O_MAX_HDR, optarg, 256, 1L << 20, &v))
				return XL_EXIT_USAGE;
			sc_cfg.max_header_size = v;
			break;
		case O_MAX_BODY:
			if (parse_num(O_MAX_BODY, optarg, 0, 1L << 40, &v))
				return XL_EXIT_USAGE;
			sc_cfg.max_body_size = v;
			break;
		case O_HDR_TO:
			if (parse_num(O_HDR_TO, optarg, 1, 3600, &v))
				return XL_EXIT_USAGE;
			sc_cfg.header_timeout = v;
			break;
		case O_MAX_BUF:
			if (parse_num(O_MAX_BUF, optarg, 1L << 16, 1L << 40,
				      &v))
				return XL_EXIT_USAGE;
			sc_cfg.max_buffered = v;
			break;
		case O_MAX_RESP:
			if (parse_num(O_MAX_RESP, optarg, 0, 1L << 40, &v))
				return XL_EXIT_USAGE;
			sc_cfg.max_response_size = v;
			break;
		case O_MAX_CONN:
			if (parse_num(O_MAX_CONN, optarg, 1, 1L << 20, &v))
				return XL_EXIT_USAGE;
			sc_cfg.max_connections = v;
			break;
		case O_UP_CONN:
			if (parse_num(O_UP_CONN, optarg, 1, 1L << 16, &v))
				return XL_EXIT_USAGE;
			sc_cfg.upstream_connections = v;
			break;
		case O_WORKERS:
			if (!strcmp(optarg, "auto")) {
				v = sysconf(_SC_NPROCESSORS_ONLN);
				v = v < 1	       ? 1 :
				    v > SC_MAX_WORKERS ? SC_MAX_WORKERS :
							 v;
			} else if (parse_num(O_WORKERS, optarg, 1,
					     SC_MAX_WORKERS, &v)) {
				return XL_EXIT_USAGE;
			}
			sc_cfg.workers = v;
			break;
		case O_USER:
			if (sc_user_lookup(optarg))
				return bad_usage(
					"--user '%s': no such user (see getent passwd)",
					optarg);
			sc_cfg.user = optarg;
			break;
		case 'v':
			sc_cfg.verbose = true;
			break;
		}
	}
	if (c == XL_OPT_HELP)
		exit(XL_EXIT_OK);
	if (c != XL_OPT_END)
		return XL_EXIT_USAGE;
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (sc_cfg.listen && !sc_cfg.upstream)
		return bad_usage("%s--listen needs --upstream HOST:PORT", "");
	if (sc_cfg.upstream && !sc_cfg.listen)
		return bad_usage("%s--upstream needs --listen ADDR:PORT", "");
	if (!sc_cfg.listen && !sc_cfg.auth_listen)
		return bad_usage(
			"%snothing to do: give --listen and --upstream, or --auth-listen",
			"");
	if (sc_cfg.auth_listen && !sc_cfg.ntrust)
		return bad_usage(
			"%s--auth-listen needs --trust-proxy with nginx's address (e.g. --trust-proxy 127.0.0.1)",
			"");
	if (sc_cfg.trust_real_ip && !sc_cfg.ntrust)
		return bad_usage("%s--trust-real-ip needs --trust-proxy", "");
	if (sc_cfg.upstream && sc_resolve_upstream())
		return XL_EXIT_USAGE;
	return 0;
}

/* An event loop whose changes of the fds it watches reach the kernel once
 * per turn (the epoll changelist): evhttp turns a socket's EV_WRITE on
 * and off, and EV_READ off and on, around every message, and most of
 * these cancel out within the turn. (Unsafe with dup()ed fds: the
 * sidecar has none.) */
static struct event_base *new_base(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (!ec)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

/* ---- workers ------------------------------------------------------- */

/* One thread with its own loop, listeners, connections and kernel fds.
 * Worker 0 is the main thread; it also serves /metrics and takes the
 * signals, which it passes on to the others through their pipes. */
struct worker {
	int id;
	pthread_t thread;
	bool started; /* a thread of its own runs it */
	int fds[3]; /* listening: proxy, auth, metrics; -1 none */
	int cmd[2]; /* pipe to it: 'q' stop, 'h' reopen the pins */
	struct event_base *base;
	struct event *cmd_ev;
	int err; /* of its setup */
};

static struct worker *workers;
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static int nready; /* workers (not 0) done with their setup */

static void on_cmd(evutil_socket_t fd, short events, void *arg)
{
	struct worker *w = arg;
	char c[16];
	ssize_t n = read(fd, c, sizeof(c)), i;

	(void)events;
	for (i = 0; i < n; i++) {
		if (c[i] == 'q')
			event_base_loopbreak(w->base);
		else if (c[i] == 'h')
			sc_kernel_reopen();
	}
}

/* Hands listening socket `i` over: from then on its server owns it. */
static int take_fd(struct worker *w, int i)
{
	int fd = w->fds[i];

	w->fds[i] = -1;
	return fd;
}

/* In the worker's own thread: its thread-local state is made here. */
static int worker_setup(struct worker *w)
{
	sc_stats_bind(w->id);
	if (w->id && sc_kernel_open()) /* worker 0's are open already */
		return -1;
	w->base = new_base();
	if (!w->base) {
		xl_err("cannot create the event loop");
		return -1;
	}
	w->cmd_ev =
		event_new(w->base, w->cmd[0], EV_READ | EV_PERSIST, on_cmd, w);
	if (!w->cmd_ev || event_add(w->cmd_ev, NULL))
		return -1;
	if (w->fds[0] >= 0 && sc_proxy_start(w->base, take_fd(w, 0)))
		return -1;
	if (w->fds[1] >= 0 && sc_auth_start(w->base, take_fd(w, 1)))
		return -1;
	if (w->fds[2] >= 0 && sc_metrics_start(w->base, take_fd(w, 2)))
		return -1;
	return 0;
}

static void worker_teardown(struct worker *w)
{
	int i;

	sc_metrics_stop();
	sc_proxy_stop();
	sc_conns_free();
	if (w->cmd_ev)
		event_free(w->cmd_ev);
	w->cmd_ev = NULL;
	if (w->base)
		event_base_free(w->base);
	w->base = NULL;
	sc_kernel_close();
	for (i = 0; i < 3; i++)
		if (w->fds[i] >= 0)
			close(take_fd(w, i));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int err = worker_setup(w);

	pthread_mutex_lock(&ready_lock);
	w->err = err;
	nready++;
	pthread_cond_broadcast(&ready_cond);
	pthread_mutex_unlock(&ready_lock);
	if (!err && event_base_dispatch(w->base) < 0)
		xl_err("worker %d: event loop failed", w->id);
	worker_teardown(w);
	return NULL;
}

/* Tells every worker but 0 `cmd`. */
static void tell_workers(char cmd)
{
	int i;

	for (i = 1; i < sc_cfg.workers; i++)
		if (workers[i].started &&
		    write(workers[i].cmd[1], &cmd, 1) != 1)
			xl_err("worker %d: cannot tell it '%c': %s", i, cmd,
			       strerror(errno));
}

/* Every listening socket, bound as root before the privileges go. */
static int open_listeners(void)
{
	int i;

	for (i = 0; i < sc_cfg.workers; i++) {
		struct worker *w = &workers[i];

		if (sc_cfg.listen &&
		    (w->fds[0] = sc_listen("listen", sc_cfg.listen)) < 0)
			return -1;
		if (sc_cfg.auth_listen &&
		    (w->fds[1] = sc_listen("auth-listen", sc_cfg.auth_listen)) <
			    0)
			return -1;
		if (sc_cfg.metrics_listen && i == 0 &&
		    (w->fds[2] = sc_listen("metrics-listen",
					   sc_cfg.metrics_listen)) < 0)
			return -1;
	}
	return 0;
}

/* Workers 1.. in threads of their own, which inherit the user and
 * capabilities left and block the signals (worker 0 takes them). 0 when
 * all are set up. */
static int start_workers(void)
{
	sigset_t set, old;
	int i, err = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (i = 1; i < sc_cfg.workers; i++) {
		errno = pthread_create(&workers[i].thread, NULL, worker_main,
				       &workers[i]);
		if (errno) {
			xl_err("cannot start worker %d: %s", i,
			       strerror(errno));
			err = -1;
			break;
		}
		workers[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&ready_lock);
	while (nready < i - 1)
		pthread_cond_wait(&ready_cond, &ready_lock);
	pthread_mutex_unlock(&ready_lock);
	while (--i > 0)
		err |= workers[i].err;
	return err;
}

static void on_signal(evutil_socket_t sig, short events, void *arg)
{
	(void)events;
	if (sig == SIGHUP) {
		sc_kernel_reopen();
		tell_workers('h');
		return;
	}
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct event *sigev[3] = {};
	struct event_base *base;
	int rc, i, ret = XL_EXIT_FAIL;

	xl_progname = "xlimit-sidecar";
	rc = parse_args(argc, argv);
	if (rc)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if (sc_kernel_open())
		return XL_EXIT_FAIL;
	workers = calloc(sc_cfg.workers, sizeof(*workers));
	if (!workers || sc_stats_init(sc_cfg.workers)) {
		xl_err("out of memory");
		sc_kernel_close();
		return XL_EXIT_FAIL;
	}
	for (i = 0; i < sc_cfg.workers; i++) {
		workers[i].id = i;
		workers[i].fds[0] = workers[i].fds[1] = workers[i].fds[2] = -1;
		if (pipe2(workers[i].cmd, O_CLOEXEC | O_NONBLOCK)) {
			xl_err("cannot make a pipe: %s", strerror(errno));
			workers[i].cmd[0] = workers[i].cmd[1] = -1;
			goto cleanup;
		}
	}
	if (open_listeners() || sc_drop_privileges() || start_workers() ||
	    worker_setup(&workers[0]))
		goto cleanup;
	base = workers[0].base;
	for (i = 0; i < 3; i++) {
		sigev[i] = evsignal_new(base, sigs[i], on_signal, base);
		if (!sigev[i] || evsignal_add(sigev[i], NULL)) {
			xl_err("cannot handle signals");
			goto cleanup;
		}
	}
	if (event_base_dispatch(base) < 0) {
		xl_err("event loop failed");
		goto cleanup;
	}
	ret = XL_EXIT_OK;
cleanup:
	tell_workers('q');
	for (i = 1; i < sc_cfg.workers; i++)
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
	for (i = 0; i < 3; i++)
		if (sigev[i])
			event_free(sigev[i]);
	if (workers) {
		worker_teardown(&workers[0]);
		for (i = 0; i < sc_cfg.workers; i++) {
			struct worker *w = &workers[i];
			int j;

			for (j = 0; j < 3; j++)
				if (w->fds[j] >= 0)
					close(w->fds[j]);
			for (j = 0; j < 2; j++)
				if (w->cmd[j] >= 0)
					close(w->cmd[j]);
		}
		free(workers);
	}
	return ret;
}
