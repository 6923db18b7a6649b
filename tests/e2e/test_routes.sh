#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End-to-end test of per-endpoint limits (`xlimit route`) against
# Flask-Limiter 3.3 run live: a Flask app (tests/e2e/routes_app.py) with
# routes of different limits and methods, a prefix route and an exact one
# under it, an exempt route, default limits, an error message and an
# application-wide limit; and the same configuration as xlimit routes and
# a port limit, with xlimit-sidecar in front of the same app (its limiter
# off). The same request sequence goes through both, each on its own
# clock, and every response must carry the same status,
# X-RateLimit-Limit, -Remaining and 429 message, and Retry-After and
# X-RateLimit-Reset within a second. Then what `xlimit query` shows of a
# client's route counts, that a percent-encoded path is charged to its
# route, the same routes through nginx and the sidecar's auth_request
# endpoint (docs/nginx-xlimit.conf), that a route change reaches the
# running sidecar, and each route's counters (passed, limited, exempted)
# exact after parallel requests through both workers, as route list,
# stats, /metrics and bpftool show them. Everything runs on the loopback of a throwaway namespace; the
# kernel is not attached (the sidecar charges every request:
# --charge-first), so only the sidecar's routes and port charges count.
set -u
. "$(dirname "$0")/../lib/lib.sh"

SIDECAR_BIN=${SIDECAR_BIN:-$XL_TOP/build/xlimit-sidecar}
APP=$XL_TOP/tests/e2e/routes_app.py
P=8090 # the sidecar
F=5001 # Flask-Limiter, the oracle
U=5002 # the same app, its limiter off: the sidecar's application
N=8091 # nginx, asking the sidecar (auth_request) with docs/nginx-xlimit.conf
A=9091 # the sidecar's auth_request endpoint
M=9092 # the sidecar's /metrics

xl_test_init
xl_need curl nginx "$SIDECAR_BIN"
if ! $PY -c 'import flask_limiter' 2>/dev/null; then
	fail "needs python3-flask-limiter (make deps)"
	summary
	exit 1
fi
xl_netns_setup


xls load >/dev/null || { fail "load"; summary; exit 1; }
# The same configuration as routes_app.py's decorators.
xls limit set $P "10 per 10 seconds" --action pass >/dev/null
xls route add $P '*' "5 per 10 seconds" &&
	xls route add $P /limited "3 per 10 seconds" --message "slow down <now>" &&
	xls route add $P /get-only "2 per 10 seconds" --methods GET &&
	xls route add $P '/api/*' "4 per 10 seconds" &&
	xls route add $P /api/special "1 per 10 seconds" --message "special: 1 per 10 s" &&
	xls route add $P /free --exempt &&
	xls route add $P /plain || fail "route add"

xl_bg oracle nsenter --net="/run/netns/$NS_SRV" $PY "$APP" app $F
xl_bg upstream nsenter --net="/run/netns/$NS_SRV" $PY "$APP" app $U off
# Two workers: the counts are the kernel's, whichever thread (each with
# its own copy of the route table) takes a connection.
xl_bg sidecar nsenter --net="/run/netns/$NS_SRV" "$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$P \
	--upstream 127.0.0.1:$U --retry-after always --charge-first --workers 2 \
	--auth-listen 127.0.0.1:$A --trust-proxy 127.0.0.1/32 --metrics-listen 127.0.0.1:$M
xl_wait_up oracle http://127.0.0.1:$F/free "$NS_SRV"
xl_wait_up upstream http://127.0.0.1:$U/free "$NS_SRV"
xl_wait_up sidecar http://127.0.0.1:$P/free "$NS_SRV"

# --- the same answers as Flask-Limiter, request by request ------------------

in_srv $PY "$APP" drive http://127.0.0.1:$P http://127.0.0.1:$F >"$XL_TMP/drive.out" 2>&1
while read -r verdict rest; do
	case $verdict in
	ok) ok "$rest" ;;
	FAIL) fail "$rest" ;;
	statuses) statuses=$rest ;;
	*) fail "drive: $verdict $rest" ;;
	esac
