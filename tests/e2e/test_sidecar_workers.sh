#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# xlimit-sidecar with --workers N, on loopback: N threads, each with its
# own event loop and SO_REUSEPORT listener. The limit holds across them
# (the counts are the kernel's: a limit of 20 admits exactly 20 of 64
# requests spread over 32 connections, and the auth endpoint's alike),
# every worker serves, /metrics sums
# them, SIGHUP reaches them all, --user applies to every thread, and
# SIGTERM stops them all with the port free again.
set -u
. "$(dirname "$0")/../lib/lib.sh"

SIDECAR_BIN=${SIDECAR_BIN:-$XL_TOP/build/xlimit-sidecar}
HELP=$XL_TOP/tests/e2e/sidecar_helpers.py
B=18750 # the application
P=18751 # the sidecar (rule: 20 per hour, pass)
M=18752 # its /metrics
PU=18753 # a sidecar with --user (rule: 20 per hour, pass)
A=18754  # the auth endpoint
PA=18755 # a port nginx would serve, asked about at $A (rule: 5 per hour)

xl_test_init
xl_need curl "$SIDECAR_BIN"
xl load >/dev/null || { fail "xlimit load"; summary; exit 1; }
xl limit set $P "20 per 1 hour" --action pass >/dev/null || fail "limit set"
xl limit set $PU "20 per 1 hour" --action pass >/dev/null || fail "limit set"
xl limit set $PA "5 per 1 hour" --action pass >/dev/null || fail "limit set"

# worker_requests FILE: "N0 N1 ..." of xlimit_sidecar_worker_requests_total.
worker_requests() {
	curl -s "http://127.0.0.1:$M/metrics" >"$1"
	awk -F'[{}" ]+' '$1 == "xlimit_sidecar_worker_requests_total" { printf "%s ", $NF }' "$1"
}
threads() { ls "/proc/$1/task" | wc -l; }

# --- bad usage ------------------------------------------------------------------

for bad in 0 257 two -1; do
	assert_rc 2 "--workers $bad: exit 2" -- timeout 5 "$SIDECAR_BIN" --pin-dir "$XL_PIN" \
		--listen 127.0.0.1:$P --upstream 127.0.0.1:$B --workers "$bad"
	assert_match "$ERR" "--workers '$bad': expected a whole number from 1 to 256" "... naming --workers and its range"
done

# --- two workers ----------------------------------------------------------------

xl_bg backend $PY "$HELP" app $B
xl_bg sidecar "$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$P --upstream 127.0.0.1:$B \
	--metrics-listen 127.0.0.1:$M --charge-first --workers 2 \
	--auth-listen 127.0.0.1:$A --trust-proxy 127.0.0.1
xl_wait_up backend "http://127.0.0.1:$B/"
xl_wait_up sidecar "http://127.0.0.1:$M/metrics"
SCPID=$(pgrep -f -- "--listen 127.0.0.1:$P --upstream" | head -n 1)
assert_eq "$(threads "$SCPID")" 2 "--workers 2: two threads"
assert_eq "$(ss -Hltn "sport = :$P" | wc -l)" 2 "--workers 2: two listening sockets on the port (SO_REUSEPORT)"
assert_eq "$(ss -Hltn "sport = :$A" | wc -l)" 2 "--workers 2: two on the auth endpoint's too"

# 64 requests over 32 kept-alive connections, all charged (--charge-first:
# the kernel sees no SYN on loopback).
$PY "$HELP" burst 127.0.0.1 $P 64 32 GET >"$XL_TMP/burst1" 2>&1
assert_eq "$(grep -c ' 200$' "$XL_TMP/burst1") $(grep -c ' 429$' "$XL_TMP/burst1")" "20 44" \
	"a limit of 20 across 2 workers: exactly 20 of 64 admitted, the rest 429"
assert_eq "$(xl query 127.0.0.1 $P --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["limits"][0]["remaining"])')" 0 \
	"xlimit query: the limit used up, once"
read -r w0 w1 rest < <(worker_requests "$XL_TMP/m1")
assert_match "${w0:-0} ${w1:-0} ${rest:-}" '^[1-9][0-9]* [1-9][0-9]* $' "both workers served (requests by worker: ${w0:-?} ${w1:-?})"
assert_eq "$((${w0:-0} + ${w1:-0}))" 64 "... 64 in all"
assert_eq "$(awk '$1 == "xlimit_sidecar_requests_total" { print $2 }' "$XL_TMP/m1")" 64 \
	"/metrics: requests summed over the workers"
