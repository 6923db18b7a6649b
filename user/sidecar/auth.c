// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The nginx auth_request endpoint of xlimit-sidecar. nginx stays the
 * proxy and asks, for each request, through a subrequest: the client is
 * X-Real-IP ($remote_addr), the port its connection was made to is
 * X-Server-Port ($server_port), the request itself X-Original-URI
 * ($request_uri) and X-Original-Method ($request_method), for its route
 * (without them, the port's limits only), X-Connection-Requests
 * ($connection_requests) says which request of the connection this is
 * (1: the kernel charged its SYN, so it is read; more: it is charged),
 * and X-Connection-Time ($connection_time) how long ago the connection
 * was accepted (a first request is read only if the client's windows
 * opened by then).
 * The answer is 204 with the rate-limit headers, 429 over the limit, 403
 * for a deny-listed client, with X-Xlimit-Verdict: within, over or
 * denied, and over the limit X-Xlimit-Message: the 429's text,
 * HTML-escaped (a route's message, else the limit). nginx's auth_request turns any refusal but 401 and 403 into a
 * 500, which also ends the client's keep-alive; so a subrequest with
 * `X-Refuse-Status: 403` gets 403 over the limit too, and
 * docs/nginx-xlimit.conf turns it back into a 429 from the verdict and
 * copies the headers onto nginx's own responses. Those request headers
 * decide who is charged, so only a peer in --trust-proxy (nginx) may ask:
 * any other peer gets 403 and nothing is charged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "sidecar.h"

static _Thread_local struct evhttp *auth_http;

static int header_u64(const struct evkeyvalq *h, const char *name, uint64_t *v)
{
	const char *s = evhttp_find_header(h, name);
	char *end;

	if (!s)
		return -ENOENT;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || errno || *end)
		return -EINVAL;
	return 0;
}

/* How much later than nginx says a connection may have been accepted.
 * nginx dates a connection with its cached clock, in whole milliseconds,
 * read when its event loop last woke: a connection accepted later in the
 * same round is dated earlier than its SYN. The window a SYN opened starts
 * no later than the SYN, so this slack only keeps such a first request
 * from being charged twice; a window opened by another connection in
 * these few milliseconds is taken for this one's. */
#define ACCEPT_SLACK_NS (50 * 1000000ULL)

/* X-Connection-Time (nginx's $connection_time: seconds, with ms) as the
 * connection's accept time, monotonic ns, plus the slack above (for the
 * handshake, without it); 0 when absent or malformed. */
static struct sc_accepted accepted_at(const struct evkeyvalq *h)
{
	const char *s = evhttp_find_header(h, "X-Connection-Time");
	uint64_t now = sc_mono_ns(), ns = 0, unit = 1000000000ULL;

	if (!s || *s < '0' || *s > '9')
		return (struct sc_accepted){ 0 };
	for (; *s >= '0' && *s <= '9' && ns < now; s++)
		ns = ns * 10 + (uint64_t)(*s - '0') * unit;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9' && unit > 1; s++) {
			unit /= 10;
			ns += (uint64_t)(*s - '0') * unit;
		}
	if (*s || ns >= now)
		return (struct sc_accepted){ 0 };
	return (struct sc_accepted){ .at = now - ns + ACCEPT_SLACK_NS,
				     .handshake = now - ns };
}

static void auth_request(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	uint8_t client[16];
	uint64_t nreq = 1, port;
	static _Thread_local struct sc_route_plan plan;
	struct sc_decision d;
	const char *real, *refuse, *uri;
	char msg[6 * XL_ROUTE_MSG_MAX];
	struct sc_peer p;

	(void)arg;
	sc_count(SC_C_AUTH_REQUESTS);
	if (sc_headers_too_large(req))
		return;
	if (sc_conn_request(req, &p)) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (!sc_trusted(p.peer)) {
		evhttp_send_error(req, 403, "Peer Not In --trust-proxy");
		return;
	}
	real = evhttp_find_header(in, "X-Real-IP");
	if (!real || xl_parse_addr(real, client)) {
		evhttp_send_error(req, 400, "X-Real-IP Required");
		return;
	}
	if (header_u64(in, "X-Server-Port", &port) || port == 0 ||
	    port > 65535) {
		evhttp_send_error(req, 400, "X-Server-Port Required");
		return;
	}
	if (header_u64(in, "X-Connection-Requests", &nreq) == -EINVAL) {
		evhttp_send_error(req, 400, "Bad X-Connection-Requests");
		return;
	}
	/* The request's route, when nginx names it (routes: SEMANTICS.md
	 * §5); without X-Original-URI, the port's limits only. */
	uri = evhttp_find_header(in, "X-Original-URI");
	if (uri)
		sc_route_plan_uri(uri,
				  evhttp_find_header(in, "X-Original-Method"),
				  port, &plan);
	else
		plan = (struct sc_route_plan){ .n = 0 };
	sc_decide_planned(&plan, client, port, nreq ? nreq : 1, true,
			  accepted_at(in), &d);
	refuse = evhttp_find_header(in, "X-Refuse-Status");
	switch (d.verdict) {
	case SC_OVER:
		sc_count(SC_C_AUTH_LIMITED);
		evhttp_add_header(out, "X-Xlimit-Verdict", "over");
		/* The 429's text, HTML-escaped, for nginx's own page. */
		sc_html_escape(d.message[0] ? d.message :
					      d.client.lim[d.report].text,
			       msg, sizeof(msg));
		evhttp_add_header(out, "X-Xlimit-Message", msg);
		sc_send_refusal(req, &d,
				refuse && !strcmp(refuse, "403") ? 403 : 429);
		return;
	case SC_DENIED:
		evhttp_add_header(out, "X-Xlimit-Verdict", "denied");
		sc_send_refusal(req, &d, 403);
		return;
	default:
		evhttp_add_header(out, "X-Xlimit-Verdict", "within");
		sc_add_headers(&d, out, false);
		evhttp_send_reply(req, 204, "No Content", NULL);
		sc_flush(evhttp_request_get_connection(req));
	}
}

int sc_auth_start(struct event_base *base, int fd)
{
	auth_http = evhttp_new(base);
	if (!auth_http)
		return -ENOMEM;
	if (sc_http_setup(auth_http, base, "auth-listen", auth_request))
		return -ENOMEM;
	evhttp_set_default_content_type(auth_http, NULL);
	evhttp_set_allowed_methods(auth_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
						      EVHTTP_REQ_POST);
	return sc_bind(auth_http, "auth-listen", fd);
}

void sc_auth_stop(void)
{
	if (auth_http)
		sc_http_free(auth_http);
	auth_http = NULL;
}
