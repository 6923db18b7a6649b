#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End-to-end tests of xlimit-sidecar: xlimit in native XDP on the server
# veth of two throwaway namespaces, the sidecar (and nginx with the shipped
# docs/nginx-xlimit.conf, in auth_request mode) in front of a real backend,
# real curl clients. The headers and statuses are checked against a Flask
# app with Debian's Flask-Limiter run live with the same limit at the same
# request times; then the kernel's hard drop beside a kept-alive
# connection, a sliding-window and a token-bucket port against xlimit
# query, the allow list, trusted and untrusted proxies, 502 and 504,
# malformed, oversized and trickled requests, 10 MB each way byte-exact,
# and /metrics parsed with prometheus_client.
set -u
. "$(dirname "$0")/../lib/lib.sh"

SIDECAR_BIN=${SIDECAR_BIN:-$XL_TOP/build/xlimit-sidecar}
HELP=$XL_TOP/tests/e2e/sidecar_helpers.py
LIMIT="3 per 10 seconds"
PERIOD=10 # seconds, LIMIT's
P=8080   # the sidecar's proxy port (rule: $LIMIT, pass)
N=8081   # nginx (rule: $LIMIT, pass)
PD=8082  # a second sidecar (rule: 3 per 30 seconds, drop)
PX=8083  # a third sidecar, whose application is down (no rule)
PS=8094  # a sidecar on a sliding-window port (3 per 30 seconds, drop)
PT=8095  # a sidecar on a token-bucket port (3 per 30 seconds, burst 2, drop)
PQ=8096  # a sidecar on a token-bucket port (10 per second: T = 100 ms)
A=9090   # auth_request endpoint
M=9100   # /metrics
B=8000   # the backend, on the server's loopback
F=5000   # the Flask-Limiter oracle, on the client's loopback

xl_test_init
xl_need curl nginx "$SIDECAR_BIN"
if ! $PY -c 'import flask_limiter, prometheus_client' 2>/dev/null; then
	fail "needs python3-flask-limiter and python3-prometheus-client (make deps)"
	summary
	exit 1
fi
xl_netns_setup

cli() { ip netns exec "$NS_CLI" "$@"; }
srv() { ip netns exec "$NS_SRV" "$@"; }
# Seconds to sleep until T0 + OFFSET (0 if past).
until_s() { awk -v a="$1" -v b="$2" -v n="$(date +%s.%N)" 'BEGIN { d = a + b - n; printf "%.3f", (d > 0 ? d : 0) }'; }
# q_remaining ADDRESS PORT: what xlimit query says remains of the first limit.
q_remaining() { xls query "$1" "$2" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["limits"][0]["remaining"])'; }
mval() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "absent" }' "$1"; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", b - a }'; }

# --- setup -----------------------------------------------------------------

xls attach "$VETH_SRV" --mode native >/dev/null || { fail "attach native XDP"; summary; exit 1; }
# The clients are told apart by address: count IPv6 per address (the
# default, /64, would make one client of 2001:2::/64).
xls config set ipv6-prefix 128
xls limit set $P "$LIMIT" --action pass >/dev/null
xls limit set $N "$LIMIT" --action pass >/dev/null
xls limit set $PD "3 per 30 seconds" --action drop >/dev/null
xls limit set $PS "3 per 30 seconds" --strategy sliding-window >/dev/null
xls limit set $PT "3 per 30 seconds" --strategy token-bucket --burst 2 >/dev/null
xls limit set $PQ "10 per second" --strategy token-bucket >/dev/null
xls allow add 127.0.0.1/32 2001:2::3 >/dev/null
xls deny add 198.18.7.7 >/dev/null # named only in X-Forwarded-For

xl_bg backend ip netns exec "$NS_SRV" $PY "$HELP" app $B
xl_bg flask ip netns exec "$NS_CLI" $PY "$HELP" flask $F "$LIMIT"
# The sidecar enters only the network namespace: it needs the pins.
SC=(nsenter --net="/run/netns/$NS_SRV" "$SIDECAR_BIN" --pin-dir "$XL_PIN")
xl_bg sidecar "${SC[@]}" --listen "[::]:$P" --upstream 127.0.0.1:$B \
	--auth-listen 127.0.0.1:$A --metrics-listen 127.0.0.1:$M \
	--retry-after always --trust-proxy 198.18.0.7/32 127.0.0.1 \
	--client-timeout 2 --upstream-timeout 2 --max-body-size 16777216
xl_bg sidecar_drop "${SC[@]}" --listen 0.0.0.0:$PD --upstream 127.0.0.1:$B
xl_bg sidecar_down "${SC[@]}" --listen 127.0.0.1:$PX --upstream 127.0.0.1:1 \
	--trust-proxy 127.0.0.1
xl_bg sidecar_sliding "${SC[@]}" --listen 0.0.0.0:$PS --upstream 127.0.0.1:$B
xl_bg sidecar_token "${SC[@]}" --listen 0.0.0.0:$PT --upstream 127.0.0.1:$B
xl_bg sidecar_quick "${SC[@]}" --listen 0.0.0.0:$PQ --upstream 127.0.0.1:$B
QUICK_PID=$XL_BG_PID

xl_nginx_conf 198.18.0.2:$N 127.0.0.1:$B 127.0.0.1:$A
xl_bg nginx ip netns exec "$NS_SRV" nginx -p "$XL_TMP/nginx" -c "$XL_TMP/nginx/nginx.conf"

# Loopback clients are allow-listed: polling does not use up any quota.
xl_wait_up backend http://127.0.0.1:$B/ "$NS_SRV"
xl_wait_up flask http://127.0.0.1:$F/health "$NS_CLI"
xl_wait_up sidecar http://127.0.0.1:$P/ "$NS_SRV"
xl_wait_up sidecar_drop http://127.0.0.1:$PD/ "$NS_SRV"
xl_wait_up sidecar_sliding http://127.0.0.1:$PS/ "$NS_SRV"
xl_wait_up sidecar_token http://127.0.0.1:$PT/ "$NS_SRV"
xl_wait_up sidecar_quick http://127.0.0.1:$PQ/ "$NS_SRV"
xl_wait_up sidecar http://127.0.0.1:$M/metrics "$NS_SRV"
xl_wait_up nginx http://198.18.0.2:$N/ "$NS_SRV"

# --- the same answers as Flask-Limiter ----------------------------------------

