// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The reverse proxy of xlimit-sidecar, its hot path: its own non-blocking
 * sockets on the worker's event loop, each registered once, edge-triggered
 * for reading and writing (no epoll_ctl per request), and http_parser
 * (Debian's libhttp-parser) for the framing of the clients' requests and
 * of the application's responses. Each request is decided (limit.c); over
 * the limit it is answered 429 here, else it goes to the application with
 * its method, target and headers (less the hop-by-hop ones, plus
 * X-Forwarded-For), re-framed by the sidecar: Content-Length as the
 * parser read it, or chunked as the sidecar writes it, never the client's
 * own framing. The application's answer comes back the same way with the
 * rate-limit headers added. An unreachable application is a 502, a slow
 * one a 504. The same core serves the auth endpoint (--auth-listen),
 * whose requests, nginx's auth_request subrequests, are answered here
 * with the decision (auth.c) instead of going on.
 *
 * Bodies are streamed both ways with bounded buffers: a client's body
 * goes on as it arrives, and the client is not read while BODY_BOUND bytes
 * wait for the application; the application's body goes to the client as
 * it arrives, and the application is not read while the client's
 * connection holds --max-response-size bytes not yet sent. A connection
 * serves one request at a time: pipelined requests wait in its socket (or
 * its buffer), each read once the previous one is answered, so answers
 * go out in order.
 *
 * Per proxied request on a kept-alive connection the kernel is entered
 * for: epoll_wait, a read of the client, the charge (BPF_PROG_TEST_RUN;
 * the allow and deny lists only when xl_config says they hold entries), a
 * write to the application, epoll_wait, a read of its answer, a write to
 * the client. A read that fills less than its buffer is taken to have
 * emptied the socket (edge-triggered: more data is a new edge).
 *
 * The connections to the application are at most --upstream-connections
 * per process (each worker its share), in one pool per worker: a request
 * takes an idle one or opens one, and gives it back when its answer is
 * in; with all in use the client gets 503 at once (Retry-After: 1). One
 * whose answer was HTTP/1.0 or said "Connection: close" is not reused.
 * One the application closed without a word is found out when it is
 * reused: the request fails before any byte of an answer came, and an
 * idempotent request (RFC 9110 §9.2.2) whose bytes sent so far are still
 * held (REPLAY_MAX) is sent once more on a fresh connection; any other
 * gets its 502.
 *
 * Request smuggling: Debian builds http_parser without
 * HTTP_PARSER_STRICT, which lets through a blank in a field name, a bare
 * LF or CR as a line end, obs-fold lines, any byte but CR in a chunk
 * extension, and a chunk's data not followed by CRLF. The sidecar refuses
 * those (400, connection closed) on top of what the parser refuses, in
 * the head and in a chunked body's lines and trailers (bad_line(),
 * chunk_crlf(), rq_field()), and checks what RFC 9112 §6 asks of the
 * framing headers (framing_check()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <http_parser.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "sidecar.h"

#define RD_CLIENT (16 << 10) /* room asked of a client's socket at once */
#define RD_UP (64 << 10) /* ... of the application's */
#define BODY_BOUND \
	(64 << 10) /* request bytes waiting for the application
			       * before the client is not read */
#define REPLAY_MAX (64 << 10) /* request bytes kept to send again */
#define UP_MAX_HEAD (256 << 10) /* the application's response head */
#define MAX_XFF 64 /* X-Forwarded-For lines looked at */
#define ACCEPT_BATCH 64 /* accept() calls per readiness */
#define ACCEPT_PAUSE_MS 250 /* after accept() ran out of fds */
#define LOG_EVERY_S 10 /* one accept error line per this */

_Thread_local unsigned long sc_up_requests;

/* ---- buffers ---------------------------------------------------------- */

/* Bytes p[off, len) of an allocation of cap. A failed allocation sets
 * err: the connection is closed. Not libevent's evbuffer: http_parser
 * reads one contiguous run of bytes, which an evbuffer of several chunks
 * gives only by copying (evbuffer_pullup), and evbuffer_read() asks the
 * socket how much it holds (FIONREAD) before every read, the syscall
 * this core is written to save. */
struct buf {
	char *p;
	size_t off, len, cap;
	bool err;
};

static size_t blen(const struct buf *b)
{
	return b->len - b->off;
}

static char *bdata(const struct buf *b)
{
	return b->p + b->off;
}

/* Room for n more bytes at the end. */
static bool breserve(struct buf *b, size_t n)
{
	size_t have = blen(b), cap;
	char *p;

	if (b->off) {
		memmove(b->p, b->p + b->off, have);
		b->off = 0;
		b->len = have;
	}
	if (b->cap - b->len >= n)
		return true;
	for (cap = b->cap ? b->cap : 4096; cap - have < n; cap *= 2)
		;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void badd(struct buf *b, const void *d, size_t n)
{
	if (n && (b->cap - b->len >= n || breserve(b, n))) {
		memcpy(b->p + b->len, d, n);
		b->len += n;
	}
}

static void bputs(struct buf *b, const char *s)
{
	badd(b, s, strlen(s));
}

static void bprintf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->cap - b->len < 128 && !breserve(b, 128))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		if (!breserve(b, n + 1))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += n;
}

/* One field line, "Name: value\r\n" (no printf: it runs for every field
 * of every message). */
static void bfield(struct buf *b, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	if (b->cap - b->len < n + v + 4 && !breserve(b, n + v + 4))
		return;
	memcpy(b->p + b->len, name, n);
	memcpy(b->p + b->len + n, ": ", 2);
	memcpy(b->p + b->len + n + 2, value, v);
	memcpy(b->p + b->len + n + 2 + v, "\r\n", 2);
	b->len += n + v + 4;
}

/* A number in decimal (no printf: it runs for every message). */
static void bnum(struct buf *b, uint64_t v)
{
	char d[24];

	bputs(b, sc_u64_str(d, v));
}

/* "Content-Length: N\r\n". */
static void blength(struct buf *b, uint64_t n)
{
	bputs(b, "Content-Length: ");
	bnum(b, n);
	badd(b, "\r\n", 2);
}

/* A status line, "HTTP/1.1 CODE REASON\r\n". */
static void bstatus(struct buf *b, int code, const char *reason)
{
	bputs(b, "HTTP/1.1 ");
	bnum(b, code);
	badd(b, " ", 1);
	bputs(b, reason);
	badd(b, "\r\n", 2);
}

/* "Date: ...\r\n", now, as RFC 9110 (6.6.1) has a server with a clock
 * send it on the answers it makes itself; formatted again once a second
 * by each worker thread. */
