// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The client connections of the listener xlimit-sidecar serves with
 * libevent's evhttp (--metrics-listen; the proxy and the auth endpoint
 * have their own, proxy.c), the limits that keep them from using up the
 * process, and the --max-buffered budget all connections share: at most
 * --max-connections per listener (past it the listener stops accepting
 * and the kernel's backlog holds the newcomers until one closes), a
 * pause instead of a busy loop when accept() fails for want of fds, a
 * deadline of --header-timeout for a request's head from its first byte,
 * and a budget of --max-buffered bytes of request data across all
 * connections (a request that would go past it is answered 413).
 *
 * libevent 2.1's evhttp has no hook for a new connection, only one that
 * makes its bufferevent (evhttp_set_bevcb). A connection is counted
 * there and adopted right after, from an event activated in the same
 * loop pass, once evhttp has made the evhttp_connection: its close
 * callback then says when it is gone. evhttp does not say when a
 * request's head is complete either; at the deadline the connection's
 * header bound drops to 0 and evhttp is made to look at its input again:
 * a request still in its head fails there (400, and the connection is
 * closed), one already in its body goes on. The bound is restored when
 * the request reaches the sidecar.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "sidecar.h"

#define SC_MAX_SERVERS 1 /* metrics */
#define SC_MAX_BOUND 4 /* listening sockets per server */
#define SC_ACCEPT_PAUSE_MS 250 /* after accept() ran out of fds */
#define SC_LOG_EVERY_S 10 /* one accept error line per this */

struct sc_server {
	struct evhttp *http;
	struct event_base *base;
	const char *what; /* its option, for messages */
	sc_handler handler;
	struct evconnlistener *lev[SC_MAX_BOUND];
	int nlev;
	long nconns;
	bool fd_pause; /* accept() failed: paused for a moment */
	struct event *resume;
	time_t logged; /* last accept error line */
	unsigned long unlogged; /* errors since */
};

enum conn_state {
	C_NEW, /* accepted, not adopted yet */
	C_IDLE, /* waiting for a request's first byte */
	C_HEAD, /* reading a request: the deadline runs */
	C_BUSY, /* the request is with the sidecar */
};

struct sc_conn {
	struct sc_server *srv;
	struct bufferevent *bev;
	struct evhttp_connection *evcon;
	struct evbuffer_cb_entry *watch;
	struct event ev; /* adoption, then the header deadline */
	enum conn_state state;
	bool squeezed; /* its header or body bound was lowered */
	size_t buffered; /* bytes of its input in the budget */
};

/* Each worker has its own listeners and connections. */
static _Thread_local struct sc_server servers[SC_MAX_SERVERS];
static _Thread_local int nservers;
/* The connection of each fd, to find it from a request. */
static _Thread_local struct sc_conn **by_fd;
static _Thread_local size_t nby_fd;
static size_t buffered; /* request bytes held, all connections, workers */

/* ---- the budget of buffered request bytes ---------------------------- */

void sc_buffer_hold(size_t n)
{
	if (n)
		__atomic_fetch_add(&buffered, n, __ATOMIC_RELAXED);
}

void sc_buffer_release(size_t n)
{
	size_t old = __atomic_load_n(&buffered, __ATOMIC_RELAXED);

	while (n && !__atomic_compare_exchange_n(
			    &buffered, &old, n < old ? old - n : 0, true,
			    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

bool sc_buffer_full(void)
{
	return __atomic_load_n(&buffered, __ATOMIC_RELAXED) >
	       (size_t)sc_cfg.max_buffered;
}

size_t sc_buffered(void)
{
	return __atomic_load_n(&buffered, __ATOMIC_RELAXED);
}

long sc_share(long total)
{
	return (total + sc_cfg.workers - 1) / sc_cfg.workers;
}

/* ---- listeners ------------------------------------------------------- */

static struct sc_server *server_of(const struct evhttp *http)
{
	int i;

	for (i = 0; i < nservers; i++)
		if (servers[i].http == http)
			return &servers[i];
	return NULL;
}

/* Accepts while under the connection cap and not out of fds. */
static void update_listeners(struct sc_server *s)
{
	bool on = !s->fd_pause && s->nconns < sc_share(sc_cfg.max_connections);
	int i;

	for (i = 0; i < s->nlev; i++) {
		if (on)
			evconnlistener_enable(s->lev[i]);
		else
			evconnlistener_disable(s->lev[i]);
	}
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct sc_server *s = arg;

	(void)fd;
	(void)what;
	s->fd_pause = false;
	update_listeners(s);
}

/* accept() failed with more than "try again": out of fds (EMFILE,
 * ENFILE) or of memory. Retrying at once would spin, so the listener
 * rests a moment; the kernel's backlog keeps the clients meanwhile. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct sc_server *s = server_of(arg);
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, SC_ACCEPT_PAUSE_MS * 1000 };
	time_t now = time(NULL);

	if (!s) {
		evconnlistener_disable(lev);
		return;
	}
	s->fd_pause = true;
	update_listeners(s);
	evtimer_add(s->resume, &tv);
	if (now - s->logged < SC_LOG_EVERY_S) {
		s->unlogged++;
		return;
	}
	xl_err("--%s: cannot accept a connection: %s; pausing %d ms (%lu more such errors since the last line)",
	       s->what, strerror(err), SC_ACCEPT_PAUSE_MS, s->unlogged);
	s->logged = now;
	s->unlogged = 0;
}

/* ---- connections ----------------------------------------------------- */

static struct sc_conn *conn_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	int fd;

	if (!evcon)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	fd = bufferevent_getfd(bev);
	if (fd < 0 || (size_t)fd >= nby_fd || !by_fd[fd] ||
	    by_fd[fd]->bev != bev)
		return NULL;
	return by_fd[fd];
}

/* Gives back the bounds a connection's last request had lowered. */
static void unsqueeze(struct sc_conn *c)
{
	if (!c->squeezed)
		return;
	evhttp_connection_set_max_headers_size(c->evcon,
					       4 * sc_cfg.max_header_size);
	evhttp_connection_set_max_body_size(c->evcon, sc_cfg.max_body_size);
	c->squeezed = false;
}

static void arm_deadline(struct sc_conn *c)
{
	struct timeval tv = { sc_cfg.header_timeout, 0 };

	c->state = C_HEAD;
	evtimer_add(&c->ev, &tv);
}

static void conn_free(struct sc_conn *c)
{
	int fd = bufferevent_getfd(c->bev);

	if (fd >= 0 && (size_t)fd < nby_fd && by_fd[fd] == c)
		by_fd[fd] = NULL;
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
	sc_buffer_release(c->buffered);
	event_del(&c->ev);
	c->srv->nconns--;
	update_listeners(c->srv);
	free(c);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
	struct sc_conn *c = arg;

	(void)evcon;
	conn_free(c);
}

/* Every change of a connection's input: the budget, and the first byte
 * of a request starts its deadline. */
static void on_input(struct evbuffer *b, const struct evbuffer_cb_info *info,
		     void *arg)
{
	struct sc_conn *c = arg;

	(void)b;
	c->buffered += info->n_added;
	c->buffered -= info->n_deleted < c->buffered ? info->n_deleted :
						       c->buffered;
	sc_buffer_hold(info->n_added);
	sc_buffer_release(info->n_deleted);
	if (!info->n_added || c->state == C_NEW || c->state == C_BUSY)
		return;
	if (c->state == C_IDLE)
		arm_deadline(c);
	if (sc_buffer_full()) {
		/* evhttp reads and drops the rest of the body, then
		 * answers 413 and closes (lingering close). */
		evhttp_connection_set_max_body_size(c->evcon, 0);
		c->squeezed = true;
	}
}

static void on_deadline(struct sc_conn *c)
{
	struct bufferevent *bev = c->bev;

	evhttp_connection_set_max_headers_size(c->evcon, 0);
	c->squeezed = true;
	/* May free c (and close the connection). */
	bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

static void adopt(struct sc_conn *c)
{
	struct bufferevent *bev = c->bev;
	void *evcon = NULL;
	int fd = bufferevent_getfd(bev);

	bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
	if (!evcon || fd < 0) { /* evhttp gave up on it already */
		conn_free(c);
		bufferevent_decref(bev);
		return;
	}
	if ((size_t)fd >= nby_fd) {
		size_t n = (size_t)fd * 2 + 64;
		struct sc_conn **t = realloc(by_fd, n * sizeof(*t));

		if (t) {
			memset(t + nby_fd, 0, (n - nby_fd) * sizeof(*t));
			by_fd = t;
			nby_fd = n;
		}
	}
	if ((size_t)fd < nby_fd)
		by_fd[fd] = c;
	c->evcon = evcon;
	evhttp_connection_set_closecb(evcon, on_close, c);
	c->state = C_IDLE;
	if (evbuffer_get_length(bufferevent_get_input(bev)))
		arm_deadline(c);
	bufferevent_decref(bev);
}

static void on_conn_event(evutil_socket_t fd, short what, void *arg)
{
	struct sc_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == C_NEW)
		adopt(c);
	else if (c->state == C_HEAD)
		on_deadline(c);
}

/* evhttp accepted a connection and asks for its bufferevent. */
static struct bufferevent *new_bev(struct event_base *base, void *arg)
{
	struct sc_server *s = arg;
	struct sc_conn *c = calloc(1, sizeof(*c));

	if (!c) /* evhttp makes its own: not counted */
		return NULL;
	/* Options 0: evhttp closes the socket itself, when it is done. */
	c->bev = bufferevent_socket_new(base, -1, 0);
	if (!c->bev) {
		free(c);
		return NULL;
	}
	c->watch = evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c);
	if (!c->watch) {
		bufferevent_free(c->bev);
		free(c);
		return NULL;
	}
	c->srv = s;
	c->state = C_NEW;
	/* Held until adopt(), so that the pointer stays good even if evhttp
	 * frees the connection before. */
	bufferevent_incref(c->bev);
	evtimer_assign(&c->ev, base, on_conn_event, c);
	event_active(&c->ev, EV_TIMEOUT, 0);
	s->nconns++;
	update_listeners(s);
	return c->bev;
}

static void on_complete(struct evhttp_request *req, void *arg)
{
	struct sc_conn *c = arg;

	(void)req;
	c->state = C_IDLE;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)))
		arm_deadline(c); /* the next request, pipelined */
}

