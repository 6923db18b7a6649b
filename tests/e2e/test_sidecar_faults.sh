#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Fault injection against xlimit-sidecar, each on its own sidecar in a
# throwaway network namespace (loopback only, maps from `xlimit load`): a
# sidecar out of fds (ulimit -n 64) with more clients than fds, slowloris
# clients against the header deadline, the connection cap, an application
# that stalls, dies mid-response, answers 50 MiB (to a client that stops
# reading, too) or keeps its idle connections, many large uploads under a
# memory budget, bodies over --max-body-size, and a 20 MiB body streamed
# through a 64 KiB budget, to an application that does not read it at first. Each time the sidecar must keep serving other clients, answer every request with a
# clear status, and stay within its bounds (CPU, log lines, fds, memory,
# connections to the application). And applications that close every
# connection after one response (HTTP/1.0, "Connection: close", or a
# silent close): no request may go out on a connection the application
# just closed.
set -u
. "$(dirname "$0")/../lib/lib.sh"

SIDECAR_BIN=${SIDECAR_BIN:-$XL_TOP/build/xlimit-sidecar}
HELP=$XL_TOP/tests/e2e/sidecar_helpers.py
B=8000 # the application

xl_test_init
xl_need curl ss "$SIDECAR_BIN"

# --- options ----------------------------------------------------------------------

# Every option's bad values: exit 2 and a message naming the option (the
# sidecar stops before it opens anything).
while IFS='|' read -r opt val want; do
	assert_rc 2 "$opt '$val': exit 2" -- timeout 5 "$SIDECAR_BIN" --pin-dir "$XL_PIN" \
		--listen 127.0.0.1:9 --upstream 127.0.0.1:9 "$opt" "$val"
	assert_match "$ERR" "$want" "... saying so"
done <<'BAD'
--listen|localhost:80|--listen 'localhost:80': expected ADDRESS:PORT
--listen|127.0.0.1|--listen '127.0.0.1': expected ADDRESS:PORT
--upstream|127.0.0.1:0|--upstream '127.0.0.1:0': expected HOST:PORT
--auth-listen|[::1]80|--auth-listen '\[::1\]80': expected ADDRESS:PORT
--metrics-listen|:9100|--metrics-listen ':9100': expected ADDRESS:PORT
--pin-dir||--pin-dir '': not a usable path
--trust-proxy|10.0.0.0/33|--trust-proxy: .*10.0.0.0/33
--trust-proxy|10.0.0.1,,10.0.0.2|--trust-proxy '10.0.0.1,,10.0.0.2': empty or too long entry
--user|no-such-user-xl|--user 'no-such-user-xl': no such user
--retry-after|sometimes|--retry-after 'sometimes': expected '429' or 'always'
--upstream-timeout|0|--upstream-timeout '0': expected a whole number from 1 to 3600
--client-timeout|3601|--client-timeout '3601': expected a whole number from 1 to 3600
--header-timeout|1s|--header-timeout '1s': expected a whole number from 1 to 3600
--max-header-size|255|--max-header-size '255': expected a whole number from 256 to 1048576
--max-body-size|-1|--max-body-size '-1': expected a whole number from 0 to 1099511627776
--max-buffered|65535|--max-buffered '65535': expected a whole number from 65536 to 1099511627776
--max-response-size| 5|--max-response-size ' 5': expected a whole number from 0 to 1099511627776
--max-connections|0|--max-connections '0': expected a whole number from 1 to 1048576
--upstream-connections|99999999999999999999|--upstream-connections '99999999999999999999': expected a whole number from 1 to 65536
--workers|auto1|--workers 'auto1': expected a whole number from 1 to 256
BAD
assert_rc 2 "an unknown option: exit 2" -- "$SIDECAR_BIN" --bogus
assert_match "$ERR" "unrecognized option '--bogus'" "... naming it"
assert_rc 2 "an unknown short option: exit 2" -- "$SIDECAR_BIN" -x
assert_match "$ERR" "invalid option -- 'x'" "... naming it"
assert_rc 2 "an option without its value: exit 2" -- "$SIDECAR_BIN" --upstream 127.0.0.1:9 --listen
assert_match "$ERR" "option '--listen' requires an argument" "... naming it"
assert_rc 2 "an operand: exit 2" -- "$SIDECAR_BIN" --listen 127.0.0.1:9 --upstream 127.0.0.1:9 extra
assert_match "$ERR" "unexpected argument 'extra'" "... naming it"
assert_rc 0 "--help: exit 0" -- "$SIDECAR_BIN" --help
assert_match "$OUT" "^Usage: xlimit-sidecar " "... the usage on stdout"
# The man page's OPTIONS, in order, are the usage's (and -h, --help).
usage_opts=$(sed -n 's/^  \(\(-[a-z], \)\?--[a-z-]*\( [^ ][^ ]*\)\?\)  .*/\1/p' <<<"$OUT")
man_opts=$(sed -n '/^\.SH OPTIONS/,/^\.SH [^O]/p' "$XL_TOP/docs/xlimit-sidecar.8" | sed -n '/^\.TP/{n;p}' |
	sed -e 's/^\.B[IR]\? //' -e 's/\\//g' -e 's/"//g' -e 's/ , */, /' -e 's/  */ /g' -e 's/ $//')
