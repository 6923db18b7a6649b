#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# `xlimit sync --redis redis+cluster://...` against a Redis Cluster of three
# masters (Debian's redis-server in cluster mode, ports 7000-7002 in the
# Redis namespace), with the fleet of fleet_lib.sh: three nodes, their own
# xlimit and daemon, a client round-robin over them. With "10 per 30
# seconds":
#  - round-robin, the client is admitted 10 to 10 + the slack, and its
#    counter is in the cluster (found through redirections by redis-cli -c);
#  - a slot being migrated (MIGRATING on its owner, IMPORTING on another):
#    the owner answers ASK for a counter it does not hold, the daemons
#    follow it (ASKING), the limit holds, and the counter is on the new
#    owner once the migration ends;
#  - a slot moved to another master behind the daemons' backs: MOVED, the
#    daemons follow it and read the slots again, the limit holds and the
#    counter is on the new owner;
#  - the whole cluster stopped: every node keeps exactly its local limit
#    and says so; restarted (the same nodes.conf): the daemons reconnect and
#    the fleet limit holds again.

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"

xl_test_init
# shellcheck source=tests/e2e/fleet_lib.sh
. "$E2E_DIR/fleet_lib.sh"
xl_need redis-server redis-cli nsenter
CPORTS="7000 7001 7002"
URL=redis+cluster://$REDIS_IP:7000,$REDIS_IP:7001

fleet_network

# --- the cluster -------------------------------------------------------------------

declare -A CPID
start_cluster() {
	local p k
	for p in $CPORTS; do
		mkdir -p "$XL_TMP/c$p"
		# nsenter execs redis-server: $! is the server itself.
		nsenter --net="/run/netns/$NS_R" redis-server --bind $REDIS_IP --port "$p" \
			--cluster-enabled yes --cluster-config-file "$XL_TMP/c$p/nodes.conf" \
			--dir "$XL_TMP/c$p" --save '' --appendonly no --protected-mode no \
			--daemonize no --loglevel warning >>"$XL_TMP/c$p/log" 2>&1 &
		CPID[$p]=$!
	done
	for p in $CPORTS; do
		for ((k = 0; k < 100; k++)); do
			in_r redis-cli -h $REDIS_IP -p "$p" ping 2>/dev/null | grep -q PONG && break
			sleep 0.05
		done
	done
}
stop_cluster() {
	local p
	for p in $CPORTS; do
		[ -n "${CPID[$p]:-}" ] && kill "${CPID[$p]}" && wait "${CPID[$p]}" 2>/dev/null
		CPID[$p]=""
	done
}
XL_CLEANUPS+=("stop_cluster")
# cluster_ok: every master says cluster_state:ok (10 s at most).
cluster_ok() {
	local k p n
	for ((k = 0; k < 200; k++)); do
		n=0
		for p in $CPORTS; do
			in_r redis-cli -h $REDIS_IP -p "$p" cluster info 2>/dev/null |
				grep -q 'cluster_state:ok' && n=$((n + 1))
		done
		[ "$n" == 3 ] && return 0
		sleep 0.05
	done
	return 1
}
cli() { local p=$1; shift; in_r redis-cli -h $REDIS_IP -p "$p" "$@"; }
node_id() { cli "$1" cluster myid; }
# owner_of KEY: the port of the master that serves KEY's slot.
owner_of() {
	local slot p
	slot=$(cli 7000 cluster keyslot "$1")
	cli 7000 cluster slots | "$PY" -c '
import sys
lines = [l.strip() for l in sys.stdin]
slot = int(sys.argv[1])
# redis-cli prints each range as: start, end, host, port, id, ...
i = 0
while i + 3 < len(lines):
    if lines[i].isdigit() and lines[i + 1].isdigit() and int(lines[i]) <= slot <= int(lines[i + 1]):
        print(lines[i + 3]); break
    i += 1
' "$slot"
}
# cget KEY: the counter, through the cluster's redirections.
cget() { in_r redis-cli -c -h $REDIS_IP -p 7000 GET "$1"; }

