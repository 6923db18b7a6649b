#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# `xlimit sync --redis redis+sentinel://...` with the fleet of fleet_lib.sh
# (three nodes, their own xlimit and daemon, a client round-robin over
# them) and, in the Redis namespace, Debian's redis-server as a master
# (6379), a replica (6380) and three sentinels (26379-26381, quorum 2)
# watching them, every one of them behind a password (the daemons AUTH
# to the sentinels and to the master). With "10 per 30 seconds":
#  - round-robin, the client is admitted 10 to 10 + the slack, and its
#    counter is on the master the sentinels name;
#  - the master killed: the sentinels promote the replica; the daemons ask
#    them again, reconnect to the new master (status up), and the fleet
#    limit holds there.

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"

xl_test_init
# shellcheck source=tests/e2e/fleet_lib.sh
. "$E2E_DIR/fleet_lib.sh"
xl_need redis-server redis-cli nsenter
SENTINELS="26379 26380 26381"
PW=xl-s3cret
URL=redis+sentinel://:$PW@$REDIS_IP:26379,$REDIS_IP:26380,$REDIS_IP:26381/xlmaster

fleet_network

cli() { local p=$1; shift; in_r redis-cli -h $REDIS_IP -p "$p" --no-auth-warning -a "$PW" "$@"; }
# up PORT: a server answers there (5 s at most).
up() {
	local k
	for ((k = 0; k < 100; k++)); do
		cli "$1" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.05
	done
	return 1
}
# serve PORT ARGS: a redis-server (nsenter execs it: $! is the server),
# working in a directory of the test's own: a replica's full sync writes
# an RDB file there, not into the current directory.
declare -A RPID
serve() {
	local p=$1
	shift
	mkdir -p "$XL_TMP/r$p"
	nsenter --net="/run/netns/$NS_R" redis-server "$@" --bind $REDIS_IP --port "$p" \
		--dir "$XL_TMP/r$p" --save '' --appendonly no --protected-mode no --daemonize no \
		--loglevel warning >>"$XL_TMP/redis$p.log" 2>&1 &
	RPID[$p]=$!
	XL_CLEANUPS+=("kill ${RPID[$p]}")
}

serve 6379 --requirepass "$PW" --masterauth "$PW"
serve 6380 --replicaof $REDIS_IP 6379 --requirepass "$PW" --masterauth "$PW"
for p in $SENTINELS; do
	cat >"$XL_TMP/sentinel$p.conf" <<EOF
sentinel monitor xlmaster $REDIS_IP 6379 2
sentinel down-after-milliseconds xlmaster 1000
sentinel failover-timeout xlmaster 10000
sentinel auth-pass xlmaster $PW
requirepass $PW
sentinel sentinel-pass $PW
EOF
	serve "$p" "$XL_TMP/sentinel$p.conf" --sentinel
done
n=0
for p in 6379 6380 $SENTINELS; do up "$p" && n=$((n + 1)); done
assert_eq "$n" 5 "a master, a replica and three sentinels run in the Redis namespace"
# master_port: the master's port, as the sentinels say.
master_port() { cli 26379 sentinel get-master-addr-by-name xlmaster 2>/dev/null | tail -n 1; }
# The sentinels must know the replica before a failover can promote it.
for ((k = 0; k < 200; k++)); do
	cli 26379 sentinel replicas xlmaster 2>/dev/null | grep -qx 6380 && break
	sleep 0.05
done

fleet_nodes "$URL"

# --- 1. round-robin -------------------------------------------------------------------

round_robin "sentinel, round-robin" 198.18.0.1 30 $AMOUNT
count=$(cli "$(master_port)" GET "$(key_of 198.18.0.1)")
[ "${count:-0}" -ge $AMOUNT ] &&
	ok "the master the sentinels name holds the fleet's count ($count)" ||
	fail "the master's count of $(key_of 198.18.0.1): '$count'"

# --- 2. failover --------------------------------------------------------------------

kill "${RPID[6379]}"
wait "${RPID[6379]}" 2>/dev/null
for ((k = 0; k < 300; k++)); do
	[ "$(master_port)" == 6380 ] && break
	sleep 0.1
done
assert_eq "$(master_port)" 6380 "the sentinels promote the replica"
if wait_state up && [ "$(grep -c 'redis back after' "$XL_TMP/sync1.log")" -ge 1 ]; then
	ok "the daemons reconnect to the new master (status: up)"
else
	fail "after the failover: $(xn 1 status --json | jget "d['sync']"); $(tail -3 "$XL_TMP/sync1.log")"
fi
round_robin "sentinel, after the failover" 198.18.0.2 30 $AMOUNT
count=$(cli 6380 GET "$(key_of 198.18.0.2)")
[ "${count:-0}" -ge $AMOUNT ] &&
	ok "the new master holds the fleet's count ($count)" ||
	fail "the new master's count of $(key_of 198.18.0.2): '$count'"

summary