/* Every request reaches its handler through here. */
static void dispatch(struct evhttp_request *req, void *arg)
{
	struct sc_server *s = arg;
	struct sc_conn *c = conn_of(req);

	if (c && c->state != C_NEW) {
		c->state = C_BUSY;
		event_del(&c->ev);
		unsqueeze(c);
		evhttp_request_set_on_complete_cb(req, on_complete, c);
	}
	s->handler(req, NULL);
}

int sc_http_setup(struct evhttp *http, struct event_base *base,
		  const char *what, sc_handler handler)
{
	struct sc_server *s;

	if (nservers == SC_MAX_SERVERS)
		return -ENOSPC;
	s = &servers[nservers];
	memset(s, 0, sizeof(*s));
	s->resume = evtimer_new(base, on_resume, s);
	if (!s->resume)
		return -ENOMEM;
	s->http = http;
	s->base = base;
	s->what = what;
	s->handler = handler;
	nservers++;
	evhttp_set_timeout(http, sc_cfg.client_timeout);
	/* Up to 4x the bound, evhttp reads the headers; past it evhttp
	 * closes with its own 400. */
	evhttp_set_max_headers_size(http, 4 * sc_cfg.max_header_size);
	evhttp_set_max_body_size(http, sc_cfg.max_body_size);
	/* A body over the bound is read and dropped before the 413, so the
	 * client, still sending, sees the answer rather than a reset. */
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_bevcb(http, new_bev, s);
	evhttp_set_gencb(http, dispatch, s);
	return 0;
}