start_cluster
in_r redis-cli --cluster create $REDIS_IP:7000 $REDIS_IP:7001 $REDIS_IP:7002 \
	--cluster-replicas 0 --cluster-yes >"$XL_TMP/create.log" 2>&1
if cluster_ok; then ok "a Redis Cluster of three masters runs in its own namespace"; else
	fail "cluster create: $(tail -5 "$XL_TMP/create.log")"; summary; exit 1; fi

fleet_nodes "$URL"

# --- 1. round-robin -------------------------------------------------------------------

round_robin "cluster, round-robin" 198.18.0.1 30 $AMOUNT
count=$(cget "$(key_of 198.18.0.1)")
[ "${count:-0}" -ge $AMOUNT ] &&
	ok "the cluster holds the fleet's count in $(key_of 198.18.0.1) ($count)" ||
	fail "the cluster's count of $(key_of 198.18.0.1): '$count'"

# --- 2. ASK: a slot being migrated ---------------------------------------------------

# other_master PORT: another master's port.
other_master() { for p in $CPORTS; do [ "$p" != "$1" ] && { echo "$p"; return; }; done; }
KEY=$(key_of 198.18.0.2)
SLOT=$(cli 7000 cluster keyslot "$KEY")
SRC=$(owner_of "$KEY")
DST=$(other_master "$SRC")
cli "$DST" cluster setslot "$SLOT" importing "$(node_id "$SRC")" >/dev/null
cli "$SRC" cluster setslot "$SLOT" migrating "$(node_id "$DST")" >/dev/null
round_robin "cluster, slot $SLOT migrating from $SRC to $DST (ASK)" 198.18.0.2 30 $AMOUNT
assert_match "$(cli "$SRC" exists "$KEY")" "^ASK $SLOT " \
	"the migrating slot's old owner never got the counter (it answers ASK for it)"
for p in $CPORTS; do
	cli "$p" cluster setslot "$SLOT" node "$(node_id "$DST")" >/dev/null
done
count=$(cget "$KEY")
[ "${count:-0}" -ge $AMOUNT ] &&
	ok "after the migration the counter is on $DST ($count): the daemons followed ASK" ||
	fail "after the migration the counter $KEY is '$count' (logs: $(cat "$XL_TMP"/sync*.log | tail -5))"

# --- 3. MOVED: a slot moved behind the daemons' backs -------------------------------

KEY=$(key_of 198.18.0.3)
SLOT=$(cli 7000 cluster keyslot "$KEY")
SRC=$(owner_of "$KEY")
DST=$(other_master "$SRC")
for p in $CPORTS; do
	cli "$p" cluster setslot "$SLOT" node "$(node_id "$DST")" >/dev/null
done
assert_eq "$(owner_of "$KEY")" "$DST" "slot $SLOT now served by $DST"
round_robin "cluster, slot $SLOT moved from $SRC to $DST (MOVED)" 198.18.0.3 30 $AMOUNT
count=$(cget "$KEY")
[ "${count:-0}" -ge $AMOUNT ] &&
	ok "the counter is on $DST ($count): the daemons followed MOVED" ||
	fail "after MOVED the counter $KEY is '$count'"

# --- 4. the cluster stopped, then back ---------------------------------------------

stop_cluster
if wait_state down; then ok "cluster stopped: every node's status says so (down)"; else
	fail "cluster stopped: status $(xn 1 status --json | jget "d['sync']")"; fi
local_limit "cluster down" 198.18.0.5
start_cluster
if cluster_ok; then ok "the cluster restarted from its nodes.conf"; else
	fail "the cluster restarts"; fi
if wait_state up; then ok "cluster back: every node reconnects (status: up)"; else
	fail "cluster back: status $(xn 1 status --json | jget "d['sync']")"; fi
round_robin "cluster back, round-robin" 198.18.0.6 30 $AMOUNT

summary