assert_eq "$man_opts" "$usage_opts"$'\n'"-h, --help" "xlimit-sidecar(8) OPTIONS: the options of --help, in its order"
assert_eq "$(wc -l <<<"$usage_opts")" 22 "... all 22 of them"
NS=xlt$$-f # reaped by xl_reap_leftovers if this run crashes
XL_CLEANUPS+=("ip netns del $NS")
ip netns add "$NS"
ip -n "$NS" link set lo up
xl load >/dev/null || { fail "xlimit load"; summary; exit 1; }

in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
# bg NAME CMD...: a daemon in the namespace, logged, killed on exit; its
# pid in $XL_BG_PID (nsenter execs it: the daemon's own).
bg() { xl_bg "$1" nsenter --net="/run/netns/$NS" "${@:2}"; }
# sidecar NAME PORT OPTION...: starts one in front of the application.
sidecar() {
	local name=$1 port=$2
	shift 2
	bg "$name" "$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$port \
		--upstream 127.0.0.1:$B "$@"
	xl_wait_up "$name" "http://127.0.0.1:$port/" "$NS"
}
code() { in_ns curl -s -o /dev/null -w '%{http_code}\n' --max-time "${2:-10}" "$1"; }
delta() { echo $(($2 - $1)); }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
fds() { ls "/proc/$1/fd" | wc -l; }
# Connections of process $1 to the application.
up_conns() { in_ns ss -Htnp state established "( dport = :$B )" | grep -c "pid=$1,"; }

# hold_open NAME PORT N: N idle connections to PORT (as many as can be
# made), kept until hold_close; $XL_TMP/NAME.out says "held K".
hold_open() {
	mkfifo "$XL_TMP/$1.in"
	in_ns $PY "$HELP" hold 127.0.0.1 "$2" "$3" 30 <"$XL_TMP/$1.in" >"$XL_TMP/$1.out" &
	HOLD_PID=$!
	exec {HOLD_FD}>"$XL_TMP/$1.in"
	for ((i = 0; i < 100; i++)); do
		grep -q held "$XL_TMP/$1.out" && break
		sleep 0.1
	done
}
hold_close() {
	exec {HOLD_FD}>&-
	wait "$HOLD_PID"
}
# serves_again PORT: polls (10 s at most) until the sidecar answers 200.
serves_again() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(code "http://127.0.0.1:$1/" 2)" == 200 ] && break
		sleep 0.2
	done
	code "http://127.0.0.1:$1/"
}

bg app $PY "$HELP" app $B
xl_wait_up app "http://127.0.0.1:$B/" "$NS"

# --- out of fds: more clients than fds, no spin, serving after ------------

bg fdless bash -c "ulimit -n 64 && exec '$SIDECAR_BIN' --pin-dir '$XL_PIN' --listen 127.0.0.1:8101 --upstream 127.0.0.1:$B"
FDLESS=$XL_BG_PID
# bash execs the sidecar: the pid is the sidecar's once it has started.
xl_wait_up fdless http://127.0.0.1:8101/ "$NS"
hold_open hold 8101 150
t0=$(cpu_ticks "$FDLESS")
sleep 3
t1=$(cpu_ticks "$FDLESS")
lines=$(wc -l <"$XL_TMP/fdless.log")
assert_match "$(cat "$XL_TMP/hold.out")" '^held 150$' "out of fds: 150 clients connected (the backlog holds those not accepted)"
# 3 s at 100 ticks/s: spinning would be ~300 ticks.
(($(delta "$t0" "$t1") < 60)) && ok "out of fds: no spin (CPU ticks in 3 s: $((t1 - t0)))" ||
	fail "out of fds: the sidecar spins ($((t1 - t0)) CPU ticks in 3 s)"