static void bdate(struct buf *b)
{
	static __thread char field[48];
	static __thread time_t last;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last && gmtime_r(&now, &tm) &&
	    strftime(field, sizeof(field),
		     "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm))
		last = now;
	bputs(b, field);
}

static void bdrain(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

/* Gives back an empty buffer's memory past `keep` bytes: an idle
 * connection does not hold what a large body needed. */
static void bshrink(struct buf *b, size_t keep)
{
	if (!blen(b) && b->cap > keep) {
		free(b->p);
		b->p = NULL;
		b->cap = b->off = b->len = 0;
	}
}

static void bfree(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- one message's head, as http_parser gives it in pieces ------------ */

enum { P_URL, P_NAME, P_VALUE };

struct field {
	uint32_t name, val; /* offsets in msg.s, NUL-terminated */
	uint32_t nlen; /* the name's length, once the head is whole */
};

#define MAX_CONNECTION \
	16 /* Connection fields in a message: more is
			   * refused (each field is looked up in them) */

struct msg {
	struct buf s; /* target (or reason), names, values */
	struct field *f;
	int n, cap;
	int conn[MAX_CONNECTION], nconn; /* its Connection fields */
	int part; /* P_*: what the last piece was */
	bool body; /* past the head: fields are trailers, dropped */
	int bad; /* status a callback refused with */
	const char *start, *end; /* the data http_parser reads now */
	char prev[2]; /* the last two bytes it read before */
};

static void msg_reset(struct msg *m)
{
	m->s.off = m->s.len = 0;
	m->n = 0;
	m->part = P_URL;
	m->body = false;
	m->bad = 0;
}

static void msg_free(struct msg *m)
{
	bfree(&m->s);
	free(m->f);
	m->f = NULL;
	m->n = m->cap = 0;
}

/* Ends the piece in hand (its NUL) when the next is of another kind. */
static void msg_part(struct msg *m, int part)
{
	if (m->part != part)
		badd(&m->s, "", 1);
	m->part = part;
}

/* The byte k (1 or 2) before `at` in what http_parser read. */
static char before(const struct msg *m, const char *at, int k)
{
	ptrdiff_t i = (at - k) - m->start;

	return i >= 0 ? m->start[i] : m->prev[2 + i];
}

static int msg_field(struct msg *m, const char *at, size_t n)
{
	if (m->body)
		return 0;
	if (m->part != P_NAME) {
		if (m->n == m->cap) {
			int cap = m->cap ? m->cap * 2 : 32;
			struct field *f = realloc(m->f, cap * sizeof(*f));

			if (!f) {
				m->s.err = true;
				return -1;
			}
			m->f = f;
			m->cap = cap;
		}
		msg_part(m, P_NAME);
		m->f[m->n++].name = m->s.len;
	}
	badd(&m->s, at, n);
	return 0;
}

static int msg_value(struct msg *m, const char *at, size_t n)
{
	if (m->body)
		return 0;
	if (m->part != P_VALUE) {
		msg_part(m, P_VALUE);
		m->f[m->n - 1].val = m->s.len;
	}
	badd(&m->s, at, n);
	return 0;
}

static const char *fname(const struct msg *m, int i)
{
	return m->s.p + m->f[i].name;
}

static const char *fval(const struct msg *m, int i)
{
	return m->s.p + m->f[i].val;
}

/* Whether field i is named `name` (n bytes): the lengths first, as most
 * fields of a message are not the one looked for. */
static bool fis(const struct msg *m, int i, const char *name, size_t n)
{
	return m->f[i].nlen == n && !strncasecmp(fname(m, i), name, n);
}

#define FIS(m, i, lit) fis(m, i, lit, sizeof(lit) - 1)

/* The head is whole: the last piece ended, the value of a field named
 * without one set (http_parser gives no value callback for an empty
 * value). */
static void msg_end(struct msg *m)
{
	int i;

	if (m->part == P_NAME) {
		msg_part(m, P_VALUE);
		m->f[m->n - 1].val = m->s.len;
	}
	msg_part(m, -1);
	m->body = true;
	m->nconn = 0;
	for (i = 0; i < m->n; i++) {
		m->f[i].nlen = m->f[i].val - m->f[i].name - 1;
		if (FIS(m, i, "Connection") && m->nconn++ < MAX_CONNECTION)
			m->conn[m->nconn - 1] = i;
	}
}

/* The first value of field `name`, NULL if none. */
static const char *msg_find(const struct msg *m, const char *name)
{
	size_t n = strlen(name);
	int i;

	for (i = 0; i < m->n; i++)
		if (fis(m, i, name, n))
			return fval(m, i);
	return NULL;
}

/* The head's size as the request line and fields it holds. */
static size_t msg_size(const struct msg *m)
{
	return m->s.len + 2 * m->n + 16;
}

/* Runs the parser on d[0, n): what it took. */
static size_t feed(http_parser *hp, const http_parser_settings *set,
		   struct msg *m, const char *d, size_t n)
{
	size_t got;

	m->start = d;
	m->end = d + n;
	got = http_parser_execute(hp, set, d, n);
	if (!d) /* the end of the stream */
		return 0;
	if (got >= 2) {
		m->prev[0] = d[got - 2];
		m->prev[1] = d[got - 1];
	} else if (got == 1) {
		m->prev[0] = m->prev[1];
		m->prev[1] = d[0];
	}
	return got;
}

/* ---- the worker's state ----------------------------------------------- */

enum cstate {
	C_IDLE, /* between requests */
	C_HEAD, /* reading a request's head: the deadline runs */
	C_BODY, /* reading its body */
	C_DONE, /* all of it read: its answer is awaited */
};

struct upc;

/* A listening socket: --listen, whose requests go to the application,
 * or --auth-listen, whose requests (nginx's subrequests) are answered
 * here (auth.c). */
struct lsn {
	int fd; /* -1: none */
	uint16_t port; /* the port the clients reach */
	bool auth;
	const char *what; /* its option, for messages */
	struct event ev;
	bool on; /* accepting */
	long nconns;
};

/* A client's connection and the request in hand. */
struct cl {
	int fd;
	struct lsn *l; /* where it came from */
	struct event ev; /* the socket, both ways, edge-triggered */
	struct event idle; /* --client-timeout */
	struct event deadline; /* --header-timeout */
	struct buf in, out;
	http_parser hp;
	struct msg m;
	struct cl *next, *prev; /* the worker's clients */
	struct sc_accepted accepted;
	uint64_t nreq;
	uint8_t peer[16];
	char peer_s[64];
	enum cstate st;
	bool readable; /* the socket may hold more */
	bool rdhup; /* ... and ends: read it to the end */
	bool eof; /* the client sent its FIN */
	bool closing; /* closed once the output is written */
	bool lingering; /* written and half-closed: input dropped */
	bool dead;
	size_t held; /* bytes in the --max-buffered budget */
	/* The request in hand. */
	struct upc *up;
	struct sc_decision d;
	double start;
	uint64_t body; /* body bytes read */
	bool keep; /* the client keeps the connection */
	bool http10;
	bool head; /* HEAD: no body in the answer */
	bool discard; /* not forwarded: the body is dropped */
	bool chunked_up; /* the body goes on chunked */
	bool req_done; /* all of it read */
	bool answered; /* the answer's head is out */
	bool resp_done; /* all of the answer is out */
	bool chunked_out; /* the answer goes chunked */
	bool chunk_start; /* the next body piece starts a chunk */
	bool in_data; /* in a chunk's data: hp.content_length bytes due */
	bool retried; /* sent once more already */
	bool replay_ok; /* idempotent, and all sent so far is in replay */
	int crlf; /* bytes of a chunk's CRLF checked, 2: none due */
	struct buf replay; /* what went to the application, to retry */
	struct cl *next_flush; /* in px.flush_cl while `flushing` */
	bool flushing;
};

/* A connection to the application. */
struct upc {
	int fd;
	struct event ev, tmo;
	struct buf in, out;
	http_parser hp;
	struct msg m;
	struct cl *c; /* the client served, NULL while idle */
	struct upc *next_dead;
	bool connecting, readable, rdhup, reused, got, dead, paused;
	bool sent; /* a byte of the request went out */
};

struct proxy {
	struct event_base *base;
	struct lsn lsn[2]; /* --listen, --auth-listen */
	struct event resume, reap, flush;
	bool fd_pause;
	struct cl *flush_cl; /* to write at the end of the loop's turn */
	time_t logged;
	unsigned long unlogged;
	struct cl *clients, *dead_cl;
	struct upc **idle, *dead_up;
	long nidle, nup;
	const struct timeval *t_idle, *t_head, *t_up;
};

static _Thread_local struct proxy px = { .lsn = { { .fd = -1 },
						  { .fd = -1 } } };

static char up_host[256]; /* as given: the Host of HTTP/1.0 requests */
static uint16_t up_port;
static struct sockaddr_storage up_sa; /* resolved once, at start */
static socklen_t up_salen;

static const http_parser_settings req_settings, resp_settings;

static void cl_close(struct cl *c);
static void cl_run(struct cl *c);
static void cl_flush(struct cl *c);
static void up_drop(struct upc *up);
static void up_flush(struct upc *up);
static void up_fail(struct upc *up, enum sc_counter why);

static void resume(struct event *ev)
{
	event_active(ev, EV_TIMEOUT, 0);
}

/* The budget of --max-buffered: what the connection holds of requests. */
static void account(struct cl *c)
{
	size_t now = blen(&c->in) + (c->up ? blen(&c->up->out) : 0);

	if (now > c->held)
		sc_buffer_hold(now - c->held);
	else
		sc_buffer_release(c->held - now);
	c->held = now;
}

/* ---- headers ------------------------------------------------------------ */

/* A byte of a token (RFC 9110 §5.6.2). */
static bool tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* A field name is a token (RFC 9110 §5.1, §5.6.2). */
static bool token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!tchar(*s))
			return false;
	return true;
}

/* Whether the comma-separated list `list` holds `name`. */
static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = list; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!strncasecmp(p, name, n) && (p[n] == '\0' || p[n] == ',' ||
						 p[n] == ' ' || p[n] == '\t'))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

/* Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection, not the
 * message: they are not forwarded, nor the framing (the sidecar writes
 * its own), nor Expect (answered here). Field i of m. */
static bool hop_by_hop(const struct msg *m, int i)
{
#define HOP(s)                   \
	{                        \
		s, sizeof(s) - 1 \
	}
	static const struct {
		const char *s;
		size_t n;
	} hop[] = {
		HOP("Connection"),	  HOP("Keep-Alive"),	 HOP("TE"),
		HOP("Trailer"),		  HOP("Upgrade"),	 HOP("Expect"),
		HOP("Transfer-Encoding"), HOP("Content-Length"),
	};
#undef HOP
	size_t k;
	int j;

	if (m->f[i].nlen >= 6 && !strncasecmp(fname(m, i), "Proxy-", 6))
		return true;
	for (k = 0; k < sizeof(hop) / sizeof(hop[0]); k++)
		if (fis(m, i, hop[k].s, hop[k].n))
			return true;
	/* And those a Connection field names. */
	for (j = 0; j < m->nconn; j++)
		if (list_has(fval(m, m->conn[j]), fname(m, i)))
			return true;
	return false;
}

/* A sink (limit.c) writing "Name: value" lines to a buffer; `has` looks in
 * the application's head, when there is one. */
struct head_out {
	struct buf *b;
	const struct msg *from;
};

static bool head_has(void *arg, const char *name)
{
	const struct head_out *h = arg;

	return h->from && msg_find(h->from, name);
}

static void head_add(void *arg, const char *name, const char *value)
{
	struct head_out *h = arg;

	bfield(h->b, name, value);
}

static void put_limits(struct cl *c, const struct msg *from, bool over)
{
	struct head_out h = { .b = &c->out, .from = from };
	struct sc_sink k = { .has = head_has, .add = head_add, .arg = &h };

	sc_put_headers(&c->d, &k, over);
}

/* ---- answers of the sidecar's own --------------------------------------- */