done <"$XL_TMP/drive.out"
# The comparison means something only if the oracle refused and let
# through: 429s of route limits, of default limits and of the app limit.
assert_match "${statuses:-}" "^200 200 200 429 429 " "the oracle: /limited went over its limit"
assert_eq "$(grep -c '429' <<<"${statuses// /$'\n'}")" 9 "the oracle refused 9 requests of the sequence"

# --- xlimit query: the client's route counts ---------------------------------

Q=$(xls query 127.0.0.2 $P --json)
assert_eq "$(jget '[(r["path"], r["default"], r["limits"][0]["limit"], r["limits"][0]["remaining"]) for r in d["routes"]]' <<<"$Q")" \
	'[["/limited",false,"3 per 10 second",1]]' "query --json: client 2's count of /limited (2 of 3 in the new window)"
in_srv curl -s -o /dev/null --interface 127.0.0.8 http://127.0.0.1:$P/get-only
in_srv curl -s -o /dev/null --interface 127.0.0.8 -d x http://127.0.0.1:$P/get-only
Q=$(xls query 127.0.0.8 $P --json)
assert_eq "$(jget 'sorted((r["path"], r["methods"], r["default"], r["limits"][0]["remaining"]) for r in d["routes"])' <<<"$Q")" \
	'[["/get-only",["GET"],false,1],["/get-only",["GET"],true,4]]' \
	"query --json: GET /get-only on its own limit, POST on the default limits"
assert_match "$(xls query 127.0.0.8)" "route /get-only GET \(default limits\)"$'\n'"    5 per 10 second +remaining 4" \
	"query (text): the route counts under the port"

# --- an encoded path is its route's --------------------------------------------

# /limite%64 is /limited to the application: charged to /limited (3 per
# 10 s, its message), not to the default limits (5 per 10 s).
for i in 1 2 3 4; do
	in_srv curl -s -o "$XL_TMP/enc.$i" -w '%{http_code} ' --interface 127.0.0.10 "http://127.0.0.1:$P/limite%64"
done >"$XL_TMP/enc.codes"
assert_eq "$(cat "$XL_TMP/enc.codes")" "200 200 200 429 " "a percent-encoded path is charged to its route"
assert_match "$(cat "$XL_TMP/enc.4")" "<p>slow down &lt;now&gt;</p>" "... and refused with the route's message, HTML-escaped"

# --- nginx in front: auth_request with the route -------------------------------

xls route add $N /limited "3 per 10 seconds" --message "slow down <now>" &&
	xls route add $N '*' "5 per 10 seconds" || fail "route add for nginx's port"
xl_nginx_conf 127.0.0.1:$N 127.0.0.1:$U 127.0.0.1:$A
xl_bg nginx nsenter --net="/run/netns/$NS_SRV" nginx -p "$XL_TMP/nginx" -c "$XL_TMP/nginx/nginx.conf"
xl_wait_up nginx http://127.0.0.1:$N/free "$NS_SRV"
for i in 1 2 3 4; do
	in_srv curl -s -o "$XL_TMP/ng.$i" -D "$XL_TMP/ngh.$i" --interface 127.0.0.11 "http://127.0.0.1:$N/limite%64"
	echo "$(awk 'NR == 1 { print $2 }' "$XL_TMP/ngh.$i") $(tr -d '\r' <"$XL_TMP/ngh.$i" | awk '/^X-RateLimit-(Limit|Remaining):/ { printf "%s ", $2 }')"
done >"$XL_TMP/ng.out"
assert_eq "$(tr '\n' '|' <"$XL_TMP/ng.out")" "200 3 2 |200 3 1 |200 3 0 |429 3 0 |" \
	"nginx auth_request: the route's limit, counted per request (the first one refused at 4)"
assert_match "$(cat "$XL_TMP/ng.4")" "<p>slow down &lt;now&gt;</p>" "nginx auth_request: the 429 has the route's message, HTML-escaped"
in_srv curl -s -o /dev/null -D "$XL_TMP/ngh.x" --interface 127.0.0.11 "http://127.0.0.1:$N/elsewhere"
assert_match "$(tr -d '\r' <"$XL_TMP/ngh.x")" $'HTTP/1.1 200.*\nX-RateLimit-Limit: 5\n' \
	"nginx auth_request: a path no route matches counts the default limits"

# --- each route's counters, the kernel's, over both workers ---------------------

# metric NAME{LABELS}: its value on the sidecar's /metrics.
metric() {
	in_srv curl -s http://127.0.0.1:$M/metrics | awk -v m="$1" '$1 == m { print $2 }'
}
xls route add $P /count "3 per minute" >/dev/null &&
	xls route add $P /count-free --exempt >/dev/null || fail "route add for the counters"
w0=$(metric 'xlimit_sidecar_worker_requests_total{worker="0"}')
w1=$(metric 'xlimit_sidecar_worker_requests_total{worker="1"}')
# 4 clients, 5 requests each to /count (3 per minute each: 3 passed, 2
# limited), and 6 to the exempt /count-free, 4 at a time.
{
	for c in 20 21 22 23; do printf "$c /count\n%.0s" 1 2 3 4 5; done
	printf "24 /count-free\n%.0s" 1 2 3 4 5 6
} | xargs -P 4 -L 1 sh -c 'nsenter --net="/run/netns/$0" curl -s -o /dev/null --max-time 5 \
	--interface "127.0.0.$2" "http://127.0.0.1:$1$3"' "$NS_SRV" "$P"
assert_eq "$(xls route list $P --json | jget '[(r["path"], r["passed"], r["limited"], r["exempted"]) for r in d if r["path"].startswith("/count")]')" \
	'[["/count",12,8,0],["/count-free",0,0,6]]' \
	"route list --json: /count passed 12 and limited 8, /count-free exempted 6, over both workers"
assert_match "$(xls route list $P)" "/count +any +3 per 1 minute \(passed 12, limited 8\)" \
	"route list: the counters after the route"
assert_eq "$(xls stats --json | jget '[(r["port"], r["path"], r["methods"], r["passed"], r["limited"], r["exempted"]) for r in d if r.get("path", "").startswith("/count")]')" \
	"[[$P,\"/count\",[],12,8,0],[$P,\"/count-free\",[],0,0,6]]" "stats --json: a row per route with its counters"
assert_eq "$(metric "xlimit_route_requests_total{port=\"$P\",path=\"/count\",methods=\"\",result=\"passed\"}") $(metric "xlimit_route_requests_total{port=\"$P\",path=\"/count\",methods=\"\",result=\"limited\"}") $(metric "xlimit_route_requests_total{port=\"$P\",path=\"/count-free\",methods=\"\",result=\"exempted\"}")" \
	"12 8 6" "/metrics: xlimit_route_requests_total by port, path, methods and result"
id=$(xls route list $P --json | jget '[r["id"] for r in d if r["path"] == "/count"][0]')
assert_eq "$(bpftool -j map lookup pinned "$XL_PIN/xl_route_stats" key $((id & 255)) $((id >> 8 & 255)) 0 0 |
	jget '[sum(v["value"]["c"][i] for v in d["formatted"]["values"]) for i in range(3)]')" "[12,8,0]" \
	"bpftool: xl_route_stats holds /count's counters per CPU, named by BTF"