assert_eq "$(awk '$1 == "xlimit_sidecar_limited_total" { print $2 }' "$XL_TMP/m1")" 44 \
	"/metrics: 429s summed over the workers"

# The auth endpoint (nginx's subrequests, one connection each): the limit
# of 5 holds across the workers there too.
for ((i = 0; i < 12; i++)); do
	curl -s -o /dev/null -w '%{http_code}\n' -H "X-Real-IP: 198.18.9.9" \
		-H "X-Server-Port: $PA" -H "X-Connection-Requests: 2" "http://127.0.0.1:$A/"
done >"$XL_TMP/auth.codes"
assert_eq "$(sort "$XL_TMP/auth.codes" | uniq -c | awk '{ printf "%s*%s ", $1, $2 }')" "5*204 7*429 " \
	"auth endpoint, 2 workers: a limit of 5 admits exactly 5 of 12 subrequests"
curl -s "http://127.0.0.1:$M/metrics" >"$XL_TMP/m1a"
assert_eq "$(awk '$1 == "xlimit_sidecar_auth_requests_total" { print $2 }' "$XL_TMP/m1a")" 12 \
	"/metrics: auth subrequests summed over the workers"

# SIGHUP: every worker reopens the pins, and goes on serving.
kill -HUP "$SCPID"
sleep 0.3
$PY "$HELP" burst 127.0.0.1 $P 32 32 GET >"$XL_TMP/burst2" 2>&1
assert_eq "$(grep -c ' 429$' "$XL_TMP/burst2")" 32 "after SIGHUP: still serving, the limit still used up"
read -r v0 v1 rest < <(worker_requests "$XL_TMP/m2")
assert_match "$((v0 - w0)) $((v1 - w1))" '^[1-9][0-9]* [1-9][0-9]*$' "after SIGHUP: both workers still serve"
assert_eq "$(kill -0 "$SCPID" 2>&1 && grep -ci 'error\|cannot' "$XL_TMP/sidecar.log")" 0 "after SIGHUP: running, nothing failed in its log"

# SIGTERM: every worker stops, exit 0, the port is free.
kill -TERM "$SCPID"
if ! xl_wait_gone "$SCPID" 5; then
	fail "SIGTERM: still running after 5 s"
else
	wait "$SCPID" 2>/dev/null
	assert_eq "$?" 0 "SIGTERM: every worker stopped within 5 s, exit 0"
fi
assert_eq "$(ss -Hltn "sport = :$P" | wc -l)" 0 "SIGTERM: no socket left listening on the port"

# --- --user with several workers: every thread drops its privileges ----------------

xl_bg sidecar_user "$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$PU --upstream 127.0.0.1:$B \
	--charge-first --workers 3 --user nobody
xl_wait_up sidecar_user "http://127.0.0.1:$PU/"
UPID=$(pgrep -f -- "--workers 3 --user nobody" | head -n 1)
assert_eq "$(threads "$UPID")" 3 "--workers 3 --user nobody: three threads"
assert_eq "$(cat /proc/"$UPID"/task/*/status | awk '/^Uid:/ { print $2, $3, $4, $5 }' | sort -u)" \
	"65534 65534 65534 65534" "--user nobody: every thread runs as nobody"
assert_eq "$(cat /proc/"$UPID"/task/*/status | awk '/^CapEff:/ || /^CapPrm:/ { print $2 }' | sort -u)" \
	0000000000000002 "--user nobody: every thread keeps CAP_DAC_OVERRIDE only"
# Five requests pipelined in one write, the last closing: five answers
# (each written at once, before the next is read), in order.
req='GET /p1 HTTP/1.1\r\nHost: x\r\n\r\n'
req="$req$req$req$req${req%\\r\\n}Connection: close\r\n\r\n"
assert_match "$($PY "$HELP" raw 127.0.0.1 $PU 5 "$(printf '%b' "$req" | od -An -v -tx1 | tr -d ' \n')")" \
	'^HTTP/1.1 200 .*[|]closed[|][0-9.]+[|]5$' "five pipelined requests: five answers, then closed"
$PY "$HELP" burst 127.0.0.1 $PU 24 24 GET >"$XL_TMP/burst3" 2>&1
assert_eq "$(grep -c ' 200$' "$XL_TMP/burst3")" 14 \
	"--user nobody, 3 workers: still charges, exactly 14 more of 24 admitted (6 went before)"

summary
