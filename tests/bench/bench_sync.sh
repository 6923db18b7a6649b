#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# CPU of `xlimit sync` with many active clients: a loaded xlimit (no
# interface: SYNs go through the pinned XDP program by BPF_PROG_TEST_RUN,
# build/bench/sync_load), a redis-server on loopback, and the daemon with a
# 1 s interval; every client sends one SYN a second, so every round the
# daemon reads and pushes every client. Prints a Markdown section: the
# daemon's and Redis's CPU (utime + stime from /proc, over the run), the
# hits pushed and events lost; and the datapath's cost for a hot SYN on
# port 8081 (a limit it stays within) with sync off and on (one frame
# through test_run with repeat, median of 5). SYNC_CLIENTS (default
# 100000) and SYNC_SECONDS (default 10) change the load.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/lib.sh
xl_test_init >/dev/null
xl_need redis-server
N=${SYNC_CLIENTS:-100000}
SECS=${SYNC_SECONDS:-10}
RPORT=$((20000 + $$ % 10000))
LOAD=build/bench/sync_load
[ -x "$LOAD" ] || make -s "$LOAD" >/dev/null

redis-server --bind 127.0.0.1 --port $RPORT --dir "$XL_TMP" --save '' --appendonly no \
	--daemonize no --loglevel warning >"$XL_TMP/redis.log" 2>&1 &
RPID=$!
XL_CLEANUPS+=("kill $RPID")
for ((k = 0; k < 100; k++)); do
	redis-cli -p $RPORT ping 2>/dev/null | grep -q PONG && break
	sleep 0.05
done
xl load --max-sources $((2 * N)) >/dev/null
xl limit set 8080 "1000 per 1 minute" >/dev/null
xl limit set 8081 "16000000 per 1 hour" >/dev/null
HOT_REPEAT=2000000
hot_off=$("$LOAD" hot "$XL_PIN" 8081 $HOT_REPEAT)
"$XLIMIT_BIN" --pin-dir "$XL_PIN" sync --redis redis://127.0.0.1:$RPORT \
	--interval 1s >"$XL_TMP/sync.log" 2>&1 &
SPID=$!
XL_CLEANUPS+=("kill $SPID")
for ((k = 0; k < 100; k++)); do
	[ "$(xl status --json | jget "d['sync']['state']")" == up ] && break
	sleep 0.05
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
s0=$(ticks $SPID) r0=$(ticks $RPID) t0=$(date +%s.%N)
lres=$("$LOAD" "$XL_PIN" 8080 "$N" 1000 "$SECS")
# Until the last rounds are pushed: `pushed` stops growing (10 s at most).
prev=-1
for ((k = 0; k < 20; k++)); do
	sleep 0.5
	cur=$(xl status --json | jget "d['sync']['pushed']")
	[ "$cur" == "$prev" ] && break
	prev=$cur
done
s1=$(ticks $SPID) r1=$(ticks $RPID) t1=$(date +%s.%N)
st=$(xl status --json)
hot_on=$("$LOAD" hot "$XL_PIN" 8081 $HOT_REPEAT)
pushed=$(jget "d['sync']['pushed']" <<<"$st")
lost=$(jget "d['sync']['lost']" <<<"$st")
rounds=$(awk '{print $2}' <<<"$lres")
slowest=$(awk '{print $6}' <<<"$lres")
wall=$(echo "$t1 - $t0" | bc -l)

echo "\`xlimit sync --interval 1s\` against a redis-server on loopback,"
echo "$N clients each sending one SYN a second (through the pinned XDP"
echo "program by BPF_PROG_TEST_RUN: $rounds rounds of all $N, the slowest"
echo "${slowest}s), over ${wall%.*} s (until the daemon pushed the last round):"
echo
echo "| process | CPU (% of one core) |"
echo "|---|---|"
printf '| xlimit sync | %.1f |\n' "$(echo "($s1 - $s0) * 100 / $hz / $wall" | bc -l)"
printf '| redis-server | %.1f |\n' "$(echo "($r1 - $r0) * 100 / $hz / $wall" | bc -l)"
echo
echo "Hits pushed to Redis: $pushed (of $((rounds * N)) sent); ring buffer events lost: $lost."
echo
echo "The datapath, one hot source's SYN within its limit (test_run, repeat"
echo "$HOT_REPEAT, median of 5):"
echo
echo "| sync | ns per SYN |"
echo "|---|---|"
echo "| off (no daemon: XL_CFG_SYNC clear) | $hot_off |"
echo "| on (the daemon running) | $hot_on |"