assert_match "$(($(metric 'xlimit_sidecar_worker_requests_total{worker="0"}') - w0)) $(($(metric 'xlimit_sidecar_worker_requests_total{worker="1"}') - w1))" \
	"^[1-9][0-9]* [1-9][0-9]*$" "both workers served some of the 26 requests"
assert_match "$(xls status)" "routes: +[0-9]+ \(requests: [0-9]+ passed, [0-9]+ limited, [0-9]+ exempted\)" \
	"status: the routes and their requests"
assert_eq "$(xls status --json | jget 'd["route_requests"]["exempted"] >= 6 and d["route_count"] == 11')" "true" \
	"status --json: route_count and route_requests"

# --- a change reaches the running sidecar --------------------------------------

xls route add $P /plain "1 per minute" --message "now limited" >/dev/null
for i in 1 2; do
	in_srv curl -s -o "$XL_TMP/body.$i" -w '%{http_code}\n' --interface 127.0.0.9 http://127.0.0.1:$P/plain
done >"$XL_TMP/codes"
assert_eq "$(tr '\n' ' ' <"$XL_TMP/codes")" "200 429 " "route add: the running sidecar applies the new limit at once"
assert_match "$(cat "$XL_TMP/body.2")" "<p>now limited</p>" "route add: ... with its message"
xls route del $P /plain >/dev/null
in_srv curl -s -o /dev/null -D "$XL_TMP/h" --interface 127.0.0.9 http://127.0.0.1:$P/plain
assert_match "$(tr -d '\r' <"$XL_TMP/h")" $'HTTP/1.1 200.*\nX-RateLimit-Limit: 5\n' \
	"route del: /plain falls back to the default limits"

summary