((lines <= 3)) && ok "out of fds: the accept error is logged at most once per 10 s ($lines lines)" ||
	fail "out of fds: $lines log lines in about 4 s"
assert_match "$(grep -m1 'cannot accept' "$XL_TMP/fdless.log")" 'Too many open files' "out of fds: the log line says why"
hold_close
assert_eq "$(serves_again 8101)" 200 "out of fds: serves again once the clients are gone"

# --- slowloris: the header deadline, the connection cap --------------------

sidecar loris 8102 --header-timeout 2 --client-timeout 5 --max-connections 6
LORIS=$XL_BG_PID
in_ns $PY "$HELP" trickle 127.0.0.1 8102 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n' - 0.5 12 >"$XL_TMP/loris.out" &
LOR=$!
sleep 0.5
assert_eq "$(code http://127.0.0.1:8102/)" 200 "slowloris: another client is served meanwhile"
wait $LOR
IFS='|' read -r st cl secs <"$XL_TMP/loris.out"
assert_eq "$st $cl" "HTTP/1.1 400 Bad Request closed" "slowloris: a head trickled 1 byte per 0.5 s is cut off: 400, closed"
awk -v s="$secs" 'BEGIN { exit !(s >= 1.5 && s < 5) }' && ok "slowloris: at the 2 s header deadline ($secs s), not after --client-timeout or never" ||
	fail "slowloris: cut after $secs s (header deadline 2 s)"
in_ns $PY "$HELP" trickle 127.0.0.1 8102 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n' abcdefgh 0.5 12 >"$XL_TMP/body.out"
assert_match "$(cat "$XL_TMP/body.out")" '^HTTP/1.1 201 ' "slow body (4 s, under the idle timeout): not cut by the header deadline"

# The cap: 20 idle connections, the sidecar takes 6; the rest wait.
f0=$(fds "$LORIS")
hold_open cap 8102 20
sleep 0.5
f1=$(fds "$LORIS")
assert_eq "$(($(delta "$f0" "$f1") <= 6))" 1 "--max-connections 6: at most 6 of 20 connections taken ($((f1 - f0)) more fds)"
hold_close
assert_eq "$(serves_again 8102)" 200 "--max-connections: accepting again once they closed"

# --- the application misbehaves ----------------------------------------------

sidecar faulty 8103 --upstream-timeout 2 --upstream-connections 4 --max-response-size 100000
FAULTY=$XL_BG_PID
code "http://127.0.0.1:8103/slow?s=10" 20 >"$XL_TMP/stall.code" &
STALL=$!
sleep 0.3
assert_eq "$(code http://127.0.0.1:8103/)" 200 "stalled application: other requests are served"
wait $STALL
assert_eq "$(cat "$XL_TMP/stall.code")" 504 "stalled application: 504 after --upstream-timeout"
# The head is sent before the body is in: the client sees the body cut
# (curl: 18, "transfer closed with outstanding read data").
assert_eq "$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://127.0.0.1:8103/die; echo " $?")" "200 18" \
	"application dies mid-response: the client's connection is closed, the body cut (curl exit 18), no hang"
assert_eq "$(in_ns curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 10 "http://127.0.0.1:8103/bytes?n=1000000")" "200 1000000" \
	"response of 10 x --max-response-size: streamed whole"
# 10 requests at once, 4 connections to the application: 4 served, the
# rest told 503 at once; never more than 4 connections, idle or not.
JOBS=()
for i in $(seq 10); do
	code "http://127.0.0.1:8103/slow?s=1" 20 >"$XL_TMP/busy.$i" &
	JOBS+=($!)
done
sleep 0.5
n_up=$(up_conns "$FAULTY")
wait "${JOBS[@]}"
assert_eq "$(cat "$XL_TMP"/busy.* | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')" "200 x4 503 x6 " \
	"--upstream-connections 4: 4 requests served, 6 answered 503"
assert_eq "$((n_up <= 4))" 1 "--upstream-connections 4: at most 4 connections to the application ($n_up)"
for i in $(seq 30); do code http://127.0.0.1:8103/; done >"$XL_TMP/seq.codes"
assert_eq "$(sort "$XL_TMP/seq.codes" | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')" "200 x30 " "then 30 requests one after the other: all served"
n_up=$(up_conns "$FAULTY")
assert_eq "$((n_up <= 4))" 1 "the application keeps its idle connections: still at most 4 ($n_up)"
assert_eq "$(grep -c . "$XL_TMP/faulty.log")" 0 "nothing logged"

# --- large responses are streamed, at the client's pace ------------------------