int sc_listen(const char *what, const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_PASSIVE },
			*ai;
	char host[INET6_ADDRSTRLEN + 1], port_s[8];
	int fd, on = 1, err;
	uint16_t port;

	if (sc_parse_hostport(addr, host, sizeof(host), &port))
		return -EINVAL;
	snprintf(port_s, sizeof(port_s), "%u", port);
	if (getaddrinfo(host, port_s, &hints, &ai))
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    /* One listener per worker, the kernel spreading the
	     * connections: only with more than one. */
	    (sc_cfg.workers > 1 &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on))) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
		err = errno;
		xl_err("--%s %s: cannot listen there: %s", what, addr,
		       strerror(err));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -err;
	}
	freeaddrinfo(ai);
	return fd;
}

int sc_bind(struct evhttp *http, const char *what, int fd)
{
	struct sc_server *s = server_of(http);
	struct evhttp_bound_socket *bound;

	/* evhttp owns the socket from here, and closes it. */
	bound = evhttp_accept_socket_with_handle(http, fd);
	if (!bound) {
		xl_err("--%s: cannot accept connections: %s", what,
		       strerror(errno ? errno : ENOMEM));
		close(fd);
		return -ENOMEM;
	}
	if (s && s->nlev < SC_MAX_BOUND) {
		s->lev[s->nlev] = evhttp_bound_socket_get_listener(bound);
		evconnlistener_set_error_cb(s->lev[s->nlev++], on_accept_error);
	}
	return 0;
}

void sc_http_free(struct evhttp *http)
{
	struct sc_server *s = server_of(http);

	if (!http)
		return;
	/* evhttp_free() frees the listeners before it closes the
	 * connections, whose on_close would turn them back on. */
	if (s)
		s->nlev = 0;
	evhttp_free(http); /* closes its connections: on_close */
	if (s) {
		event_free(s->resume);
		memset(s, 0, sizeof(*s));
	}
}

void sc_conns_free(void)
{
	free(by_fd);
	by_fd = NULL;
	nby_fd = 0;
}
