#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# `xlimit sync` as a command, on a private pin directory and a Redis on
# loopback: bad input exits 2 with a message naming what is wrong and
# changes nothing (xl_config's flags, xl_sync); without a loaded xlimit it
# says so; with Redis unreachable from the start it runs on, says so once
# in its log and in `status`; a second daemon on the same pin directory is
# refused while the first runs; SIGTERM clears the datapath's flag. The
# fleet itself is tests/e2e/test_fleet*.sh.

set -u
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$CLI_DIR/../lib/lib.sh"

xl_test_init
xl_need bpftool redis-server redis-cli

RPORT=$((20000 + $$ % 10000))
DEAD=$((RPORT + 1)) # nothing listens there

assert_rc 2 "sync without a loaded xlimit: exit 2" -- xl sync --redis redis://127.0.0.1:$RPORT
assert_match "$ERR" "not loaded" "it says xlimit is not loaded"

xl load >/dev/null
xl limit set 8080 "10/minute" >/dev/null
snap() {
	bpftool -j map dump pinned "$XL_PIN/xl_config"
	bpftool -j map dump pinned "$XL_PIN/xl_sync"
}
snap >"$XL_TMP/before"
while IFS='|' read -r text args; do
	# shellcheck disable=SC2086 # the arguments are words
	run_unchanged 2 "$text" snap -- xl sync $args
	if [ -z "$WHY" ]; then ok "sync $args: exit 2, '$text', nothing changed"; else
		fail "sync $args$WHY"; fi
done <<'EOF2'
--redis URL is required|
expected redis://|--redis bad://x
expected redis://|--redis redis:/x
takes one host|--redis redis://a,b
bad host|--redis redis://a:99999
nothing before '@'|--redis redis://@a
percent-encode|--redis redis://:p%zz@a
user 'xl' without a password|--redis redis://xl@a
master's name|--redis redis+sentinel://a:26379
--interval '5ms'|--redis redis://a --interval 5ms
--interval '100'|--redis redis://a --interval 100
--interval '61s'|--redis redis://a --interval 61s
--scope 'a/b'|--redis redis://a --scope a/b
--key-prefix 'p/q'|--redis redis://a --key-prefix p/q
unexpected argument 'extra'|--redis redis://a extra
Usage: xlimit sync|--redis redis://a --bogus
EOF2
assert_rc 0 "sync --help: exit 0" -- xl sync --help
assert_match "$OUT" "redis\+cluster://" "--help shows the URL forms"

# Redis unreachable from the start: the daemon runs on and says so.
"$XLIMIT_BIN" --pin-dir "$XL_PIN" sync --redis redis://127.0.0.1:$DEAD \
	--interval 50ms >"$XL_TMP/dead.log" 2>&1 &
DPID=$!
XL_CLEANUPS+=("kill $DPID")
for ((k = 0; k < 100; k++)); do
	[ "$(xl status --json | jget "d['sync']['state']")" == down ] && break
	sleep 0.05
done
assert_eq "$(xl status --json | jget "d['sync']['state']")" down "Redis unreachable at start: status says down"
assert_match "$(xl status --json | jget "d['sync']['error']")" "127.0.0.1:$DEAD" "status names the address it cannot reach"
sleep 0.5 # several retries
assert_eq "$(grep -c 'redis unreachable' "$XL_TMP/dead.log")" 1 "the log says so once"
assert_eq "$(kill -0 $DPID 2>/dev/null && echo running)" running "the daemon runs on"
assert_rc 1 "a second sync on the same pin directory: exit 1" -- \
	xl sync --redis redis://127.0.0.1:$DEAD
assert_match "$ERR" "another 'xlimit sync' \(pid $DPID\)" "it names the running daemon"
flags() { bpftool -j map dump pinned "$XL_PIN/xl_config" | jget "d[0]['formatted']['value']['flags']"; }
assert_eq "$(( $(flags) & 4 ))" 4 "while it runs, XL_CFG_SYNC is set"
kill -TERM $DPID
wait $DPID
assert_eq "$?" 0 "SIGTERM: exit 0"
assert_eq "$(( $(flags) & 4 ))" 0 "after it stops, XL_CFG_SYNC is clear"
assert_eq "$(xl status --json | jget "d['sync']['state']")" off "status: off"

# A Redis that wants a password (and an ACL user): AUTH on connect, the
# password never shown, a wrong one named in status.
redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no --dir "$XL_TMP" \
	--requirepass s3cret --user xl on '>xlpw' '~*' '&*' '+@all' \
	--loglevel warning >"$XL_TMP/redis.log" 2>&1 &
XL_CLEANUPS+=("kill $!")
for ((k = 0; k < 100; k++)); do
	redis-cli -p "$RPORT" --no-auth-warning -a s3cret ping 2>/dev/null | grep -q PONG && break
	sleep 0.05
done
# sync_state URL [ENV...]: runs the daemon until status leaves "connecting";
# sets STATE, ERROR and SHOWN (status's redis field) and keeps its log.
sync_state() {
	local url=$1 pid
	shift
	env "$@" "$XLIMIT_BIN" --pin-dir "$XL_PIN" sync --redis "$url" --interval 50ms \
		>"$XL_TMP/auth.log" 2>&1 &
	pid=$!
	for ((k = 0; k < 100; k++)); do
		STATE=$(xl status --json | jget "d['sync']['state']")
		[ "$STATE" == up ] || [ "$STATE" == down ] && break
		sleep 0.05
	done
	ERROR=$(xl status --json | jget "d['sync'].get('error', '')")
	SHOWN=$(xl status --json | jget "d['sync']['redis']")
	kill -TERM $pid
	wait $pid
}
sync_state "redis://:s3cret@127.0.0.1:$RPORT"
assert_eq "$STATE" up "redis://:PASSWORD@HOST: AUTH passes, status says up"
assert_eq "$SHOWN" "redis://:***@127.0.0.1:$RPORT" "status shows the URL with the password starred out"
assert_eq "$(grep -c s3cret "$XL_TMP/auth.log")" 0 "the log never shows the password"
sync_state "redis://xl:xlpw@127.0.0.1:$RPORT"
assert_eq "$STATE" up "redis://USER:PASSWORD@HOST: AUTH as an ACL user"
sync_state "redis://xl@127.0.0.1:$RPORT" XLIMIT_REDIS_PASSWORD=xlpw
assert_eq "$STATE" up "redis://USER@HOST with XLIMIT_REDIS_PASSWORD"
sync_state "redis://:wrong@127.0.0.1:$RPORT"
assert_eq "$STATE" down "a wrong password: status says down"
assert_match "$ERROR" "127\.0\.0\.1:$RPORT: AUTH: WRONGPASS" "status names the address and Redis's AUTH error"
assert_match "$(cat "$XL_TMP/auth.log")" "AUTH: WRONGPASS" "so does the log"
sync_state "redis://127.0.0.1:$RPORT"
assert_eq "$STATE" down "no password for a Redis that wants one: down"
assert_match "$ERROR" "NOAUTH" "status says Redis wants AUTH"

summary
