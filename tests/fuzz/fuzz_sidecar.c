// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: xlimit-sidecar's request handling, in process. The
 * input is what one client sends on one connection to the sidecar's proxy
 * (its real evhttp listener, the code of user/sidecar/, on loopback); the
 * application behind it is a strict HTTP/1.1 reader here that frames each
 * request by its Content-Length. Whatever the client sends, the
 * application must see exactly the requests the sidecar forwarded (no
 * smuggled extra one, no partial one left over), each with at most one
 * Content-Length, no Transfer-Encoding and a target without blanks or
 * control characters. The kernel side is absent (a pin directory that
 * does not exist): every request takes the "kernel could not be asked"
 * path and is forwarded without rate-limit headers.
 *
 * evhttp_make_request is wrapped (-Wl,--wrap) to count what the sidecar
 * forwards.
 */
#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "sidecar/sidecar.h"

static struct event_base *base;
static uint16_t proxy_port;
static unsigned long forwarded, seen, answered;
static int partial; /* upstream connections holding part of a request */

int __real_evhttp_make_request(struct evhttp_connection *evcon,
			       struct evhttp_request *req,
			       enum evhttp_cmd_type type, const char *uri);

int __wrap_evhttp_make_request(struct evhttp_connection *evcon,
			       struct evhttp_request *req,
			       enum evhttp_cmd_type type, const char *uri)
{
	int rc = __real_evhttp_make_request(evcon, req, type, uri);

	if (rc == 0)
		forwarded++;
	return rc;
}

#define CHECK(cond)                                                   \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "fuzz_sidecar: %s\n", #cond); \
			abort();                                      \
		}                                                     \
	} while (0)

/* ---- the application: one request at a time, framed by Content-Length */

struct up_conn {
	bool holding; /* part of a request is in the buffer */
};

/* Parses one complete request at the front of `in`; returns its length,
 * or 0 while incomplete. */
static size_t up_parse(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *line, *sp1, *sp2;
	size_t head, body = 0;
	int ncl = 0;

	if (!end)
		return 0;
	head = end - buf + 4;
	/* The request line: METHOD SP TARGET SP HTTP/1.1 */
	line = memchr(buf, '\r', head);
	sp1 = memchr(buf, ' ', line - buf);
	CHECK(sp1);
	sp2 = memchr(sp1 + 1, ' ', line - sp1 - 1);
	CHECK(sp2 && line - sp2 == 9 && !memcmp(sp2, " HTTP/1.1", 9));
	for (const char *p = sp1 + 1; p < sp2; p++)
		CHECK((unsigned char)*p > ' ' && *p != 0x7f);
	/* The fields, one a line. */
	for (const char *p = line + 2; p < end + 2;) {
		const char *eol = memmem(p, end + 2 - p, "\r\n", 2);
		size_t n = eol - p;

		const char *colon = eol ? memchr(p, ':', n) : NULL;

		CHECK(colon && colon > p);
		/* A token (no blank before the colon), never the framing. */
		for (const char *q = p; q < colon; q++)
			CHECK(isalnum((unsigned char)*q) ||
			      (*q && strchr("!#$%&'*+-.^_`|~", *q)));
		CHECK(colon - p != 17 ||
		      strncasecmp(p, "Transfer-Encoding", 17));
		if (n > 15 && !strncasecmp(p, "Content-Length:", 15)) {
			char v[32];
			size_t vl = n - 15;

			CHECK(++ncl == 1 && vl < sizeof(v));
			memcpy(v, p + 15, vl);
			v[vl] = '\0';
			/* 1*DIGIT after the blank evhttp writes. */
			CHECK(v[0] == ' ' && vl > 1 &&
			      strspn(v + 1, "0123456789") == vl - 1);
			body = strtoul(v, NULL, 10);
		}
		p = eol + 2;
	}
	if (len - head < body)
		return 0;
	return head + body;
}