sidecar stream 8105
ST=$XL_BG_PID
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hwm0=$(hwm "$ST")
assert_eq "$(in_ns curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 60 "http://127.0.0.1:8105/huge?n=52428800")" "200 52428800" \
	"a 50 MiB response passes through whole"
hwm1=$(hwm "$ST")
# Buffered whole it would be 50 MiB or more; streamed, about 1 MiB.
assert_eq "$(((hwm1 - hwm0) < 8192))" 1 "a 50 MiB response: the sidecar's peak RSS grew by $(((hwm1 - hwm0) / 1024)) MiB (< 8)"
in_ns $PY "$HELP" slowread 127.0.0.1 8105 "/huge?n=52428800" 3 >"$XL_TMP/slow.out" 2>&1 &
SR=$!
for ((i = 0; i < 100; i++)); do
	grep -q paused "$XL_TMP/slow.out" && break
	sleep 0.1
done
r0=$(rss "$ST")
sleep 2 # the client reads nothing meanwhile
r1=$(rss "$ST")
wait $SR
assert_eq "$(tr '\n' ' ' <"$XL_TMP/slow.out")" "paused 200 52428800 " "a client reading slowly gets the 50 MiB response whole"
assert_eq "$(((r1 - r0) < 8192))" 1 "a client not reading for 2 s: the sidecar's RSS grew by $(((r1 - r0) / 1024)) MiB (< 8)"
assert_eq "$(code http://127.0.0.1:8105/)" 200 "after the large responses: still serving"

# --- many large uploads under a memory budget ---------------------------------