# run_seq NAME SRC URL STEP...: a step T:K makes K requests on one
# connection, T seconds after the first step, from SRC to URL, and the same
# K right after to the Flask-Limiter oracle (client NAME), T seconds after
# the oracle's own first step. Each side keeps its own clock: the oracle's
# first request waits for xlimit's to be answered, which on a loaded
# machine takes some hundreds of milliseconds, and a shared start would
# shift the oracle's window by that much. Headers go to
# $XL_TMP/NAME.{xl,fl}.T, connections opened to $XL_TMP/NAME.conn.T, and
# when each side's step began and when its answers were all in (epoch
# seconds) to $XL_TMP/NAME.{xl,fl}.T.sent and .done.
run_seq() {
	local name=$1 src=$2 url=$3 txl="" tfl="" step off k i xl fl
	shift 3
	for step in "$@"; do
		off=${step%%:*} k=${step#*:} xl=() fl=()
		for ((i = 0; i < k; i++)); do
			xl+=(-o /dev/null "$url/r$i?step=$off")
			fl+=(-o /dev/null "http://127.0.0.1:$F/r$i")
		done
		[ -n "$txl" ] && sleep "$(until_s "$txl" "$off")"
		date +%s.%N >"$XL_TMP/$name.xl.$off.sent"
		[ -n "$txl" ] || txl=$(cat "$XL_TMP/$name.xl.$off.sent")
		cli curl -s --interface "$src" -D "$XL_TMP/$name.xl.$off" \
			-w '%{num_connects}\n' "${xl[@]}" >"$XL_TMP/$name.conn.$off"
		date +%s.%N >"$XL_TMP/$name.xl.$off.done"
		[ -n "$tfl" ] && sleep "$(until_s "$tfl" "$off")"
		date +%s.%N >"$XL_TMP/$name.fl.$off.sent"
		[ -n "$tfl" ] || tfl=$(cat "$XL_TMP/$name.fl.$off.sent")
		cli curl -s -H "X-Client: $name" -D "$XL_TMP/$name.fl.$off" "${fl[@]}"
		date +%s.%N >"$XL_TMP/$name.fl.$off.done"
	done
}

# in_range VALUE LO HI NAME: LO <= VALUE <= HI, integers.
in_range() {
	if [[ $1 =~ ^[0-9]+$ ]] && (($2 <= $1 && $1 <= $3)); then
		ok "$4 ($1 in $2..$3)"
	else
		fail "$4: '$1', expected $2..$3"
	fi
}

# check_times NAME SIDE OPENER OFF I RESET RETRY: response I of step OFF on
# SIDE (xl or fl) carries the window end and the wait that Flask-Limiter
# defines (SEMANTICS.md): X-RateLimit-Reset is floor(first hit + period)
# + 1 for the window opened by step OPENER, whose first hit came while
# that step ran (on a loaded machine a step can take a second or more);
# Retry-After is trunc(Reset - now), now being while step OFF ran.
# Unloaded, each range is one or two seconds wide.
check_times() {
	local name=$1 side=$2 opener=$3 off=$4 reset=$6 retry=$7 what t
	what="$name +${off}s #$(($5 + 1))"
	[ "$side" == fl ] && what+=" (Flask-Limiter)"
	t=$XL_TMP/$name.$side.$opener
	in_range "$reset" $(($(cut -d. -f1 "$t.sent") + PERIOD + 1)) \
		$(($(cut -d. -f1 "$t.done") + PERIOD + 1)) \
		"$what: X-RateLimit-Reset ends the window opened at +${opener}s"
	[[ $reset =~ ^[0-9]+$ ]] || reset=0
	t=$XL_TMP/$name.$side.$off
	in_range "$retry" $((reset - $(cut -d. -f1 "$t.done") - 1)) \
		$((reset - $(awk '{ c = int($1); print (c < $1 ? c + 1 : c) }' "$t.sent"))) \
		"$what: Retry-After is what remains of that window"
}

# compare NAME STEP...: every response against Flask-Limiter's.
compare() {
	local name=$1 step off opener="" i s1 l1 r1 x1 a1 s2 l2 r2 x2 a2 xl fl statuses=""
	shift
	for step in "$@"; do
		off=${step%%:*}
		# A step opens a window if it is the first, or a period or more
		# after the step that opened the last one.
		if [ -z "$opener" ] || [ $((off - opener)) -ge $PERIOD ]; then opener=$off; fi
		mapfile -t xl < <($PY "$HELP" headers "$XL_TMP/$name.xl.$off")
		mapfile -t fl < <($PY "$HELP" headers "$XL_TMP/$name.fl.$off")
		assert_eq "${#xl[@]}" "${#fl[@]}" "$name +${off}s: as many responses as Flask-Limiter"
		assert_eq "$(awk '{ s += $1 } END { print s }' "$XL_TMP/$name.conn.$off")" 1 \
			"$name +${off}s: one connection"
		for i in "${!fl[@]}"; do
			read -r s1 l1 r1 x1 a1 <<<"${xl[$i]:-- - - - -}"
			read -r s2 l2 r2 x2 a2 <<<"${fl[$i]}"
			statuses+="$s2 "
			assert_eq "$s1 $l1 $r1" "$s2 $l2 $r2" \
				"$name +${off}s #$((i + 1)): status, X-RateLimit-Limit, -Remaining as Flask-Limiter"
			# Reset and Retry-After are times: each side's against
			# the times it was seen at.
			check_times "$name" xl "$opener" "$off" "$i" "$x1" "$a1"
			check_times "$name" fl "$opener" "$off" "$i" "$x2" "$a2"
		done
	done
	# The comparison means something only if it saw both outcomes.
	assert_match "$statuses" "200.*429.*200" "$name: the oracle went over the limit and back"
}

# The last step is a second past the 10 s window: room for one request's
# start-up delay on a loaded machine.
ONE=(0:1 1:1 2:1 3:1 11:1)
KEPT=(0:2 1:3 11:2)
SEQS=()
run_seq proxy_one 198.18.0.1 http://198.18.0.2:$P "${ONE[@]}" &
SEQS+=($!)
run_seq proxy_kept 198.18.0.3 http://198.18.0.2:$P "${KEPT[@]}" &
SEQS+=($!)
run_seq nginx_one 198.18.0.5 http://198.18.0.2:$N "${ONE[@]}" &
SEQS+=($!)
run_seq nginx_kept 198.18.0.6 http://198.18.0.2:$N "${KEPT[@]}" &
SEQS+=($!)
wait "${SEQS[@]}"
compare proxy_one "${ONE[@]}"
compare proxy_kept "${KEPT[@]}"
compare nginx_one "${ONE[@]}"
compare nginx_kept "${KEPT[@]}"
assert_eq "$(grep -c 'auth request unexpected' "$XL_TMP/nginx/error.log")" 0 \
	"nginx: no auth subrequest failed"

# --- a hard limit: drop in the kernel, 429 on the kept-alive connection ------

mkfifo "$XL_TMP/ka.in"
cli $PY "$HELP" keepalive 198.18.0.2 $PD 6 <"$XL_TMP/ka.in" >"$XL_TMP/ka.out" 2>&1 &
KA=$!
exec 7>"$XL_TMP/ka.in"
for ((i = 0; i < 100; i++)); do
	grep -q gap "$XL_TMP/ka.out" && break
	sleep 0.1
done
cli curl -s -o /dev/null --connect-timeout 2 http://198.18.0.2:$PD/new && rc=0 || rc=$?
assert_eq "$rc" 28 "drop: a new connection over the hard limit times out (curl exit 28)"
echo >&7
exec 7>&-
wait $KA
assert_eq "$(grep -v gap "$XL_TMP/ka.out" | awk '{ print $1 }' | tr '\n' ' ')" "200 200 200 429 429 429 " \
	"drop: the kept-alive connection gets 200 x3, then 429s, also after the drop"
assert_eq "$(grep -v gap "$XL_TMP/ka.out" | awk '{ print $2 }' | tr '\n' ' ')" "2 1 0 0 0 0 " \
	"drop: X-RateLimit-Remaining on the kept-alive connection"
dropped=$(xls stats --json | $PY -c "import json,sys; print([r['dropped'] for r in json.load(sys.stdin) if r['port'] == $PD][0])")
assert_match "$dropped" '^[1-9][0-9]*$' "drop: the kernel dropped the new connection's SYN(s) ($dropped)"
# Default --retry-after 429: none on a 200.
cli curl -s -o /dev/null -D "$XL_TMP/ra.h" --interface 198.18.0.9 http://198.18.0.2:$PD/
assert_eq "$($PY "$HELP" headers "$XL_TMP/ra.h")" "200 3 2 $(awk '/^X-RateLimit-Reset/ { printf "%d", $2 }' "$XL_TMP/ra.h") -" \
	"default --retry-after 429: headers on a 200, without Retry-After"
cli curl -s -D "$XL_TMP/ra.h" --interface 198.18.0.9 \
	-H 'Accept: application/json' \
	-o /dev/null http://198.18.0.2:$PD/ -o /dev/null http://198.18.0.2:$PD/ \
	-o "$XL_TMP/ra.body" http://198.18.0.2:$PD/
assert_match "$($PY "$HELP" headers "$XL_TMP/ra.h" | tail -n 1)" '^429 3 0 [0-9]+ [0-9]+$' \
	"default --retry-after 429: Retry-After on the 429"
# The answers the sidecar makes carry their Date (RFC 9110 6.6.1); the
# application's carry the application's own, not a second one.
assert_eq "$($PY "$HELP" dates "$XL_TMP/ra.h" | tr '\n' ' ')" "200 ok 200 ok 429 ok " \
	"one Date field on each answer, the 429 the sidecar made included"
# problem+json: limit is the limit's text, as in the CLI's JSON, and
# amount its number.
assert_eq "$(jget '[d["status"], d["limit"], d["amount"], d["remaining"]]' <"$XL_TMP/ra.body")" \
	'[429,"3 per 30 second",3,0]' "the 429 as problem+json: limit (text), amount, remaining"

# --- allow list, proxies, the application's own headers -----------------------

for i in 1 2 3 4 5; do
	cli curl -s -o /dev/null -D - "http://[2001:2::2]:$P/" --interface 2001:2::3
done >"$XL_TMP/allow.h"
assert_eq "$($PY "$HELP" headers "$XL_TMP/allow.h" | sort | uniq -c | awk '{ print $1, $2, $3, $4, $5, $6 }')" \
	"5 200 - - - -" "allow-listed client (IPv6): 5 x 200, no rate-limit headers"

cli curl -s -o /dev/null -D "$XL_TMP/trust.h" --interface 198.18.0.7 \
	-H "X-Forwarded-For: 192.0.2.1, 198.18.0.8" http://198.18.0.2:$P/
assert_match "$($PY "$HELP" headers "$XL_TMP/trust.h")" '^200 3 2 ' \
	"trusted proxy: the forwarded client is charged (remaining 2)"
assert_eq "$(q_remaining 198.18.0.8 $P)" 2 \
	"trusted proxy: xlimit query shows the forwarded client's hit"
assert_eq "$(grep -i '^X-Seen-XFF' "$XL_TMP/trust.h" | tr -d '\r')" "X-Seen-XFF: 192.0.2.1, 198.18.0.8, 198.18.0.7" \
	"trusted proxy: X-Forwarded-For appended"
for i in 1 2; do
	cli curl -s -o /dev/null -D - --interface 198.18.0.4 \
		-H "X-Forwarded-For: 198.18.0.9" -H "X-Real-IP: 198.18.0.9" http://198.18.0.2:$P/
done >"$XL_TMP/spoof.h"
assert_eq "$($PY "$HELP" headers "$XL_TMP/spoof.h" | awk '{ print $1, $2, $3 }' | tr '\n' ' ')" "200 3 2 200 3 1 " \
	"untrusted peer: its own count, whatever X-Forwarded-For says"
assert_eq "$(q_remaining 198.18.0.9 $P)" 3 \
	"untrusted peer: the spoofed address was not charged"

# A connection whose SYN the kernel did not count (here: allow-listed
# then) pays for its first request, even with a window the client opened
# since on another connection: the window started after the accept.
# Two more client addresses, whose state no other test touches.
mac_c=$(ip -n "$NS_CLI" -br link show "$VETH_CLI" | awk '{ print $3 }')
for n in 13 14; do
	ip -n "$NS_CLI" addr add 198.18.0.$n/24 dev "$VETH_CLI"
	ip -n "$NS_SRV" neigh replace 198.18.0.$n lladdr "$mac_c" dev "$VETH_SRV" nud permanent
done
# late SRC PORT NAME: checks that through PORT (the sidecar or nginx).
late() {
	local src=$1 port=$2 name=$3 i
	xls allow add $src/32 >/dev/null
	rm -f "$XL_TMP/late.in"
	mkfifo "$XL_TMP/late.in"
	cli $PY "$HELP" late $src 198.18.0.2 $port <"$XL_TMP/late.in" >"$XL_TMP/late.out" 2>&1 &
	LATE=$!
	exec 8<>"$XL_TMP/late.in"
	for ((i = 0; i < 100; i++)); do
		grep -q connected "$XL_TMP/late.out" && break
		sleep 0.1
	done
	xls allow del $src/32 >/dev/null
	sleep 0.1
	assert_eq "$(cli curl -s -o /dev/null -w '%{http_code}' --interface $src http://198.18.0.2:$port/)" 200 \
		"$name: SYN not counted: another connection of the client opens a window"
	echo >&8
	exec 8>&-
	wait $LATE
	assert_eq "$(grep -v connected "$XL_TMP/late.out")" "200 1" \
		"$name: SYN not counted: the first request of the older connection is charged (remaining 1)"
	assert_eq "$(q_remaining $src $port)" 1 "$name: SYN not counted: xlimit query shows both hits"
}
late 198.18.0.13 $P proxy
late 198.18.0.14 $N nginx

# --- strategies: the headers of a sliding-window and a token-bucket port -----

# One connection of four requests to each: the kernel charged its SYN, the
# sidecar the three requests after the first; the headers agree with what
# xlimit query says of the client right after.
strategy_port() {
	local port=$1 src=$2 name=$3 want=$4 h q i urls=()
	for ((i = 0; i < 4; i++)); do
		urls+=(-o /dev/null "http://198.18.0.2:$port/s$i")
	done
	ip -n "$NS_CLI" addr add "$src/24" dev "$VETH_CLI"
	ip -n "$NS_SRV" neigh replace "$src" lladdr "$mac_c" dev "$VETH_SRV" nud permanent
	# Sliding windows lie on a grid of CLOCK_MONOTONIC: start early in
	# one (waiting at most 10 s), so that the four requests see no
	# boundary, where the count decays.
	$PY -c 'import time; t = time.monotonic() % 30; time.sleep(30.5 - t if t > 20 else 0)'
	cli curl -s --interface "$src" -D "$XL_TMP/$name.h" "${urls[@]}"
	q=$(xls query "$src" "$port" --json)
	h=$($PY "$HELP" headers "$XL_TMP/$name.h")
	assert_eq "$(awk '{ print $1, $2, $3 }' <<<"$h" | tr '\n' ' ')" "$want" \
		"$name: statuses, X-RateLimit-Limit and -Remaining on one connection"
	assert_eq "$($PY -c 'import json,sys; d=json.loads(sys.argv[1])["limits"][0]; print(d["strategy"], d["remaining"], d["reset"])' "$q")" \
		"$name 0 $(tail -n 1 <<<"$h" | awk '{ print $4 }')" \
		"$name: xlimit query agrees with the last response (strategy, remaining, reset)"
	# Retry-After on the 429: the time until the next request fits.
	assert_match "$(tail -n 1 <<<"$h")" '^429 3 0 [0-9]+ [0-9]+$' "$name: Retry-After on the 429"
}
strategy_port $PS 198.18.0.15 sliding-window "200 3 2 200 3 1 200 3 0 429 3 0 "
strategy_port $PT 198.18.0.16 token-bucket "200 3 1 200 3 0 429 3 0 429 3 0 "
ra=$($PY "$HELP" headers "$XL_TMP/token-bucket.h" | tail -n 1 | awk '{ print $5 }')
if [ "$ra" -le 10 ]; then
	ok "token-bucket: Retry-After within one emission interval, 10 s ($ra)"
else
	fail "token-bucket: Retry-After $ra is past one emission interval (10 s)"
fi

# A first request long after its SYN (0.5 s, five emission intervals): the
# bucket is full again, but its TAT is past the accept, which shows the
# SYN was charged: the request only reads (remaining 10), it is not
# charged a second time.
# late_request SRC [stop|sent]: a connection from SRC to the quick
# sidecar, its request sent 0.5 s after the connection is up (not after
# the helper started: on a loaded machine that can take longer); with
# stop the sidecar is stopped for the first 0.3 s of it, with sent until
# 0.3 s after the request came.
late_request() {
	local i fd
	ip -n "$NS_CLI" addr add "$1/24" dev "$VETH_CLI"
	ip -n "$NS_SRV" neigh replace "$1" lladdr "$mac_c" dev "$VETH_SRV" nud permanent
	rm -f "$XL_TMP/late.in" && mkfifo "$XL_TMP/late.in"
	[ -n "${2:-}" ] && kill -STOP "$QUICK_PID"
	cli $PY "$HELP" late "$1" 198.18.0.2 $PQ <"$XL_TMP/late.in" >"$XL_TMP/quick.out" 2>&1 &
	exec {fd}>"$XL_TMP/late.in"
	for ((i = 0; i < 100; i++)); do
		grep -q connected "$XL_TMP/quick.out" && break
		sleep 0.1
	done
	case ${2:-} in
	stop) sleep 0.3 && kill -CONT "$QUICK_PID" && sleep 0.2 && echo >&$fd ;;
	sent) sleep 0.5 && echo >&$fd && sleep 0.3 && kill -CONT "$QUICK_PID" ;;
	*) sleep 0.5 && echo >&$fd ;;
	esac
	exec {fd}>&-
	wait $!
	kill -CONT "$QUICK_PID"
}
late_request 198.18.0.17
assert_eq "$(grep -v connected "$XL_TMP/quick.out")" "200 10" \
	"token-bucket: a late first request reads, its SYN charged once (remaining 10)"
