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
 *
 * This file decides; the connections, the parsing and the answers are
 * the proxy's core (proxy.c), which serves --auth-listen as it serves
 * --listen, without an application behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "sidecar.h"

static int header_u64(const char *s, uint64_t *v)
{
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
static struct sc_accepted accepted_at(const char *s)
{
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

void sc_auth_decide(const uint8_t peer[16], sc_find_fn *find, void *arg,
		    struct sc_decision *d, struct sc_auth_answer *a)
{
	static _Thread_local struct sc_route_plan plan;
	uint64_t nreq = 1, port;
	const char *real, *refuse, *uri;
	uint8_t client[16];

	a->error = NULL;
	a->verdict = NULL;
	a->message[0] = '\0';
	if (!sc_trusted(peer)) {
		a->code = 403;
		a->error = "the peer is not in --trust-proxy";
		return;
	}
	real = find(arg, "X-Real-IP");
	if (!real || xl_parse_addr(real, client)) {
		a->code = 400;
		a->error = "X-Real-IP (an address) is required";
		return;
	}
	if (header_u64(find(arg, "X-Server-Port"), &port) || port == 0 ||
	    port > 65535) {
		a->code = 400;
		a->error = "X-Server-Port (a port) is required";
		return;
	}
	if (header_u64(find(arg, "X-Connection-Requests"), &nreq) == -EINVAL) {
		a->code = 400;
		a->error = "X-Connection-Requests is not a number";
		return;
	}
	/* The request's route, when nginx names it (routes: SEMANTICS.md
	 * §5); without X-Original-URI, the port's limits only. */
	uri = find(arg, "X-Original-URI");
	if (uri)
		sc_route_plan_uri(uri, find(arg, "X-Original-Method"), port,
				  &plan);
	else
		plan = (struct sc_route_plan){ .n = 0 };
	sc_decide_planned(&plan, client, port, nreq ? nreq : 1, true,
			  accepted_at(find(arg, "X-Connection-Time")), d);
	refuse = find(arg, "X-Refuse-Status");
	switch (d->verdict) {
	case SC_OVER:
		sc_count(SC_C_AUTH_LIMITED);
		a->verdict = "over";
		/* The 429's text, HTML-escaped, for nginx's own page. */
		sc_html_escape(d->message[0] ? d->message :
					       d->client.lim[d->report].text,
			       a->message, sizeof(a->message));
		a->code = refuse && !strcmp(refuse, "403") ? 403 : 429;
		return;
	case SC_DENIED:
		a->verdict = "denied";
		a->code = 403;
		return;
	default:
		a->verdict = "within";
		a->code = 204;
	}
}