static void up_read(struct bufferevent *bev, void *arg)
{
	struct up_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;

	for (;;) {
		size_t len = evbuffer_get_length(in);
		char *buf = (char *)evbuffer_pullup(in, -1);

		n = len ? up_parse(buf, len) : 0;
		if (!n)
			break;
		evbuffer_drain(in, n);
		seen++;
		bufferevent_write(
			bev, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			40);
	}
	if (c->holding != (evbuffer_get_length(in) > 0)) {
		c->holding = !c->holding;
		partial += c->holding ? 1 : -1;
	}
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
	struct up_conn *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (c->holding)
			partial--;
		free(c);
		bufferevent_free(bev);
	}
}

static void up_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	struct bufferevent *bev =
		bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	struct up_conn *c = calloc(1, sizeof(*c));

	(void)l, (void)sa, (void)len, (void)arg;
	CHECK(bev && c);
	bufferevent_setcb(bev, up_read, NULL, up_event, c);
	bufferevent_enable(bev, EV_READ);
}

/* ---- setup ------------------------------------------------------------- */

static uint16_t bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	CHECK(!getsockname(fd, (struct sockaddr *)&sa, &len));
	return ntohs(sa.sin_port);
}

static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	port = bound_port(fd);
	close(fd);
	return port;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char listen[32], upstream[32];
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct evconnlistener *l;

	(void)argc, (void)argv;
	xl_progname = "fuzz_sidecar";
	base = event_base_new();
	CHECK(base);
	l = evconnlistener_new_bind(base, up_accept, NULL,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
				    64, (struct sockaddr *)&sa, sizeof(sa));
	CHECK(l);
	snprintf(upstream, sizeof(upstream), "127.0.0.1:%u",
		 bound_port(evconnlistener_get_fd(l)));
	proxy_port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", proxy_port);
	sc_cfg.listen = listen;
	sc_cfg.upstream = upstream;
	sc_cfg.pin_dir = "/nonexistent/xlimit-fuzz";
	sc_cfg.client_timeout = 2;
	sc_cfg.upstream_timeout = 2;
	sc_cfg.max_body_size = 1 << 20;
	CHECK(!sc_resolve_upstream());
	CHECK(!sc_proxy_start(base, sc_listen("listen", listen)));
	return 0;
}

/* ---- one input: one client connection ---------------------------------- */

struct client {
	int fd;
	bool done;
};

static void client_read(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	char buf[65536];
	ssize_t n;

	(void)what;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n > 0)
		answered += 1;
	else if (n == 0 || errno != EAGAIN)
		c->done = true;
}

/* Completes the client's connection to the proxy within 3 s; anything
 * else means the sidecar stopped accepting, which is a finding. */
static void connected(struct client *c, const struct sockaddr_in *sa)
{
	struct timeval tick = { 0, 10000 };
	struct pollfd p = { .fd = c->fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int i, err = 0;

	if (!connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)))
		return;
	CHECK(errno == EINPROGRESS);
	for (i = 0; i < 300 && poll(&p, 1, 0) == 0; i++) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	CHECK(!getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len));
	if (!(p.revents & POLLOUT) || err) {
		fprintf(stderr,
			"fuzz_sidecar: the proxy did not take a connection in 3 s: %s\n",
			err ? strerror(err) : "no answer");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(proxy_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct client c = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
	struct timeval tick = { 0, 10000 };
	struct event *ev;
	size_t off = 0;
	int i;

	CHECK(c.fd >= 0);
	/* Connect without blocking, the loop running meanwhile: the sidecar
	 * accepts on this very thread. */
	CHECK(!fcntl(c.fd, F_SETFL, O_NONBLOCK));
	connected(&c, &sa);
	ev = event_new(base, c.fd, EV_READ | EV_PERSIST, client_read, &c);
	CHECK(ev && !event_add(ev, NULL));
	forwarded = seen = 0;
	/* At most 3 s in all: the sidecar answers or closes. */
	for (i = 0; i < 300 && !c.done; i++) {
		while (off < size) {
			ssize_t n = send(c.fd, data + off, size - off,
					 MSG_NOSIGNAL);

			if (n <= 0)
				break;
			off += n;
		}
		if (off == size)
			shutdown(c.fd, SHUT_WR);
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	/* Let the application finish what the sidecar sent it. */
	for (i = 0; i < 100 && (seen != forwarded || partial); i++) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	CHECK(seen == forwarded);
	CHECK(partial == 0);
	event_free(ev);
	close(c.fd);
	return 0;
}