# The same, accepted late: the sidecar is stopped for 0.3 s (three
# emission intervals) while the kernel completes the handshake, as a busy
# sidecar accepts late. The SYN's charge is judged against the handshake,
# not the accept, so the first request still only reads.
late_request 198.18.0.18 stop
assert_eq "$(grep -v connected "$XL_TMP/quick.out")" "200 10" \
	"token-bucket: a first request accepted late reads, its SYN charged once (remaining 10)"
# Accepted after its request came: the data received does not move the
# handshake's time (TCP_INFO's last data sent, which nothing moved yet).
late_request 198.18.0.19 sent
assert_eq "$(grep -v connected "$XL_TMP/quick.out")" "200 10" \
	"token-bucket: a first request accepted after it came reads, its SYN charged once (remaining 10)"
assert_eq "$(q_remaining 198.18.0.17 $PQ)" 10 "token-bucket: xlimit query agrees"

# X-Real-IP alone is not believed without --trust-real-ip: the trusted
# peer itself is charged.
cli curl -s -o /dev/null -D "$XL_TMP/real.h" --interface 198.18.0.7 \
	-H "X-Real-IP: 198.18.0.10" http://198.18.0.2:$P/
assert_eq "$(q_remaining 198.18.0.10 $P)" 3 \
	"trusted proxy, X-Real-IP without --trust-real-ip: the address it names is not charged"