sidecar uploads 8104 --max-body-size 4194304 --max-buffered 16777216
UP=$XL_BG_PID
hwm0=$(awk '/^VmHWM/ { print $2 }' "/proc/$UP/status")
in_ns $PY "$HELP" uploads 127.0.0.1 8104 /sink 32 3145728 >"$XL_TMP/uploads.out"
hwm1=$(awk '/^VmHWM/ { print $2 }' "/proc/$UP/status")
summary_up=$(sort "$XL_TMP/uploads.out" | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')
assert_eq "$(grep -cvE '^(201|413|503)$' "$XL_TMP/uploads.out")" 0 "32 uploads of 3 MiB: each 201, or a clear 413/503 ($summary_up)"
assert_match "$(grep -c '^201$' "$XL_TMP/uploads.out")" '^[1-9]' "32 uploads of 3 MiB: some get through"
# 32 x 3 MiB = 96 MiB sent; the budget is 16 MiB.
assert_eq "$(((hwm1 - hwm0) < 49152))" 1 "32 uploads of 3 MiB: the sidecar's peak RSS grew by $(((hwm1 - hwm0) / 1024)) MiB (< 48)"
assert_eq "$(code http://127.0.0.1:8104/)" 200 "after the uploads: still serving"
# --max-body-size: a Content-Length over it is refused up front, a chunked
# body that goes over it is cut and the connection closed.
head -c 5242880 /dev/zero >"$XL_TMP/5m.bin"
assert_eq "$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 20 --data-binary @"$XL_TMP/5m.bin" http://127.0.0.1:8104/sink)" 413 \
	"a Content-Length over --max-body-size: 413"
in_ns curl -s -o /dev/null -w '%{http_code} %{num_connects}\n' --max-time 20 -H 'Transfer-Encoding: chunked' \
	--data-binary @"$XL_TMP/5m.bin" http://127.0.0.1:8104/sink \
	--next -s -o /dev/null -w '%{http_code} %{num_connects}\n' http://127.0.0.1:8104/ >"$XL_TMP/cut.out"
assert_eq "$(tr '\n' ' ' <"$XL_TMP/cut.out")" "413 1 200 1 " \
	"a chunked body over --max-body-size: 413, the connection closed (the next request opens another)"

# --- request bodies are streamed ---------------------------------------------------

# A body goes to the application as it arrives: one of 20 MiB passes a
# sidecar whose whole budget is 64 KiB, and while the application does not
# read it the sidecar holds a bounded part of it, the client waiting.
sidecar bodies 8106 --max-buffered 65536 --max-body-size 67108864 --metrics-listen 127.0.0.1:8206
BODIES=$XL_BG_PID
head -c 20971520 /dev/urandom >"$XL_TMP/20m.bin"
sum=$(sha256sum <"$XL_TMP/20m.bin" | cut -d' ' -f1)
in_ns curl -s -o /dev/null -D "$XL_TMP/b.h" --max-time 60 --data-binary @"$XL_TMP/20m.bin" http://127.0.0.1:8106/sink
assert_eq "$(awk '/^HTTP\// { st = $2 } tolower($1) == "x-body-sha256:" { print st, $2 }' "$XL_TMP/b.h" | tr -d '\r' | tr '\n' ' ')" "201 $sum " \
	"a 20 MiB body, 320 times --max-buffered: streamed through, byte-exact"
r0=$(rss "$BODIES")
in_ns curl -s -o /dev/null -D "$XL_TMP/s.h" --max-time 60 --data-binary @"$XL_TMP/20m.bin" "http://127.0.0.1:8106/slowsink?s=3" &
SLOWUP=$!
sleep 1.5 # the application sleeps 3 s before it reads
held=$(in_ns curl -s http://127.0.0.1:8206/metrics | awk '$1 == "xlimit_sidecar_buffered_bytes" { print $2 }')
r1=$(rss "$BODIES")
wait $SLOWUP
assert_match "$held" '^[0-9]+$' "/metrics shows the bytes the sidecar holds ($held)"
assert_eq "$((held <= 262144))" 1 "an application not reading a 20 MiB body: the sidecar holds $held bytes of it (<= 256 KiB)"
assert_eq "$(((r1 - r0) < 8192))" 1 "an application not reading a 20 MiB body: the sidecar's RSS grew by $(((r1 - r0) / 1024)) MiB (< 8)"
assert_eq "$(awk '/^HTTP\// { st = $2 } tolower($1) == "x-body-sha256:" { print st, $2 }' "$XL_TMP/s.h" | tr -d '\r' | tr '\n' ' ')" "201 $sum " \
	"... and the body arrives whole once it reads"

# --- an application that closes every connection ------------------------------

# 200 requests from 8 kept-alive clients, back to back: every one gets the
# application's answer. HTTP/1.0 and "Connection: close" connections are
# never reused; one closed without a word is found closed only on reuse:
# then an idempotent request is sent again, once, on a fresh connection.
CP=8010
for mode in http10 close silent; do
	bg "app-$mode" $PY "$HELP" closing $CP $mode
	xl_wait_up "app-$mode" "http://127.0.0.1:$CP/" "$NS"
	bg "closing-$mode" "$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$((CP + 100)) \
		--upstream 127.0.0.1:$CP --upstream-connections 16
	xl_wait_up "closing-$mode" "http://127.0.0.1:$((CP + 100))/" "$NS"
	methods=GET,HEAD,PUT,DELETE,GET,POST
	[ $mode == silent ] && methods=GET,HEAD,PUT,DELETE,OPTIONS
	in_ns $PY "$HELP" burst 127.0.0.1 $((CP + 100)) 200 8 $methods >"$XL_TMP/burst-$mode.out"
	assert_eq "$(awk '{ print $2 }' "$XL_TMP/burst-$mode.out" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')" "200 x200 " \
		"application closing every connection ($mode): 200 requests ($methods) from 8 clients, all 200"
	assert_eq "$(grep -c . "$XL_TMP/closing-$mode.log")" 0 "application closing every connection ($mode): nothing logged"
	CP=$((CP + 1))
done

# --- stopped with connections open ----------------------------------------------

# SIGTERM while clients hold connections to each of its servers (the proxy,
# the auth endpoint, /metrics): the sidecar closes them and exits 0.
SP=8200
bg stop "$SIDECAR_BIN" --pin-dir "$XL_PIN" --listen 127.0.0.1:$SP --upstream 127.0.0.1:$B \
	--auth-listen 127.0.0.1:$((SP + 1)) --trust-proxy 127.0.0.1 \
	--metrics-listen 127.0.0.1:$((SP + 2))
STOP_PID=$XL_BG_PID
xl_wait_up stop "http://127.0.0.1:$((SP + 2))/metrics" "$NS"
held="" HOLDS=()
for p in $SP $((SP + 1)) $((SP + 2)); do
	hold_open "stop$p" $p 4
	held+="$(cat "$XL_TMP/stop$p.out") "
	HOLDS+=("$HOLD_PID:$HOLD_FD")
done
kill -TERM "$STOP_PID"
xl_wait_gone "$STOP_PID" 10 ||
	kill -KILL "$STOP_PID" 2>/dev/null # still there: the check fails
wait "$STOP_PID"
assert_eq "$? ($held)" "0 (held 4 held 4 held 4 )" \
	"SIGTERM with clients connected to the proxy, auth and metrics servers: exit 0"
for h in "${HOLDS[@]}"; do
	HOLD_PID=${h%%:*} HOLD_FD=${h##*:}
	hold_close
done

summary
