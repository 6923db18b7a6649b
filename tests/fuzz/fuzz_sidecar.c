// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: xlimit-sidecar's request handling, in process. The
 * input is what one client sends on one connection to the sidecar's proxy
 * (its real listener, the code of user/sidecar/, on loopback); the
 * application behind it is an HTTP/1.1 reader here (http_parser, with
 * the checks its non-strict build leaves out). Whatever the client
 * sends, the application must see exactly the requests the sidecar
 * forwarded, each whole or cut by the close of its connection (no
 * smuggled extra one, no partial one left open), each with at most one
 * Content-Length, Transfer-Encoding only as "chunked" and never with a
 * Content-Length, field names that are tokens and a target without
 * blanks or control characters. The kernel side is
 * absent (a pin directory that does not exist): every request takes the
 * "kernel could not be asked" path and is forwarded without rate-limit
 * headers.
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
#include <event2/listener.h>
#include <http_parser.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "sidecar/sidecar.h"

static struct event_base *base;
static uint16_t proxy_port;
static unsigned long seen, cut, answered;
static int partial; /* upstream connections holding part of a request */

#define CHECK(cond)                                                   \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "fuzz_sidecar: %s\n", #cond); \
			abort();                                      \
		}                                                     \
	} while (0)

/* ---- the application: strict HTTP/1.1 -------------------------------- */

struct up_conn {
	http_parser hp;
	struct bufferevent *bev;
	bool holding; /* part of a request is in */
	bool in_name; /* the last piece was a field name */
	char name[64]; /* the field name in hand, cut */
	size_t nlen;
	int ncl, nte;
};

static int on_begin(http_parser *hp)
{
	struct up_conn *c = hp->data;

	c->holding = true;
	partial++;
	c->ncl = c->nte = 0;
	c->nlen = 0;
	return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
	(void)hp;
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)at[i] > ' ' && at[i] != 0x7f);
	return 0;
}

static int on_field(http_parser *hp, const char *at, size_t n)
{
	struct up_conn *c = hp->data;

	if (!c->in_name)
		c->nlen = 0;
	c->in_name = true;
	for (size_t i = 0; i < n; i++) {
		CHECK(isalnum((unsigned char)at[i]) ||
		      (at[i] && strchr("!#$%&'*+-.^_`|~", at[i])));
		if (c->nlen < sizeof(c->name) - 1)
			c->name[c->nlen++] = at[i];
	}
	c->name[c->nlen] = '\0';
	return 0;
}

static int on_value(http_parser *hp, const char *at, size_t n)
{
	struct up_conn *c = hp->data;

	if (c->in_name) {
		if (!strcasecmp(c->name, "Content-Length"))
			c->ncl++;
		if (!strcasecmp(c->name, "Transfer-Encoding")) {
			c->nte++;
			CHECK(n == 7 && !strncmp(at, "chunked", 7));
		}
	}
	c->in_name = false;
	for (size_t i = 0; i < n; i++)
		CHECK(at[i] != '\r' && at[i] != '\n');
	return 0;
}

static int on_head(http_parser *hp)
{
	struct up_conn *c = hp->data;

	CHECK(c->ncl <= 1 && c->nte <= 1 && !(c->ncl && c->nte));
	CHECK(hp->http_major == 1 && hp->http_minor == 1);
	return 0;
}

static int on_done(http_parser *hp)
{
	struct up_conn *c = hp->data;

	c->holding = false;
	partial--;
	seen++;
	bufferevent_write(c->bev,
			  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40);
	return 0;
}

static const http_parser_settings up_settings = {
	.on_message_begin = on_begin,
	.on_url = on_url,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_head,
	.on_message_complete = on_done,
};

static void up_read(struct bufferevent *bev, void *arg)
{
	struct up_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in), n;
	const char *buf = (const char *)evbuffer_pullup(in, -1);

	n = http_parser_execute(&c->hp, &up_settings, buf, len);
	CHECK(HTTP_PARSER_ERRNO(&c->hp) == HPE_OK && n == len);
	evbuffer_drain(in, n);
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
	struct up_conn *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (c->holding) {
			partial--;
			cut++;
		}
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
	http_parser_init(&c->hp, HTTP_REQUEST);
	c->hp.data = c;
	c->bev = bev;
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
	sc_up_requests = seen = cut = 0;
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
	for (i = 0; i < 100 && (seen + cut != sc_up_requests || partial); i++) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	CHECK(seen + cut == sc_up_requests);
	CHECK(partial == 0);
	event_free(ev);
	close(c.fd);
	return 0;
}