static const char *reason(int code)
{
	switch (code) {
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 413:
		return "Content Too Large";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	return "Error";
}

/* Writes the connection's next answer, whole: `code` with the fields
 * `extra` (names and values, up to a NULL name; NULL for none), the
 * rate-limit headers of the request's decision, `type` and `body` (none
 * for a 204). `close` ends the connection after it. */
static void respond_with(struct cl *c, int code, const char *const *extra,
			 const char *type, const char *body, size_t len,
			 bool close)
{
	bstatus(&c->out, code, reason(code));
	bdate(&c->out);
	for (; extra && *extra; extra += 2)
		bfield(&c->out, extra[0], extra[1]);
	put_limits(c, NULL, c->d.verdict == SC_OVER);
	if (code == 503 && !(sc_cfg.retry_after == SC_RA_ALWAYS &&
			     (c->d.verdict == SC_WITHIN)))
		bputs(&c->out, "Retry-After: 1\r\n");
	if (code != 204) {
		bfield(&c->out, "Content-Type", type);
		blength(&c->out, len);
	}
	if (close || !c->keep)
		bputs(&c->out, "Connection: close\r\n");
	else if (c->http10)
		bputs(&c->out, "Connection: keep-alive\r\n");
	bputs(&c->out, "\r\n");
	if (!c->head && code != 204)
		badd(&c->out, body, len);
	c->answered = c->resp_done = true;
	if (close || !c->keep)
		c->closing = true;
}

static void respond(struct cl *c, int code, const char *type, const char *body,
		    size_t len, bool close)
{
	respond_with(c, code, NULL, type, body, len, close);
}

/* An error page: the code and its reason, and a sentence saying what was
 * wrong (`detail`: text, no markup; NULL for none). */
static void respond_page(struct cl *c, int code, const char *detail, bool close)
{
	char body[320];
	int n = snprintf(
		body, sizeof(body),
		"<!doctype html>\n<title>%d %s</title>\n<h1>%d %s</h1>\n"
		"%s%s%s",
		code, reason(code), code, reason(code), detail ? "<p>" : "",
		detail ? detail : "", detail ? "</p>\n" : "");

	if (n >= (int)sizeof(body))
		n = sizeof(body) - 1;
	respond(c, code, "text/html; charset=utf-8", body, n, close);
}

static void respond_error(struct cl *c, int code, bool close)
{
	respond_page(c, code, NULL, close);
}

/* 429 or 403 for the request's decision, with the fields `extra`. */
static void respond_refusal(struct cl *c, int code, const char *const *extra)
{
	struct evbuffer *b = evbuffer_new();
	const char *type;

	if (!b) {
		respond_error(c, 503, true);
		return;
	}
	type = sc_refusal_body(&c->d, code, msg_find(&c->m, "Accept"), b);
	respond_with(c, code, extra, type, (const char *)evbuffer_pullup(b, -1),
		     evbuffer_get_length(b), false);
	evbuffer_free(b);
}

/* ---- the application's connections ------------------------------------ */

static void on_up(evutil_socket_t fd, short what, void *arg);
static void on_up_timeout(evutil_socket_t fd, short what, void *arg);

/* An idle connection (unless `fresh`), or a new one while under the
 * bound; NULL with *busy set when all are in use. */
static struct upc *up_get(bool fresh, bool *busy)
{
	struct upc *up;
	int one = 1, fd;

	*busy = false;
	if (px.nidle && !fresh)
		return px.idle[--px.nidle];
	if (px.nup >= sc_share(sc_cfg.upstream_connections)) {
		*busy = true;
		return NULL;
	}
	fd = socket(up_sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	up = calloc(1, sizeof(*up));
	if (!up || (connect(fd, (struct sockaddr *)&up_sa, up_salen) &&
		    errno != EINPROGRESS)) {
		free(up);
		close(fd);
		return NULL;
	}
	up->fd = fd;
	up->connecting = true;
	event_assign(&up->ev, px.base, fd,
		     EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST, on_up,
		     up);
	evtimer_assign(&up->tmo, px.base, on_up_timeout, up);
	if (event_add(&up->ev, NULL)) {
		close(fd);
		free(up);
		return NULL;
	}
	px.nup++;
	return up;
}

/* The writes to the clients of a turn of the loop, after its reads: the
 * sockets that became readable together are all read and parsed before
 * a write wakes a client (which on a loaded machine takes the CPU from
 * the proxy at once, once per write). A request goes to the application
 * at once: its answer is what the client waits for. */
static void flush_later(struct cl *c)
{
	if (c->flushing)
		return;
	c->flushing = true;
	c->next_flush = px.flush_cl;
	px.flush_cl = c;
	resume(&px.flush);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	while (px.flush_cl) {
		struct cl *c = px.flush_cl;

		px.flush_cl = c->next_flush;
		c->flushing = false;
		cl_flush(c);
	}
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	on_flush(-1, 0, NULL); /* it may hold the dead */
	while (px.dead_up) {
		struct upc *up = px.dead_up;

		px.dead_up = up->next_dead;
		bfree(&up->in);
		bfree(&up->out);
		msg_free(&up->m);
		free(up);
	}
	while (px.dead_cl) {
		struct cl *c = px.dead_cl;

		px.dead_cl = c->next;
		bfree(&c->in);
		bfree(&c->out);
		bfree(&c->replay);
		msg_free(&c->m);
		free(c);
	}
}

/* A connection that cannot be used again: closed now, freed from the
 * loop once the callbacks that may hold it have returned. */
static void up_drop(struct upc *up)
{
	long i;

	if (up->dead)
		return;
	up->dead = true;
	if (!up->c)
		for (i = 0; i < px.nidle; i++)
			if (px.idle[i] == up) {
				px.idle[i] = px.idle[--px.nidle];
				break;
			}
	event_del(&up->ev);
	event_del(&up->tmo);
	close(up->fd);
	px.nup--;
	up->next_dead = px.dead_up;
	px.dead_up = up;
	resume(&px.reap);
}

/* The answer is in: back to the pool, or closed when it cannot carry
 * another request. */
static void up_release(struct upc *up)
{
	if (up->dead)
		return;
	if (!http_should_keep_alive(&up->hp) || blen(&up->in) ||
	    blen(&up->out) || !up->c->req_done) {
		up_drop(up);
		return;
	}
	up->c = NULL;
	up->reused = true;
	up->paused = false;
	event_del(&up->tmo);
	bshrink(&up->in, RD_UP);
	bshrink(&up->out, RD_UP);
	px.idle[px.nidle++] = up; /* nidle < nup <= the array's size */
}

static void up_arm(struct upc *up)
{
	event_add(&up->tmo, px.t_up);
}

/* Writes what the application's output holds. */
static void up_flush(struct upc *up)
{
	bool wrote = false;

	if (up->connecting || up->dead)
		return;
	while (blen(&up->out)) {
		ssize_t n = send(up->fd, bdata(&up->out), blen(&up->out),
				 MSG_NOSIGNAL);

		if (n > 0) {
			bdrain(&up->out, n);
			wrote = true;
			sc_up_requests += !up->sent;
			up->sent = true;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			break;
		} else {
			up_fail(up, SC_C_UPSTREAM_CONNECT);
			return;
		}
	}
	if (wrote && up->c) {
		up_arm(up);
		/* The client was not read while this was full. */
		if (blen(&up->out) <= BODY_BOUND && up->c->st == C_BODY)
			resume(&up->c->ev);
	}
}

/* Starts the request's exchange on `up`: its answer's parser, the
 * timeout. */
static void up_attach(struct cl *c, struct upc *up)
{
	c->up = up;
	up->c = c;
	up->got = up->sent = false;
	up->paused = false;
	http_parser_init(&up->hp, HTTP_RESPONSE);
	up->hp.data = up;
	msg_reset(&up->m);
	up_arm(up);
}

/* RFC 9110 §9.2.2. */
static bool idempotent(unsigned method)
{
	return method == HTTP_GET || method == HTTP_HEAD ||
	       method == HTTP_PUT || method == HTTP_DELETE ||
	       method == HTTP_OPTIONS || method == HTTP_TRACE;
}

/* The application's connection failed under the request (`why`: connect,
 * timeout or too_large). Sent once more when that is safe (see the top);
 * else 502 or 504, or with the answer's head out already the client's
 * connection is closed (the body cut). */
static void up_fail(struct upc *up, enum sc_counter why)
{
	struct cl *c = up->c;
	bool again = why == SC_C_UPSTREAM_CONNECT && up->reused && !up->got;
	struct upc *fresh;
	bool busy;

	up_drop(up);
	if (!c)
		return;
	c->up = NULL;
	if (again && !c->retried && c->replay_ok) {
		c->retried = true;
		fresh = up_get(true, &busy);
		if (fresh) {
			up_attach(c, fresh);
			badd(&fresh->out, bdata(&c->replay), blen(&c->replay));
			up_flush(fresh);
			return;
		}
	}
	sc_count(why);
	if (c->answered) {
		cl_flush(c); /* what the socket takes of it, then the cut */
		cl_close(c);
		return;
	}
	respond_error(c, why == SC_C_UPSTREAM_TIMEOUT ? 504 : 502,
		      !c->req_done);
	c->discard = true;
	if (c->req_done)
		resume(&c->ev); /* ends the exchange */
	cl_flush(c);
}

static void on_up_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct upc *up = arg;
	struct cl *c = up->c;

	(void)fd;
	(void)what;
	if (up->dead || !c)
		return;
	if (up->paused) /* the client is slow, not the application */
		return;
	up_fail(up, SC_C_UPSTREAM_TIMEOUT);
}

/* The exchange is over, both ways: the next request may be read. */
static void ex_end(struct cl *c)
{
	if (c->up)
		up_release(c->up);
	c->up = NULL;
	if (!c->l->auth)
		sc_observe_latency(sc_now() - c->start);
	c->st = C_IDLE;
	c->discard = c->chunked_up = c->req_done = c->answered = false;
	c->resp_done = c->chunked_out = c->retried = c->replay_ok = false;
	c->chunk_start = false;
	c->crlf = 2;
	c->body = 0;
	c->replay.off = c->replay.len = 0;
	bshrink(&c->replay, REPLAY_MAX);
	memset(&c->d, 0, sizeof(c->d));
	msg_reset(&c->m);
	http_parser_pause(&c->hp, 0);
	if (!c->keep)
		c->closing = true;
	event_add(&c->idle, px.t_idle);
}

/* Reads and parses the application's answer while the client takes it. */
static void up_run(struct upc *up)
{
	struct cl *c = up->c;
	size_t got;
	ssize_t n;
	int err;

	while (!up->dead && !c->resp_done) {
		if (blen(&c->out) > (size_t)sc_cfg.max_response_size) {
			up->paused = true; /* cl_flush() resumes it */
			return;
		}
		up->paused = false;
		if (!blen(&up->in)) {
			if (!up->readable)
				return;
			if (!breserve(&up->in, RD_UP)) {
				up_fail(up, SC_C_UPSTREAM_CONNECT);
				return;
			}
			n = recv(up->fd, up->in.p + up->in.len,
				 up->in.cap - up->in.len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				up->readable = false;
				return;
			}
			if (n <= 0) {
				up->readable = false;
				/* The end of an answer that runs to the close,
				 * else a failure. */
				if (n == 0 && up->got &&
				    (feed(&up->hp, &resp_settings, &up->m, NULL,
					  0),
				     c->resp_done))
					break;
				up_fail(up, SC_C_UPSTREAM_CONNECT);
				return;
			}
			if ((size_t)n < up->in.cap - up->in.len && !up->rdhup)
				up->readable = false;
			up->in.len += n;
			up->got = true;
			up_arm(up);
		}
		got = feed(&up->hp, &resp_settings, &up->m, bdata(&up->in),
			   blen(&up->in));
		bdrain(&up->in, got);
		err = HTTP_PARSER_ERRNO(&up->hp);
		if (err == HPE_PAUSED)
			break;
		if (err != HPE_OK || up->m.s.err || c->out.err) {
			up_fail(up,
				err == HPE_HEADER_OVERFLOW || up->m.bad == 502 ?
					SC_C_UPSTREAM_TOO_LARGE :
					SC_C_UPSTREAM_CONNECT);
			return;
		}
	}
	if (up->dead || !c->resp_done)
		return;
	if (c->req_done) {
		ex_end(c);
		resume(&c->ev); /* the next request, pipelined */
	} else {
		/* Answered before all of the request was read: the rest of
		 * it is dropped and the connection closed (see resp_head). */
		up_drop(up);
		c->up = NULL;
	}
}

static void idle_event(struct upc *up)
{
	char b[1];
	ssize_t n = recv(up->fd, b, 1, MSG_PEEK);

	/* Spurious, or the application closed it (or spoke out of turn). */
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	up_drop(up);
}

static void on_up(evutil_socket_t fd, short what, void *arg)
{
	struct upc *up = arg;
	struct cl *c = up->c;

	(void)fd;
	if (up->dead)
		return;
	if (!c) {
		if (what & (EV_READ | EV_CLOSED))
			idle_event(up);
		return;
	}
	if (what & EV_WRITE) {
		up->connecting = false;
		up_flush(up);
	}
	if (what & EV_CLOSED)
		up->rdhup = true;
	if (what & (EV_READ | EV_CLOSED))
		up->readable = true;
	if (!up->dead && up->c == c)
		up_run(up);
	if (!c->dead) {
		account(c);
		flush_later(c);
	}
}

/* ---- the application's answer (http_parser callbacks) ----------------- */

/* The head of the message `hp` reads: a request's, or an answer's. */
static struct msg *msg_of(http_parser *hp)
{
	if (hp->type == HTTP_REQUEST)
		return &((struct cl *)hp->data)->m;
	return &((struct upc *)hp->data)->m;
}

/* The request's target, or the answer's reason. */
static int on_text(http_parser *hp, const char *at, size_t n)
{
	badd(&msg_of(hp)->s, at, n);
	return 0;
}

static int on_field(http_parser *hp, const char *at, size_t n)
{
	return msg_field(msg_of(hp), at, n);
}

static int on_value(http_parser *hp, const char *at, size_t n)
{
	return msg_value(msg_of(hp), at, n);
}

/* The answer's head goes to the client: its fields but the hop-by-hop
 * ones, the rate-limit headers, and the sidecar's framing. Returns 1 when
 * it has no body (http_parser then reads none). */
static int rs_head(http_parser *hp)
{
	struct upc *up = hp->data;
	struct cl *c = up->c;
	struct msg *m = &up->m;
	int code = hp->status_code, i;
	bool close, until_close = false;

	msg_end(m);
	if (code < 200) {
		if (code == 101) /* no Upgrade was forwarded */
			return -1;
		return 1; /* 1xx: dropped, the answer follows */
	}
	if (msg_size(m) > UP_MAX_HEAD || m->nconn > MAX_CONNECTION) {
		m->bad = 502;
		return -1;
	}
	bstatus(&c->out, code, m->s.p);
	for (i = 0; i < m->n; i++)
		if (!hop_by_hop(m, i))
			bfield(&c->out, fname(m, i), fval(m, i));
	put_limits(c, m, false);
	if (c->head || code == 304) {
		if (hp->flags & F_CONTENTLENGTH)
			blength(&c->out, hp->content_length);
	} else if (code == 204) {
	} else if ((hp->flags & F_CONTENTLENGTH) && !(hp->flags & F_CHUNKED)) {
		blength(&c->out, hp->content_length);
	} else if (!c->http10) {
		bputs(&c->out, "Transfer-Encoding: chunked\r\n");
		c->chunked_out = true;
	} else {
		until_close = true; /* an HTTP/1.0 client: up to the close */
	}
	close = c->closing || !c->keep || until_close || !c->req_done;
	if (close)
		bputs(&c->out, "Connection: close\r\n");
	else if (c->http10)
		bputs(&c->out, "Connection: keep-alive\r\n");
	bputs(&c->out, "\r\n");
	c->answered = true;
	c->closing = close;
	return c->head || code == 204 || code == 304;
}

static int rs_body(http_parser *hp, const char *at, size_t n)
{
	struct cl *c = ((struct upc *)hp->data)->c;

	if (c->chunked_out) {
		bprintf(&c->out, "%zx\r\n", n);
		badd(&c->out, at, n);
		bputs(&c->out, "\r\n");
	} else {
		badd(&c->out, at, n);
	}
	return 0;
}

static int rs_done(http_parser *hp)
{
	struct upc *up = hp->data;
	struct cl *c = up->c;

	if (hp->status_code < 200) { /* an interim answer: the next */
		msg_reset(&up->m);
		return 0;
	}
	if (c->chunked_out)
		bputs(&c->out, "0\r\n\r\n");
	c->resp_done = true;
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings resp_settings = {
	.on_status = on_text,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = rs_head,
	.on_body = rs_body,
	.on_message_complete = rs_done,
};

/* ---- the client's request (http_parser callbacks) --------------------- */

/* The framing of RFC 9112 §6 that http_parser lets through but that the
 * application, or a proxy in front, could read otherwise (request
 * smuggling): a field name that is not a token ("Transfer-Encoding :"),
 * a repeated Content-Length or Transfer-Encoding, both,
 * Transfer-Encoding in HTTP/1.0 or on a HEAD or TRACE, a body on a HEAD
 * or TRACE. Returns the status to refuse with (400; 501 for a transfer
 * coding other than chunked, or a method the sidecar does not pass on),
 * or 0. http_parser itself refuses a malformed Content-Length, one with
 * Transfer-Encoding: chunked, and a target with blanks or control
 * characters. */
static int framing_check(struct cl *c)
{
	const struct msg *m = &c->m;
	const char *te = NULL;
	unsigned method = c->hp.method;
	int i, ncl = 0, nte = 0;
	bool no_body = method == HTTP_HEAD || method == HTTP_TRACE;

	for (i = 0; i < m->n; i++) {
		if (!token(fname(m, i)))
			return 400;
		if (FIS(m, i, "Content-Length"))
			ncl++;
		else if (FIS(m, i, "Transfer-Encoding"))
			te = fval(m, i), nte++;
	}
	if (c->hp.http_major != 1 || ncl > 1 || nte > 1 ||
	    m->nconn > MAX_CONNECTION || (ncl && nte))
		return 400;
	if (te && (c->hp.http_minor != 1 || no_body))
		return 400;
	if (te && strcasecmp(te, "chunked"))
		return 501;
	if (no_body && ncl && c->hp.content_length)
		return 400;
	switch (method) {
	case HTTP_GET:
	case HTTP_HEAD:
	case HTTP_POST:
	case HTTP_PUT:
	case HTTP_DELETE:
	case HTTP_OPTIONS:
	case HTTP_TRACE:
	case HTTP_PATCH:
		return 0;
	}
	return 501;
}

/* Who the client is: the peer, or behind a trusted proxy the address it
 * names. Returns whether the kernel saw this client's SYN. */
static bool client_of(struct cl *c, uint8_t client[16])
{
	const char *xff[MAX_XFF];
	int i, n = 0;

	memcpy(client, c->peer, 16);
	if (!sc_trusted(c->peer))
		return true;
	for (i = 0; i < c->m.n && n < MAX_XFF; i++)
		if (FIS(&c->m, i, "X-Forwarded-For"))
			xff[n++] = fval(&c->m, i);
	if (sc_forwarded_client(xff, n, msg_find(&c->m, "X-Real-IP"), client))
		return true;
	return memcmp(client, c->peer, 16) == 0;
}

/* The request's route plan: by its path, percent-decoded (route.c). */
static void plan_of(struct cl *c, struct sc_route_plan *p)
{
	struct http_parser_url u;
	const char *url = c->m.s.p;
	char buf[256], *path = NULL;
	size_t n;

	http_parser_url_init(&u);
	if (!http_parser_parse_url(url, strlen(url), 0, &u) &&
	    (u.field_set & (1 << UF_PATH))) {
		n = u.field_data[UF_PATH].len;
		path = n < sizeof(buf) ? buf : malloc(n + 1);
		if (path) {
			memcpy(path, url + u.field_data[UF_PATH].off, n);
			path[n] = '\0';
		}
	}
	sc_route_plan(path, sc_method_bit(http_method_str(c->hp.method)),
		      c->l->port, p);
	if (path != buf)
		free(path);
}

/* Bytes to the application, kept to send again while they fit. */
static void up_put(struct cl *c, const void *d, size_t n)
{
	badd(&c->up->out, d, n);
	if (!c->replay_ok)
		return;
	if (blen(&c->replay) + n > REPLAY_MAX) {
		c->replay_ok = false;
		return;
	}
	badd(&c->replay, d, n);
}

/* The request's head to the application, re-framed. */
static void send_head(struct cl *c)
{
	const struct msg *m = &c->m;
	struct buf *o = &c->up->out;
	int i;
	bool xff = false;

	bputs(o, http_method_str(c->hp.method));
	badd(o, " ", 1);
	bputs(o, m->s.p);
	bputs(o, " HTTP/1.1\r\n");
	for (i = 0; i < m->n; i++) {
		if (FIS(m, i, "X-Forwarded-For")) {
			/* Every such line, then the peer. */
			bputs(o, xff ? ", " : "X-Forwarded-For: ");
			bputs(o, fval(m, i));
			xff = true;
		}
	}
	bputs(o, xff ? ", " : "X-Forwarded-For: ");
	bputs(o, c->peer_s);
	badd(o, "\r\n", 2);
	for (i = 0; i < m->n; i++)
		if (!hop_by_hop(m, i) && !FIS(m, i, "X-Forwarded-For"))
			bfield(o, fname(m, i), fval(m, i));
	if (!msg_find(m, "Host")) /* an HTTP/1.0 client */
		bprintf(o, "Host: %s:%u\r\n", up_host, up_port);
	if (c->hp.flags & F_CHUNKED) {
		bputs(o, "Transfer-Encoding: chunked\r\n");
		c->chunked_up = true;
	} else if (c->hp.flags & F_CONTENTLENGTH) {
		blength(o, c->hp.content_length);
	}
	bputs(o, "\r\n");
	if (c->replay_ok)
		badd(&c->replay, bdata(o), blen(o));
}

static const char *find_field(void *arg, const char *name)
{
	return msg_find(arg, name);
}

/* A subrequest of nginx's auth_request (--auth-listen): answered here,
 * 204 or a refusal, with the verdict (auth.c); its body, if any, is
 * dropped. */
static int auth_head(struct cl *c, bool body)
{
	static _Thread_local struct sc_auth_answer a;
	const char *extra[5] = { "X-Xlimit-Verdict" };
	unsigned method = c->hp.method;

	c->discard = true;
	if (body && msg_find(&c->m, "Expect"))
		c->closing = true; /* the client waits to send it */
	if (method != HTTP_GET && method != HTTP_HEAD && method != HTTP_POST) {
		respond_error(c, 501, false);
		return 0;
	}
	sc_auth_decide(c->peer, find_field, &c->m, &c->d, &a);
	if (a.error) {
		respond_page(c, a.code, a.error, false);
		return 0;
	}
	extra[1] = a.verdict;
	if (a.message[0]) {
		extra[2] = "X-Xlimit-Message";
		extra[3] = a.message;
	}
	if (a.code == 204)
		respond_with(c, 204, extra, NULL, NULL, 0, false);
	else
		respond_refusal(c, a.code, extra);
	return 0;
}

/* The head is in: refused, answered, or on its way to the application.
 * Returns 1 when the body is not to be read (the connection closes). */
static int rq_head(http_parser *hp)
{
	static _Thread_local struct sc_route_plan plan;
	struct cl *c = hp->data;
	uint8_t client[16];
	bool direct, busy, body;
	const char *expect;
	int code;

	msg_end(&c->m);
	event_del(&c->deadline);
	c->st = C_BODY;
	c->nreq++;
	c->start = sc_now();
	c->keep = http_should_keep_alive(hp);
	c->http10 = hp->http_major == 1 && hp->http_minor == 0;
	c->head = hp->method == HTTP_HEAD;
	c->crlf = 2;
	c->in_data = false;
	sc_count(c->l->auth ? SC_C_AUTH_REQUESTS : SC_C_REQUESTS);
	if (msg_size(&c->m) > (size_t)sc_cfg.max_header_size) {
		respond_error(c, 431, true);
		return 1;
	}
	code = framing_check(c);
	if (code) {
		respond_error(c, code, true);
		return 1;
	}
	body = (hp->flags & F_CHUNKED) ||
	       (hp->content_length > 0 && hp->content_length != ULLONG_MAX);
	if (((hp->flags & F_CONTENTLENGTH) &&
	     hp->content_length > (uint64_t)sc_cfg.max_body_size) ||
	    (body && sc_buffer_full())) {
		respond_error(c, 413, true);
		return 1;
	}
	if (c->l->auth)
		return auth_head(c, body);
	direct = client_of(c, client);
	plan_of(c, &plan);
	sc_decide_planned(&plan, client, c->l->port, c->nreq, direct,
			  c->accepted, &c->d);
	expect = msg_find(&c->m, "Expect");
	if (c->d.verdict == SC_OVER || c->d.verdict == SC_DENIED) {
		sc_count(c->d.verdict == SC_OVER ? SC_C_LIMITED : SC_C_DENIED);
		respond_refusal(c, c->d.verdict == SC_OVER ? 429 : 403, NULL);
		/* Its body is dropped; one the client waits to send (100
		 * Continue) ends the connection. */
		c->discard = true;
		if (body && expect)
			c->closing = true;
		return 0;
	}
	c->up = up_get(false, &busy);
	if (!c->up) {
		sc_count(busy ? SC_C_UPSTREAM_BUSY : SC_C_UPSTREAM_CONNECT);
		respond_error(c, busy ? 503 : 502, body && expect);
		c->discard = true;
		return 0;
	}
	up_attach(c, c->up);
	c->replay_ok = idempotent(hp->method);
	send_head(c);
	if (body && expect && !strcasecmp(expect, "100-continue") && !c->http10)
		bputs(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

/* A chunk-size line is read: its data follows, hp->content_length bytes
 * (none after the last chunk's line: the trailers follow). The lines
 * themselves are checked by cl_parse(). */
static int rq_chunk_header(http_parser *hp)
{
	struct cl *c = hp->data;

	c->chunk_start = true;
	c->in_data = hp->content_length > 0;
	return 0;
}

/* A trailer's name is a token too (http_parser, not strict, takes a blank
 * in it). The trailers themselves are dropped. */
static int rq_field(http_parser *hp, const char *at, size_t n)
{
	struct cl *c = hp->data;
	size_t i;

	for (i = 0; c->m.body && i < n; i++)
		if (!tchar(at[i])) {
			c->m.bad = 400;
			return -1;
		}
	return msg_field(&c->m, at, n);
}

/* Checks that the stream at `p` goes on with the CRLF that ends a chunk,
 * from its byte c->crlf; what is not read yet is checked on the next
 * feed. False when it does not. */
static bool chunk_crlf(struct cl *c, const char *p, const char *end)
{
	for (; c->crlf < 2 && p < end; c->crlf++, p++)
		if (*p != "\r\n"[c->crlf])
			return false;
	return true;
}

static int rq_body(http_parser *hp, const char *at, size_t n)
{
	struct cl *c = hp->data;

	c->body += n;
	if (c->body > (uint64_t)sc_cfg.max_body_size) {
		c->m.bad = 413;
		return -1;
	}
	if (hp->flags & F_CHUNKED) {
		/* http_parser, not strict, takes any two bytes for the CRLFs
		 * around a chunk's data. */
		if (c->chunk_start && (before(&c->m, at, 2) != '\r' ||
				       before(&c->m, at, 1) != '\n')) {
			c->m.bad = 400;
			return -1;
		}
		c->chunk_start = false;
		if (!hp->content_length) {
			c->in_data = false;
			c->crlf = 0;
			if (!chunk_crlf(c, at + n, c->m.end)) {
				c->m.bad = 400;
				return -1;
			}
		}
	}
	if (c->discard || !c->up)
		return 0;
	if (c->chunked_up) {
		char size[24];

		up_put(c, size, snprintf(size, sizeof(size), "%zx\r\n", n));
		up_put(c, at, n);
		up_put(c, "\r\n", 2);
	} else {
		up_put(c, at, n);
	}
	return 0;
}

static int rq_done(http_parser *hp)
{
	struct cl *c = hp->data;

	if (c->up && !c->discard && c->chunked_up)
		up_put(c, "0\r\n\r\n", 5);
	c->req_done = true;
	c->st = C_DONE;
	http_parser_pause(hp, 1); /* one request at a time */
	return 0;
}

static const http_parser_settings req_settings = {
	.on_url = on_text,
	.on_header_field = rq_field,
	.on_header_value = on_value,
	.on_headers_complete = rq_head,
	.on_body = rq_body,
	.on_message_complete = rq_done,
	.on_chunk_header = rq_chunk_header,
};

/* ---- the client's connection ------------------------------------------ */

/* Where in d[0, n) a line ends other than with CRLF (a bare LF, or a CR
 * followed by something else), starts with a blank (obs-fold, or a blank
 * before the first field), or holds a control byte other than HTAB:
 * http_parser, not strict, takes the first two in a head, and all three
 * in a chunked body's lines (any byte but CR in a chunk extension; in
 * the trailers, control bytes and what it takes in a head). `prev` is the
 * byte before d. n when nowhere. */
static size_t bad_line(const char *d, size_t n, char prev)
{
	size_t i;

	for (i = 0; i < n; prev = d[i++]) {
		unsigned char ch = d[i];

		if (prev == '\r' ? ch != '\n' : ch == '\n')
			return i;
		if (prev == '\n' && (ch == ' ' || ch == '\t'))
			return i;
		if ((ch < ' ' && ch != '\t' && ch != '\r' && ch != '\n') ||
		    ch == 0x7f)
			return i;
	}
	return n;
}

/* Where the lines that bad_line() checks start in the n bytes the client
 * sent next: at once in a head; in a chunked body past the rest of the
 * chunk's data and the CRLF after it (checked by chunk_crlf()), where a
 * chunk-size line or the trailers start. n when none is due. */
static size_t lines_from(const struct cl *c, size_t n)
{
	uint64_t at = 2 - c->crlf;

	if (c->st == C_HEAD)
		return 0;
	if (c->st != C_BODY || !(c->hp.flags & F_CHUNKED))
		return n;
	if (c->in_data)
		at = c->hp.content_length < n ? c->hp.content_length + 2 : n;
	return at < n ? at : n;
}

/* A request the sidecar cannot read: 400 (or as the parser or a callback
 * said) and the connection closed; one whose answer is under way is cut. */
static void cl_bad(struct cl *c, enum http_errno err)
{
	int code = c->m.bad ? c->m.bad : 400;

	if (err == HPE_HEADER_OVERFLOW)
		code = 431;
	else if (err == HPE_INVALID_TRANSFER_ENCODING)
		code = 501;
	if (c->answered && !c->resp_done) {
		cl_close(c);
		return;
	}
	if (c->up) {
		up_drop(c->up); /* it has part of the request */
		c->up = NULL;
	}
	if (!c->answered)
		respond_error(c, code, true);
	c->closing = true;
	c->req_done = true;
}

/* Parses what the client sent, up to the end of a request. */
static void cl_parse(struct cl *c)
{
	const char *d = bdata(&c->in);
	size_t n = blen(&c->in), lim, got;
	enum http_errno err;

	if (c->st == C_IDLE) {
		c->st = C_HEAD;
		event_add(&c->deadline, px.t_head);
	}
	/* Fed up to the first bad byte: one that is not in a line (chunk
	 * data) only splits the feed. */
	lim = lines_from(c, n);
	if (lim < n)
		lim += bad_line(d + lim, n - lim,
				lim ? d[lim - 1] : c->m.prev[1]);
	if (c->crlf < 2 && !chunk_crlf(c, d, d + n)) {
		cl_bad(c, HPE_OK);
		return;
	}
	got = lim ? feed(&c->hp, &req_settings, &c->m, d, lim) : 0;
	bdrain(&c->in, got);
	err = HTTP_PARSER_ERRNO(&c->hp);
	if (c->m.s.err || c->out.err || (c->up && c->up->out.err)) {
		cl_close(c);
		return;
	}
	if (err == HPE_PAUSED) {
		if (c->resp_done)
			ex_end(c);
		return;
	}
	if (err != HPE_OK)
		cl_bad(c, err);
	else if (lim < n && !lines_from(c, blen(&c->in)))
		cl_bad(c, HPE_OK); /* the bad byte is in a line */
}

static void cl_linger(struct cl *c)
{
	char drop[4096];
	ssize_t n;

	while ((n = recv(c->fd, drop, sizeof(drop), 0)) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		cl_close(c);
}

/* Reads, parses, forwards, as far as the request and the buffers let. */
static void cl_run(struct cl *c)
{
	ssize_t n;

	while (!c->dead && !c->lingering) {
		if (c->closing && (c->resp_done || c->st == C_IDLE))
			break;
		if (c->st == C_DONE) {
			if (c->resp_done)
				ex_end(c);
			else
				break;
			continue;
		}
		if (c->up && blen(&c->up->out) > BODY_BOUND)
			break; /* up_flush() resumes it */
		if (!blen(&c->in)) {
			if (c->eof || !c->readable) {
				/* The client is gone: mid-request, or
				 * between requests, nothing more to do. */
				if (c->eof && !c->answered)
					cl_close(c);
				else if (c->eof)
					c->closing = true;
				break;
			}
			if (!breserve(&c->in, RD_CLIENT)) {
				cl_close(c);
				break;
			}
			n = recv(c->fd, c->in.p + c->in.len,
				 c->in.cap - c->in.len, 0);
			if (n > 0) {
				if ((size_t)n < c->in.cap - c->in.len &&
				    !c->rdhup)
					c->readable = false;
				c->in.len += n;
				event_add(&c->idle, px.t_idle);
			} else if (n == 0) {
				c->readable = false;
				c->eof = true;
			} else if (errno == EAGAIN) {
				c->readable = false;
			} else if (errno != EINTR) {
				cl_close(c);
			}
			continue;
		}
		cl_parse(c);
	}
	if (c->dead)
		return;
	if (c->lingering)
		cl_linger(c);
	else {
		account(c);
		if (c->up)
			up_flush(c->up);
		flush_later(c);
	}
}

/* Writes what the client's output holds; then a connection that ends is
 * half-closed and what the client still sends is read and dropped (so
 * that it sees the answer, not a reset) until it closes or times out. */
static void cl_flush(struct cl *c)
{
	bool wrote = false;

	if (c->dead)
		return;
	while (blen(&c->out)) {
		ssize_t n = send(c->fd, bdata(&c->out), blen(&c->out),
				 MSG_NOSIGNAL);

		if (n > 0) {
			bdrain(&c->out, n);
			wrote = true;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			break;
		} else {
			cl_close(c);
			return;
		}
	}
	if (wrote)
		event_add(&c->idle, px.t_idle);
	if (c->up && c->up->paused &&
	    blen(&c->out) <= (size_t)sc_cfg.max_response_size)
		resume(&c->up->ev);
	if (blen(&c->out))
		return;
	bshrink(&c->out, RD_CLIENT);
	if (c->closing && (c->resp_done || c->st == C_IDLE) && !c->lingering) {
		if (c->eof) {
			cl_close(c);
			return;
		}
		shutdown(c->fd, SHUT_WR);
		c->lingering = true;
		cl_linger(c);
	}
}

static void on_client(evutil_socket_t fd, short what, void *arg)
{
	struct cl *c = arg;

	(void)fd;
	if (c->dead)
		return;
	if (what & EV_CLOSED)
		c->rdhup = true;
	if (what & (EV_READ | EV_CLOSED))
		c->readable = true;
	if ((what & EV_WRITE) && blen(&c->out))
		cl_flush(c);
	if (!c->dead)
		cl_run(c);
}

/* --client-timeout: idle while sending or reading; not while the
 * application is being waited for. */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct cl *c = arg;

	(void)fd;
	(void)what;
	if (c->dead)
		return;
	if (c->up && !blen(&c->out) && !c->lingering &&
	    (c->st == C_DONE || c->answered ||
	     blen(&c->up->out) > BODY_BOUND)) {
		event_add(&c->idle, px.t_idle);
		return;
	}
	cl_close(c);
}

/* --header-timeout: the head is not in yet. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct cl *c = arg;

	(void)fd;
	(void)what;
	if (c->dead || c->st != C_HEAD)
		return;
	cl_bad(c, HPE_OK);
	cl_flush(c);
}

static void listener_update(void);

static void cl_close(struct cl *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->up) {
		up_drop(c->up);
		c->up = NULL;
	}
	event_del(&c->ev);
	event_del(&c->idle);
	event_del(&c->deadline);
	close(c->fd);
	sc_buffer_release(c->held);
	c->held = 0;
	if (c->prev)
		c->prev->next = c->next;
	else
		px.clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = px.dead_cl;
	px.dead_cl = c;
	resume(&px.reap);
	c->l->nconns--;
	listener_update();
}

static void cl_new(struct lsn *l, int fd, const struct sockaddr_storage *ss)
{
	struct cl *c = calloc(1, sizeof(*c));
	uint16_t pport;
	int one = 1;

	if (!c || sc_sockaddr_addr(ss, c->peer, &pport)) {
		free(c);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->l = l;
	c->accepted = sc_accepted(fd);
	c->crlf = 2;
	c->m.prev[1] = '\n';
	xl_format_addr(c->peer, c->peer_s, sizeof(c->peer_s));
	http_parser_init(&c->hp, HTTP_REQUEST);
	c->hp.data = c;
	event_assign(&c->ev, px.base, fd,
		     EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST,
		     on_client, c);
	evtimer_assign(&c->idle, px.base, on_idle, c);
	evtimer_assign(&c->deadline, px.base, on_deadline, c);
	if (event_add(&c->ev, NULL)) {
		close(fd);
		free(c);
		return;
	}
	event_add(&c->idle, px.t_idle);
	c->next = px.clients;
	if (px.clients)
		px.clients->prev = c;
	px.clients = c;
	c->l->nconns++;
}

/* ---- the listener ----------------------------------------------------- */

/* Each listener accepts while under --max-connections and not out of
 * fds. */
static void listener_update(void)
{
	struct lsn *l;

	for (l = px.lsn; l < px.lsn + 2; l++) {
		bool on = !px.fd_pause && l->fd >= 0 &&
			  l->nconns < sc_share(sc_cfg.max_connections);

		if (on == l->on)
			continue;
		if (on)
			event_add(&l->ev, NULL);
		else
			event_del(&l->ev);
		l->on = on;
	}
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	px.fd_pause = false;
	listener_update();
}

/* accept() failed with more than "try again": out of fds (EMFILE,
 * ENFILE) or of memory. Retrying at once would spin, so the listener
 * rests a moment; the kernel's backlog keeps the clients meanwhile. */
static void accept_error(const struct lsn *l, int err)
{
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	time_t now = time(NULL);

	px.fd_pause = true;
	listener_update();
	evtimer_add(&px.resume, &tv);
	if (now - px.logged < LOG_EVERY_S) {
		px.unlogged++;
		return;
	}
	xl_err("--%s: cannot accept a connection: %s; pausing %d ms (%lu more such errors since the last line)",
	       l->what, strerror(err), ACCEPT_PAUSE_MS, px.unlogged);
	px.logged = now;
	px.unlogged = 0;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct lsn *l = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	int i, fd;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH && l->on; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO || errno == EPERM)
				continue;
			accept_error(l, errno);
			break;
		}
		cl_new(l, fd, &ss);
		listener_update();
	}
}

/* ---- start and stop --------------------------------------------------- */

int sc_resolve_upstream(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int err;

	if (sc_parse_hostport(sc_cfg.upstream, up_host, sizeof(up_host),
			      &up_port))
		return -1;
	err = getaddrinfo(up_host, NULL, &hints, &ai);
	if (err) {
		xl_err("--upstream %s: cannot resolve '%s': %s; give an address or a name that resolves",
		       sc_cfg.upstream, up_host, gai_strerror(err));
		return -1;
	}
	memcpy(&up_sa, ai->ai_addr, ai->ai_addrlen);
	up_salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (up_sa.ss_family == AF_INET)
		((struct sockaddr_in *)&up_sa)->sin_port = htons(up_port);
	else
		((struct sockaddr_in6 *)&up_sa)->sin6_port = htons(up_port);
	return 0;
}

/* http_parser's bound on a head (process-wide), set once: past it a
 * request's is refused 431, the application's answered 502. */
static void set_max_header(void)
{
	uint32_t max = 4 * sc_cfg.max_header_size;

	http_parser_set_max_header_size(max > UP_MAX_HEAD ? max : UP_MAX_HEAD);
}

/* Serves listening socket `fd` as listener i of this worker, its loop's
 * state made on the first. */
static int listen_on(struct event_base *base, int fd, int i)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct lsn *l = &px.lsn[i];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct timeval t_idle = { sc_cfg.client_timeout, 0 };
	struct timeval t_head = { sc_cfg.header_timeout, 0 };
	struct timeval t_up = { sc_cfg.upstream_timeout, 0 };
	uint8_t addr[16];

	l->fd = fd;
	l->auth = i == 1;
	l->what = l->auth ? "auth-listen" : "listen";
	if (getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    sc_sockaddr_addr(&ss, addr, &l->port))
		return -errno;
	event_assign(&l->ev, base, fd, EV_READ | EV_PERSIST, on_accept, l);
	if (!px.base) {
		pthread_once(&once, set_max_header);
		px.base = base;
		px.idle = calloc(sc_share(sc_cfg.upstream_connections),
				 sizeof(*px.idle));
		if (!px.idle)
			return -ENOMEM;
		/* Timeouts of one length each: O(1) queues, no heap. */
		px.t_idle = event_base_init_common_timeout(base, &t_idle);
		px.t_head = event_base_init_common_timeout(base, &t_head);
		px.t_up = event_base_init_common_timeout(base, &t_up);
		evtimer_assign(&px.resume, base, on_resume, NULL);
		event_assign(&px.reap, base, -1, 0, on_reap, NULL);
		event_assign(&px.flush, base, -1, 0, on_flush, NULL);
	}
	listener_update();
	return l->on ? 0 : -ENOMEM;
}

int sc_proxy_start(struct event_base *base, int fd)
{
	return listen_on(base, fd, 0);
}

int sc_auth_start(struct event_base *base, int fd)
{
	return listen_on(base, fd, 1);
}

void sc_proxy_stop(void)
{
	struct lsn *l;

	if (!px.base)
		return;
	px.fd_pause = true;
	listener_update();
	while (px.clients)
		cl_close(px.clients);
	while (px.nidle)
		up_drop(px.idle[px.nidle - 1]);
	event_del(&px.resume);
	event_del(&px.reap);
	event_del(&px.flush);
	for (l = px.lsn; l < px.lsn + 2; l++)
		if (l->fd >= 0)
			close(l->fd);
	on_reap(-1, 0, NULL);
	free(px.idle);
	memset(&px, 0, sizeof(px));
	px.lsn[0].fd = px.lsn[1].fd = -1;
}