# The auth endpoint answers --trust-proxy peers only (127.0.0.1, nginx):
# another local process (127.0.0.2) cannot charge a client.
auth_code=$(srv curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
	-H "X-Real-IP: 198.18.0.11" -H "X-Server-Port: $N" -H "X-Connection-Requests: 5" \
	http://127.0.0.1:$A/)
assert_eq "$auth_code" 403 "auth endpoint: a peer not in --trust-proxy gets 403"
assert_eq "$(q_remaining 198.18.0.11 $N)" 3 \
	"auth endpoint: ... and charges nobody"
assert_eq "$(srv curl -s -o /dev/null -w '%{http_code}' \
	-H "X-Real-IP: 198.18.0.11" -H "X-Server-Port: $N" -H "X-Connection-Requests: 5" \
	http://127.0.0.1:$A/)" 204 "auth endpoint: the trusted peer is answered"
assert_eq "$(q_remaining 198.18.0.11 $N)" 2 \
	"auth endpoint: ... and its request charged"
assert_rc 2 "--auth-listen without --trust-proxy: exit 2" -- timeout 5 "$SIDECAR_BIN" --pin-dir "$XL_PIN" --auth-listen 127.0.0.1:9
assert_match "$ERR" "needs --trust-proxy" "... saying what to add"

cli curl -s -o /dev/null -D "$XL_TMP/own.h" --interface 2001:2::4 "http://[2001:2::2]:$P/own"
assert_eq "$(grep -ci '^X-RateLimit-Limit' "$XL_TMP/own.h"):$(grep -i '^X-RateLimit-Limit' "$XL_TMP/own.h" | tr -d '\r')" \
	"1:X-RateLimit-Limit: 999" "the application's own X-RateLimit-Limit is kept, not duplicated"
assert_match "$($PY "$HELP" headers "$XL_TMP/own.h")" '^200 999 2 [0-9]+ [0-9]+$' \
	"the other headers are still added"

# --- passing through ------------------------------------------------------------

U=http://127.0.0.1:$P
head -c 10485760 /dev/urandom >"$XL_TMP/up.bin"
sum=$(sha256sum <"$XL_TMP/up.bin" | cut -d' ' -f1)
srv curl -s -o /dev/null -D "$XL_TMP/up.h" --data-binary @"$XL_TMP/up.bin" "$U/echo"
assert_eq "$(awk 'tolower($1) == "x-body-sha256:" { print $2 }' "$XL_TMP/up.h" | tr -d '\r')" "$sum" \
	"10 MB upload (Content-Length) arrives byte-exact"
assert_eq "$(srv curl -s -X PUT -H 'Transfer-Encoding: chunked' --data-binary @"$XL_TMP/up.bin" "$U/echo" | sha256sum | cut -d' ' -f1)" "$sum" \
	"10 MB chunked upload, echoed back byte-exact"
want=$(srv curl -s http://127.0.0.1:$B/big | sha256sum | cut -d' ' -f1)
assert_eq "$(srv curl -s "$U/big" | sha256sum | cut -d' ' -f1)" "$want" "10 MB download byte-exact"
assert_eq "$(srv curl -s "$U/big-chunked" | sha256sum | cut -d' ' -f1)" "$want" "10 MB chunked download byte-exact"
srv curl -s -o /dev/null -D "$XL_TMP/m.h" -X PATCH -H 'X-Custom: kept' -d 'a=1' "$U/some/path?q=1&r=%20x"
assert_eq "$(grep -iE '^X-Seen-(Method|Path|Custom|XFF)' "$XL_TMP/m.h" | tr -d '\r' | tr '\n' '|')" \
	"X-Seen-Method: PATCH|X-Seen-Path: /some/path?q=1&r=%20x|X-Seen-XFF: 127.0.0.1|X-Seen-Custom: kept|" \
	"method, path, query and headers reach the application"
# Hop-by-hop fields (RFC 9110 §7.6.1) stay on the client's connection: the
# Connection field, those it names, TE, Upgrade and Proxy-*.
srv curl -s -o /dev/null -D "$XL_TMP/hop.h" -H 'Connection: keep-alive, X-Custom' -H 'X-Custom: hop' \
	-H 'TE: trailers' -H 'Upgrade: websocket' -H 'Proxy-Authorization: Basic eDp5' "$U/hop"
assert_eq "$(grep -iE '^X-Seen-(Custom|Hop)' "$XL_TMP/hop.h" | tr -d '\r' | tr '\n' '|')" "X-Seen-Custom: -|X-Seen-Hop: -|" \
	"hop-by-hop fields and those Connection names are not forwarded"
assert_eq "$(srv curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PX/)" 502 "application down: 502"
# The deny list covers ports without a rule too: a deny-listed client a
# trusted proxy names is refused there, another is passed on.
assert_eq "$(srv curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 198.18.7.7' http://127.0.0.1:$PX/)" \
	403 "deny-listed client behind a trusted proxy, port without a rule: 403"
assert_eq "$(srv curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 198.18.7.8' http://127.0.0.1:$PX/)" \
	502 "another client behind it, port without a rule: passed on (502: application down)"
assert_eq "$(srv curl -s -o /dev/null -w '%{http_code}' "$U/slow?s=5")" 504 "application slower than --upstream-timeout: 504"

# A named --upstream is resolved once, at start: with its own /etc/hosts
# (a private mount namespace) the sidecar keeps reaching an application
# that closes every connection after the name is gone from the file.
mkdir -p "$XL_TMP/www" && echo hi >"$XL_TMP/www/index.html"
xl_bg www ip netns exec "$NS_SRV" $PY -m http.server 8001 --bind 127.0.0.1 --directory "$XL_TMP/www"
echo "127.0.0.1 xlimit-upstream.test" >"$XL_TMP/hosts"
xl_bg sidecar_dns unshare -m sh -c "mount --bind '$XL_TMP/hosts' /etc/hosts && exec nsenter --net=/run/netns/$NS_SRV '$SIDECAR_BIN' --pin-dir '$XL_PIN' --listen 127.0.0.1:8084 --upstream xlimit-upstream.test:8001"
xl_wait_up www http://127.0.0.1:8001/ "$NS_SRV"
xl_wait_up sidecar_dns http://127.0.0.1:8084/ "$NS_SRV"
assert_eq "$(srv curl -s http://127.0.0.1:8084/)" hi "named upstream: reached"
: >"$XL_TMP/hosts" # the same file, emptied: the name no longer resolves
# (One request per client connection, a moment apart: the application's
# close is seen before the next request.)
codes=$(for i in 1 2; do sleep 0.2; srv curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:8084/; done)
assert_eq "$codes" "200 200 " \
	"named upstream: still reached on new connections after the name went away (no lookup per request)"
assert_rc 2 "--upstream whose name does not resolve: exit 2" -- \
	timeout 5 unshare -m sh -c "mount --bind '$XL_TMP/hosts' /etc/hosts && exec nsenter --net=/run/netns/$NS_SRV '$SIDECAR_BIN' --pin-dir '$XL_PIN' --listen 127.0.0.1:8085 --upstream xlimit-upstream.test:8001"
assert_match "$ERR" "cannot resolve 'xlimit-upstream.test'" "... naming the name"

# --- bad and slow clients ---------------------------------------------------------

raw() { srv $PY "$HELP" raw 127.0.0.1 $P "$1" "$(printf '%b' "$2" | od -An -v -tx1 | tr -d ' \n')"; }
assert_match "$(raw 3 'GARBAGE\r\n\r\n')" '^HTTP/1.1 400 .*[|]closed[|]' "malformed request: 400, connection closed"
# Request smuggling: framing the application could read otherwise than
# the sidecar did is refused and the connection closed, before anything
# reaches the application (RFC 9112 §6.1, §3.2).
while IFS='|' read -r name want req; do
	assert_match "$(raw 3 "$req")" "^HTTP/1.1 $want .*[|]closed[|][0-9.]+[|]1\$" \
		"smuggling: $name: $want, one response, connection closed"
done <<'SMUGGLE'
two Content-Length|400|POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhelloGET /x HTTP/1.1\r\nHost: x\r\n\r\n
the same Content-Length twice|400|POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello
signed Content-Length|400|POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello
negative Content-Length|400|POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello
non-numeric Content-Length|400|POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello
Content-Length and Transfer-Encoding|400|POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n
Transfer-Encoding in HTTP/1.0|400|POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n
Transfer-Encoding twice|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n
unknown transfer coding|501|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n
HEAD with a body|400|HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 27\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n
space in the target|400|GET /a HTTP/1.1 /b HTTP/1.1\r\nHost: x\r\n\r\n
control character in the target|400|GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n
blank before the colon|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n
blank before the first field|400|POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: x\r\n\r\n5\r\nhello\r\n0\r\n\r\n
obs-fold|400|GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n
obs-fold of Transfer-Encoding|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n
bare LF line ends|400|GET / HTTP/1.1\nHost: x\n\n
a bare LF in the head|400|POST / HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\nhello
a bare CR in the head|400|GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n
NUL in a field value|400|GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n
chunk size not hex|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n
chunk size past 64 bits|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n
chunk size line ending in a bare CR|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\rXhello\r\n0\r\n\r\n
chunk data not followed by CRLF|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n
Transfer-Encoding that does not end in chunked|501|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n
last chunk's line ending in a bare CR|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\rX\r\n\r\n
bare CR in the last chunk's extension|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0;a\rb\r\n\r\n
bare LF in a chunk extension|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n
bare LF in the last chunk's extension|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0;a\nb\r\n\r\n
NUL in a chunk extension|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x00b\r\nhello\r\n0\r\n\r\n
control character in the last chunk's extension|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0;\x1b\r\n\r\n
bare LF ending the trailer section, then a request|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n
trailer ending in a bare LF|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n
trailer section ending in a bare CR|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\rX
obs-fold in the trailers|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n 2\r\n\r\n
blank before the first trailer|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n X-T: 1\r\n\r\n
blank in a trailer's name|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX T: 1\r\n\r\n
blank before a trailer's colon|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T : 1\r\n\r\n
control character in a trailer|400|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: \x1b\r\n\r\n
SMUGGLE
# The same checks when each byte comes in a read of its own: a line, a
# chunk's data and the CRLF after it split across reads.
TE='POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n'
while IFS='|' read -r name want body; do
	assert_match "$(srv $PY "$HELP" trickle 127.0.0.1 $P "$TE$body" - 0.02 10)" "^HTTP/1.1 $want .*[|]closed[|]" \
		"byte by byte: $name: $want, connection closed"
done <<'TRICKLE'
chunk extensions, data ending in CR, trailers|201|3;e=f\r\na\x00\r\r\n0;z\r\nX-T: 1\r\n\r\n
last chunk's line ending in a bare CR|400|5\r\nhello\r\n0\rX\r\n\r\n
NUL in a chunk extension|400|5;a\x00b\r\nhello\r\n0\r\n\r\n
trailer ending in a bare LF|400|0\r\nX-T: 1\n\r\n
TRICKLE
# Each field is looked up in the Connection fields: more than 16 of them
# are refused rather than looked through for every field.
req='GET / HTTP/1.1\r\nHost: x\r\n'
for i in $(seq 17); do req+="Connection: x$i\\r\\n"; done
assert_match "$(raw 3 "$req\\r\\n")" '^HTTP/1.1 400 .*[|]closed[|][0-9.]+[|]1$' \
	"17 Connection fields: 400, connection closed"
assert_match "$(raw 3 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')" \
	'^HTTP/1.1 201 .*[|]closed[|][0-9.]+[|]2$' "a chunked body, then a second request on the connection: 201, then 200"
assert_match "$(raw 3 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\t;c="d e"\r\nhe\x00\nl\r\n2\r\n\r\r\r\n0;z\r\nX-T: 1\t\xe9\r\nY: 2\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')" \
	'^HTTP/1.1 201 .*[|]closed[|][0-9.]+[|]2$' "chunk extensions, control bytes in chunk data, trailers, then a second request: 201, then 200"
big=$(head -c 12000 /dev/zero | tr '\0' a)
assert_match "$(raw 3 "GET / HTTP/1.1\r\nHost: x\r\nX-Big: $big\r\n\r\n")" '^HTTP/1.1 431 .*[|]closed[|]' \
	"headers over --max-header-size: 431, connection closed"
raw 8 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' >"$XL_TMP/slow.out" &
SLOW=$!
t=$(date +%s%N)
assert_eq "$(srv curl -s -o /dev/null -w '%{http_code}' "$U/")" 200 "another client is served while one trickles"
assert_match "$(($(date +%s%N) - t))" '^[0-9]{1,9}$' "... at once (under a second)"
wait $SLOW
assert_match "$(cat "$XL_TMP/slow.out")" '^-[|]closed[|][234]\.' "slow client: cut off after --client-timeout (2 s)"

# --- /metrics -------------------------------------------------------------------------

metrics() {
	srv curl -s http://127.0.0.1:$M/metrics >"$XL_TMP/$1.txt"
	$PY "$HELP" metrics "$XL_TMP/$1.txt" >"$XL_TMP/$1.parsed" 2>"$XL_TMP/$1.err" && ok "/metrics parses as Prometheus text ($1)" ||
		fail "/metrics does not parse ($1): $(tail -n 1 "$XL_TMP/$1.err")"
}
metrics m0
for i in 1 2 3 4 5; do
	cli curl -s -o /dev/null -w '%{http_code}\n' --interface 2001:2::5 "http://[2001:2::2]:$P/"
done >"$XL_TMP/m.codes"
n429=$(grep -c 429 "$XL_TMP/m.codes")
n200=$(grep -c 200 "$XL_TMP/m.codes")
metrics m1
for k in 'xlimit_sidecar_requests_total{} 5' "xlimit_sidecar_limited_total{} $n429" \
	'xlimit_sidecar_request_duration_seconds_count{} 5' \
	"xlimit_kernel_syns_total{port=\"$P\",result=\"seen\"} 5" \
	"xlimit_kernel_syns_total{port=\"$P\",result=\"passed\"} $n200" \
	"xlimit_kernel_syns_total{port=\"$P\",result=\"over_passed\"} $n429"; do
	set -- $k
	assert_eq "$(delta "$(mval "$XL_TMP/m0.parsed" "$1")" "$(mval "$XL_TMP/m1.parsed" "$1")")" "$2" "/metrics: $1 moved by $2"
done
assert_match "$n200 $n429" '^[1-9] [1-9]$' "/metrics: the traffic had both 200s and 429s"
assert_eq "$(delta 0 "$(mval "$XL_TMP/m1.parsed" 'xlimit_sidecar_upstream_errors_total{kind="timeout"}')")" 1 \
	"/metrics: the 504 counted as an upstream timeout"
assert_match "$(mval "$XL_TMP/m1.parsed" 'xlimit_sidecar_auth_limited_total{}')" '^[1-9]' \
	"/metrics: the auth endpoint's 429s counted"

# --- --user: root only to open the pins and bind --------------------------------------

PU=8086
xls limit set $PU "$LIMIT" --action pass >/dev/null
xl_bg sidecar_user "${SC[@]}" --listen 0.0.0.0:$PU --upstream 127.0.0.1:$B --user nobody
xl_wait_up sidecar_user http://127.0.0.1:$PU/ "$NS_SRV"
upid=$(pgrep -f -- "--listen 0.0.0.0:$PU --upstream" | head -n 1)
assert_eq "$(awk '/^Uid:/ { print $2, $3, $4, $5 } /^Gid:/ { print $2, $3 }' /proc/$upid/status | tr '\n' ' ')" \
	"65534 65534 65534 65534 65534 65534 " "--user nobody: runs as nobody (uid and gid)"
assert_eq "$(awk '/^CapEff:/ { print $2 } /^CapPrm:/ { print $2 }' /proc/$upid/status | sort -u)" 0000000000000002 \
	"--user nobody: keeps CAP_DAC_OVERRIDE only"
cli curl -s -o /dev/null -D "$XL_TMP/user.h" --interface 198.18.0.13 \
	http://198.18.0.2:$PU/ -o /dev/null http://198.18.0.2:$PU/
assert_eq "$($PY "$HELP" headers "$XL_TMP/user.h" | awk '{ print $1, $2, $3 }' | tr '\n' ' ')" "200 3 2 200 3 1 " \
	"--user nobody: still reads and charges clients"
assert_eq "$(q_remaining 198.18.0.13 $PU)" 1 "--user nobody: xlimit query shows its charge"
assert_rc 2 "--user with no such user: exit 2" -- timeout 5 "$SIDECAR_BIN" --pin-dir "$XL_PIN" \
	--listen 127.0.0.1:9 --upstream 127.0.0.1:9 --user no-such-user-xl
assert_match "$ERR" "no such user" "... saying so"

# --- xlimit reloaded under the running sidecar -------------------------------------

xls unload >/dev/null && xls attach "$VETH_SRV" --mode native >/dev/null &&
	xls limit set $P "$LIMIT" --action pass >/dev/null &&
	xls limit set $PU "$LIMIT" --action pass >/dev/null || fail "unload + attach again"
sleep 1.1 # the sidecar compares the pins at most once a second
cli curl -s -o /dev/null -D "$XL_TMP/reload.h" --interface 198.18.0.14 \
	http://198.18.0.2:$P/ -o /dev/null http://198.18.0.2:$P/
assert_eq "$($PY "$HELP" headers "$XL_TMP/reload.h" | awk '{ print $1, $2, $3 }' | tr '\n' ' ')" "200 3 2 200 3 1 " \
	"after unload + attach: the sidecar reads and charges the new maps"
assert_eq "$(q_remaining 198.18.0.14 $P)" 1 "after unload + attach: xlimit query shows the sidecar's charge"
cli curl -s -o /dev/null --interface 198.18.0.14 http://198.18.0.2:$PU/ -o /dev/null http://198.18.0.2:$PU/
assert_eq "$(q_remaining 198.18.0.14 $PU)" 1 "after unload + attach: the --user nobody sidecar charges the new maps too"

# --- a pin group: --user with no capability at all -------------------------------------

GRP=xlt$$g
SCU=xlt$$u
groupadd --system "$GRP" && useradd --system --no-create-home --gid "$GRP" --shell /usr/sbin/nologin "$SCU" ||
	fail "groupadd/useradd for the pin group test"
XL_CLEANUPS+=("userdel $SCU; groupdel $GRP")
assert_rc 2 "load --pin-group with no such group: exit 2" -- xls load --pin-group no-such-group-xl
assert_match "$ERR" "no such group; create it" "... saying so"
assert_rc 0 "load --pin-group on the loaded xlimit" -- xls load --pin-group "$GRP"
assert_eq "$(stat -c '%U:%G %a' "$XL_PIN" "$XL_PIN/xl_rules" "$XL_PIN/prog_query" "$XL_PIN/xl_state" "$XL_PIN/prog_xdp" | tr '\n' ' ')" \
	"root:$GRP 750 root:$GRP 640 root:$GRP 660 root:root 600 root:root 600 " \
	"the pin group reads the sidecar's maps and runs its programs; client state and the rest stay root's"
# What a member with no capability can open: BPF_OBJ_GET, read-only or
# read-write, of one pin; prints "ok" or the errno's name.
obj_get() {
	setpriv --reuid="$SCU" --regid="$GRP" --init-groups --inh-caps=-all --bounding-set=-all \
		"$PY" -c '
import ctypes, errno, struct, sys
path = ctypes.create_string_buffer(sys.argv[1].encode())
attr = struct.pack("QII", ctypes.addressof(path), 0, 1 << 3 if sys.argv[2] == "ro" else 0)
libc = ctypes.CDLL(None, use_errno=True)
nr = {"x86_64": 321, "aarch64": 280}[__import__("os").uname().machine]  # bpf()
fd = libc.syscall(nr, 7, attr, len(attr))  # BPF_OBJ_GET
print("ok" if fd >= 0 else errno.errorcode[ctypes.get_errno()])' "$@"
}
assert_eq "$(obj_get "$XL_PIN/xl_rules" ro) $(obj_get "$XL_PIN/prog_query" rw) $(obj_get "$XL_PIN/xl_route_stats" ro)" "ok ok ok" \
	"a member opens xl_rules read-only, prog_query, and xl_route_stats read-only (/metrics)"
assert_eq "$(obj_get "$XL_PIN/xl_rules" rw) $(obj_get "$XL_PIN/xl_state" ro) $(obj_get "$XL_PIN/xl_deny" rw)" \
	"EACCES EACCES EACCES" "a member cannot open xl_rules or xl_deny to write, nor read xl_state"
PG=8087
xls limit set $PG "$LIMIT" --action pass >/dev/null
xl_bg sidecar_group "${SC[@]}" --listen 0.0.0.0:$PG --upstream 127.0.0.1:$B --user "$SCU"
xl_wait_up sidecar_group http://127.0.0.1:$PG/ "$NS_SRV"
gpid=$(pgrep -f -- "--listen 0.0.0.0:$PG --upstream" | head -n 1)
assert_eq "$(awk '/^CapEff:/ { print $2 } /^CapPrm:/ { print $2 }' /proc/$gpid/status | sort -u)" 0000000000000000 \
	"--user in the pin group: no capability left"
assert_eq "$(grep -c CAP_DAC_OVERRIDE "$XL_TMP/sidecar_group.log")" 0 "... and no notice that it keeps one"
assert_match "$(cat "$XL_TMP/sidecar_user.log")" "keeps CAP_DAC_OVERRIDE to open the pins" \
	"--user nobody (not in the group) says why it keeps CAP_DAC_OVERRIDE"
cli curl -s -o /dev/null -D "$XL_TMP/group.h" --interface 198.18.0.15 \
	http://198.18.0.2:$PG/ -o /dev/null http://198.18.0.2:$PG/
assert_eq "$($PY "$HELP" headers "$XL_TMP/group.h" | awk '{ print $1, $2, $3 }' | tr '\n' ' ')" "200 3 2 200 3 1 " \
	"--user in the pin group: reads and charges clients"
xls unload >/dev/null && xls attach "$VETH_SRV" --mode native --pin-group "$GRP" >/dev/null &&
	xls limit set $PG "$LIMIT" --action pass >/dev/null || fail "unload + attach --pin-group again"
sleep 1.1 # the sidecar compares the pins at most once a second
cli curl -s -o /dev/null --interface 198.18.0.16 http://198.18.0.2:$PG/ -o /dev/null http://198.18.0.2:$PG/
assert_eq "$(q_remaining 198.18.0.16 $PG)" 1 "after unload + attach --pin-group: the capability-less sidecar charges the new maps"
# It cannot map xl_config (the kernel maps only through a writable fd): its
# copy is looked up again a tick later, and a new route applies then.
xls route add $PG /r "1 per hour" >/dev/null
sleep 0.05
assert_eq "$(cli curl -s -o /dev/null -o /dev/null -w '%{http_code} ' --interface 198.18.0.19 \
	http://198.18.0.2:$PG/r http://198.18.0.2:$PG/r)" "200 429 " \
	"a route added under the capability-less sidecar applies (1 per hour: 200, then 429)"
# Under `ip netns exec` (a /sys of its own: the pins are reached through
# /proc/PID/root of the shell that ran ip, which the user may not enter)
# the group is the one of the pins opened as root.
PN=8088
xls limit set $PN "$LIMIT" --action pass >/dev/null
xl_bg sidecar_netns ip netns exec "$NS_SRV" "$SIDECAR_BIN" --pin-dir "$XL_PIN" \
	--listen 0.0.0.0:$PN --upstream 127.0.0.1:$B --user "$SCU"
xl_wait_up sidecar_netns http://127.0.0.1:$PN/ "$NS_SRV"
npid=$(pgrep -f -- "--listen 0.0.0.0:$PN --upstream" | head -n 1)
assert_eq "$(awk '/^CapEff:/ { print $2 } /^CapPrm:/ { print $2 }' /proc/$npid/status | sort -u)" 0000000000000000 \
	"--user in the pin group, under ip netns exec: no capability left"
assert_eq "$(grep -c CAP_DAC_OVERRIDE "$XL_TMP/sidecar_netns.log")" 0 "... and no notice that it keeps one"
assert_rc 0 "load --pin-group none" -- xls load --pin-group none
assert_eq "$(stat -c '%U:%G %a' "$XL_PIN" "$XL_PIN/xl_rules" | tr '\n' ' ')" "root:root 700 root:root 600 " \
	"--pin-group none: the pins are root's only again"

summary
