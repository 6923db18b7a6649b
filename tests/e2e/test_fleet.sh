#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End-to-end test of fleet-wide limits (`xlimit sync`): three nodes, each a
# network namespace with its own veth to the client, its own xlimit (native
# XDP, its own pin directory) and its own `xlimit sync`; Debian's
# redis-server in a namespace of its own, on a bridge the nodes reach over
# a second veth each; a client namespace whose connections go round-robin
# over the three nodes from one address, as through a load balancer.
#
# With "10 per 30 seconds" on port 8080:
#  - round-robin, the client is admitted at least 10 and at most 10 + the
#    README's slack fleet-wide (without sync it would be 30);
#  - a client that went over through two nodes is refused by the third,
#    which never saw it;
#  - a Flask app with Flask-Limiter's application limit of the same size
#    on the same Redis shares the budget, both ways;
#  - Redis stopped: every node keeps exactly its local limit and says so
#    (status, log); restarted: the nodes reconnect, add what they counted
#    meanwhile, and limit fleet-wide again;
#  - SIGTERM stops the daemon cleanly (status off, datapath flag cleared).

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"
CLIENT=$E2E_DIR/fleet_client.py
APP=$E2E_DIR/fleet_app.py

PORT=8080
LIMIT="10 per 30 seconds"
AMOUNT=10
NODES=3
INTERVAL_MS=100
GAP_MS=40 # between the client's connections: 25 per second fleet-wide
REDIS_IP=198.18.2.254
REDIS_PORT=6379
REDIS_URL=redis://$REDIS_IP:$REDIS_PORT

xl_test_init
xl_need redis-server redis-cli nsenter
"$PY" -c 'import flask_limiter, redis' 2>/dev/null ||
	{ fail "needs python3-flask-limiter and python3-redis (make deps)"; summary; exit 1; }

# The slack of README "Running on a fleet": a node learns that the fleet is
# over within two intervals (its own round, then the others' read of the
# stream) plus Redis's round trip; what the client sends meanwhile may get
# through: ceil(rate * (2 * interval + margin)), margin 100 ms for the
# round trips and a busy machine; and never more than (nodes - 1) * amount.
SLACK=$("$PY" -c "import math; print(min(($NODES - 1) * $AMOUNT, math.ceil(1000 / $GAP_MS * (2 * $INTERVAL_MS + 100) / 1000)))")

# --- the network -------------------------------------------------------------

ID=xlt$$-$RANDOM
NS_C=$ID-c # the client
NS_R=$ID-r # Redis
XL_CLEANUPS+=("ip netns del $NS_C; ip netns del $NS_R")
ip netns add "$NS_C"
ip netns add "$NS_R"
in_c() { nsenter --net="/run/netns/$NS_C" "$@"; }
in_r() { nsenter --net="/run/netns/$NS_R" "$@"; }
in_n() { local i=$1; shift; nsenter --net="/run/netns/$ID-n$i" "$@"; }
# xn I ARGS: xlimit of node I.
xn() { local i=$1; shift; in_n "$i" "$XLIMIT_BIN" --pin-dir "/sys/fs/bpf/xltest_n${i}_$$" "$@"; }

for ns in "$NS_C" "$NS_R"; do
	ip -n "$ns" link set lo up
done
# The client's addresses, one per scenario: 198.18.0.1-9 on its loopback.
for a in 1 2 3 4 5 6 7 8 9; do
	ip -n "$NS_C" addr add 198.18.0.$a/32 dev lo
done
ip -n "$NS_R" link add br0 type bridge
ip -n "$NS_R" addr add $REDIS_IP/24 dev br0
ip -n "$NS_R" link set br0 up

for i in $(seq 1 $NODES); do
	ns=$ID-n$i
	XL_CLEANUPS+=("ip netns del $ns")
	XL_CLEANUPS+=("'$XLIMIT_BIN' --pin-dir /sys/fs/bpf/xltest_n${i}_$$ unload; rm -rf /sys/fs/bpf/xltest_n${i}_$$ '$(xl_lock_file /sys/fs/bpf/xltest_n${i}_$$)'")
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	# client <-> node: the node is 198.18.1.I; the client's 198.18.0.x
	ip link add "c$i-$$" netns "$NS_C" type veth peer name "n$i-$$" netns "$ns"
	ip -n "$ns" addr add 198.18.1.$i/32 dev "n$i-$$"
	ip -n "$NS_C" link set "c$i-$$" up
	ip -n "$ns" link set "n$i-$$" up
	ip -n "$NS_C" route add 198.18.1.$i/32 dev "c$i-$$" src 198.18.0.1
	ip -n "$ns" route add 198.18.0.0/24 dev "n$i-$$"
	mac_c=$(ip -n "$NS_C" -br link show "c$i-$$" | awk '{print $3}')
	mac_n=$(ip -n "$ns" -br link show "n$i-$$" | awk '{print $3}')
	ip -n "$NS_C" neigh replace 198.18.1.$i lladdr "$mac_n" dev "c$i-$$" nud permanent
	for a in 1 2 3 4 5 6 7 8 9; do
		ip -n "$ns" neigh replace 198.18.0.$a lladdr "$mac_c" dev "n$i-$$" nud permanent
	done
	# node <-> Redis's bridge: the node is 198.18.2.I
	ip link add "r$i-$$" netns "$NS_R" type veth peer name "s$i-$$" netns "$ns"
	ip -n "$NS_R" link set "r$i-$$" master br0 up
	ip -n "$ns" addr add 198.18.2.$i/24 dev "s$i-$$"
	ip -n "$ns" link set "s$i-$$" up
done

# --- Redis, the nodes, their servers and daemons ----------------------------

REDIS_PID=""
start_redis() {
	# nsenter execs redis-server: $! is the server itself.
	nsenter --net="/run/netns/$NS_R" redis-server --bind $REDIS_IP --port $REDIS_PORT --save '' \
		--appendonly no --protected-mode no --daemonize no \
		--loglevel warning >"$XL_TMP/redis.log" 2>&1 &
	REDIS_PID=$!
	local k
	for ((k = 0; k < 100; k++)); do
		in_r redis-cli -h $REDIS_IP -p $REDIS_PORT ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.05
	done
	return 1
}
XL_CLEANUPS+=('[ -n "$REDIS_PID" ] && kill $REDIS_PID')
rcli() { in_r redis-cli -h $REDIS_IP -p $REDIS_PORT "$@"; }

if start_redis; then ok "redis-server runs in its own namespace on $REDIS_IP"; else
	fail "redis-server starts (see $XL_TMP/redis.log)"; summary; exit 1; fi

SYNC_PIDS=()
for i in $(seq 1 $NODES); do
	xn "$i" attach "n$i-$$" --mode native >/dev/null &&
		xn "$i" limit set $PORT "$LIMIT" >/dev/null ||
		{ fail "node $i: attach and limit set"; summary; exit 1; }
	nsenter --net="/run/netns/$ID-n$i" "$PY" "$E2E_DIR/netutil.py" serve $PORT &
	XL_CLEANUPS+=("kill $!")
	nsenter --net="/run/netns/$ID-n$i" "$XLIMIT_BIN" --pin-dir "/sys/fs/bpf/xltest_n${i}_$$" sync \
		--redis "$REDIS_URL" --interval ${INTERVAL_MS}ms >"$XL_TMP/sync$i.log" 2>&1 &
	SYNC_PIDS[$i]=$!
	XL_CLEANUPS+=("kill ${SYNC_PIDS[$i]}")
done

# wait_state STATE: every node's status says sync is STATE (15 s at most:
# the daemons retry Redis at most every 5 s).
wait_state() {
	local end=$((SECONDS + 15)) i n
	while [ $SECONDS -lt $end ]; do
		n=0
		for i in $(seq 1 $NODES); do
			[ "$(xn "$i" status --json | jget "d['sync']['state']")" == "$1" ] && n=$((n + 1))
		done
		[ "$n" == $NODES ] && return 0
		sleep 0.1
	done
	return 1
}
if wait_state up; then ok "all $NODES daemons are in sync with Redis (status: up)"; else
	fail "daemons up: $(cat "$XL_TMP"/sync*.log)"; summary; exit 1; fi
for i in $(seq 1 $NODES); do
	in_n "$i" ss -Hltn "sport = :$PORT" | grep -q . || sleep 0.5
done

# spread SRC N GAP_MS NODE...: the client's round-robin; prints the JSON.
spread() {
	local src=$1 n=$2 gap=$3 dsts=() i
	shift 3
	for i in "$@"; do dsts+=(198.18.1.$i); done
	in_c "$PY" "$CLIENT" spread "$src" $PORT "$gap" "$n" "${dsts[@]}"
}
key_of() { echo "LIMITER/$1/global/$AMOUNT/30/second"; }

# --- 1. round-robin over three nodes ----------------------------------------------

OUT=$(spread 198.18.0.1 30 $GAP_MS 1 2 3)
total=$(jget "d['total']" <<<"$OUT")
echo "# round-robin, 30 connections at one per $GAP_MS ms over $NODES nodes: admitted $total" \
	"(per node $(jget "d['per_node']" <<<"$OUT")); limit $AMOUNT, documented slack $SLACK"
if [ "$total" -ge $AMOUNT ] && [ "$total" -le $((AMOUNT + SLACK)) ]; then
	ok "round-robin: admitted $total, within $AMOUNT..$((AMOUNT + SLACK)) (limit + slack; $((NODES * AMOUNT)) without sync)"
else
	fail "round-robin: admitted $total, expected $AMOUNT..$((AMOUNT + SLACK))"
fi
count=$(rcli GET "$(key_of 198.18.0.1)")
ttl=$(rcli TTL "$(key_of 198.18.0.1)")
[ "${count:-0}" -gt $AMOUNT ] && [ "$ttl" -ge 1 ] && [ "$ttl" -le 30 ] &&
	ok "Redis holds the fleet's count in Flask-Limiter's key $(key_of 198.18.0.1) ($count, expires in ${ttl}s)" ||
	fail "Redis key $(key_of 198.18.0.1): count '$count', ttl '$ttl'"

# --- 2. the node that never saw the client limits it too ---------------------------

OUT=$(spread 198.18.0.2 14 $GAP_MS 1 2)
# Poll until node 3 holds the client as over (it learns from the stream).
for ((k = 0; k < 100; k++)); do
	rem=$(xn 3 query 198.18.0.2 $PORT --json | jget "d['limits'][0]['remaining']" 2>/dev/null)
	[ "$rem" == 0 ] && break
	sleep 0.05
done
assert_eq "$rem" 0 "node 3, which never saw the client, holds it as over (remaining 0)"
OUT=$(spread 198.18.0.2 2 $GAP_MS 3)
assert_eq "$(jget "d['total']" <<<"$OUT")" 0 "node 3 refuses the client that went over through nodes 1 and 2"

# --- 3. a Flask app on the same Redis shares the budget -----------------------------

nsenter --net="/run/netns/$ID-n1" "$PY" "$APP" 198.18.1.1 5000 "$REDIS_URL" "$LIMIT" >"$XL_TMP/app.log" 2>&1 &
XL_CLEANUPS+=("kill $!")
for ((k = 0; k < 100; k++)); do
	in_n 1 ss -Hltn "sport = :5000" | grep -q . && break
	sleep 0.05
done
# Flask first: 4 requests, then the kernel's nodes have 6 left.
OUT=$(in_c "$PY" "$CLIENT" http 198.18.0.3 http://198.18.1.1:5000/ 4)
assert_eq "$OUT" "[200, 200, 200, 200]" "flask: 4 requests of client .3 pass"
OUT=$(spread 198.18.0.3 15 $GAP_MS 1 2 3)
total=$(jget "d['total']" <<<"$OUT")
echo "# after 4 requests through Flask: the nodes admitted $total of 15 (budget left $((AMOUNT - 4)), slack $SLACK)"
[ "$total" -ge $((AMOUNT - 4)) ] && [ "$total" -le $((AMOUNT - 4 + SLACK)) ] &&
	ok "the nodes admit what Flask left of the budget: $total in $((AMOUNT - 4))..$((AMOUNT - 4 + SLACK))" ||
	fail "the nodes admitted $total after Flask's 4, expected $((AMOUNT - 4))..$((AMOUNT - 4 + SLACK))"
OUT=$(in_c "$PY" "$CLIENT" http 198.18.0.3 http://198.18.1.1:5000/ 1)
assert_eq "$OUT" "[429]" "flask answers 429 once the nodes used up the shared budget"
# The other way: Flask uses it all up; each node admits at most the one
# hit whose count tells it (one interval apart), then refuses.
OUT=$(in_c "$PY" "$CLIENT" http 198.18.0.4 http://198.18.1.1:5000/ 11)
assert_eq "$OUT" "[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 429]" \
	"flask: client .4 gets 10 requests, then 429"
OUT=$(spread 198.18.0.4 9 300 1 2 3)
total=$(jget "d['total']" <<<"$OUT")
echo "# after Flask used the budget: the nodes admitted $total of 9 (at most one per node)"
[ "$total" -le $NODES ] && ok "the nodes refuse a client Flask found over (admitted $total <= $NODES)" ||
	fail "the nodes admitted $total of 9 after Flask used the budget, expected <= $NODES"

# --- 4. Redis stopped, then back -------------------------------------------------------

kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
REDIS_PID=""
if wait_state down; then ok "Redis stopped: every node's status says so (down)"; else
	fail "Redis stopped: status of the nodes: $(xn 1 status --json | jget "d['sync']")"; fi
assert_match "$(xn 1 status)" "REDIS UNREACHABLE.*local limits only" "xlimit status says Redis is unreachable in words"
for i in $(seq 1 $NODES); do
	OUT=$(spread 198.18.0.5 14 20 "$i")
	assert_eq "$(jget "d['total']" <<<"$OUT")" $AMOUNT \
		"Redis down: node $i keeps its local limit (admits exactly $AMOUNT of 14)"
done
sleep 1 # let the daemons retry a few times
for i in $(seq 1 $NODES); do
	assert_eq "$(grep -c 'redis unreachable' "$XL_TMP/sync$i.log")" 1 \
		"node $i's log says once that Redis is unreachable"
done
if start_redis; then ok "redis-server restarted"; else fail "redis-server restarts"; fi
if wait_state up; then ok "Redis back: every node reconnects (status: up)"; else
	fail "Redis back: status of the nodes: $(xn 1 status --json | jget "d['sync']")"; fi
for i in $(seq 1 $NODES); do
	assert_match "$(cat "$XL_TMP/sync$i.log")" "redis back after" "node $i's log says Redis is back"
done
# What the nodes counted while Redis was away is added when it is back.
for ((k = 0; k < 100; k++)); do
	count=$(rcli GET "$(key_of 198.18.0.5)")
	[ "${count:-0}" -ge $((NODES * AMOUNT)) ] && break
	sleep 0.05
done
[ "${count:-0}" -ge $((NODES * AMOUNT)) ] &&
	ok "the hits counted during the outage reached Redis ($count)" ||
	fail "the hits counted during the outage: Redis has '$count', expected >= $((NODES * AMOUNT))"
OUT=$(spread 198.18.0.6 30 $GAP_MS 1 2 3)
total=$(jget "d['total']" <<<"$OUT")
echo "# after Redis came back: round-robin admitted $total of 30"
[ "$total" -ge $AMOUNT ] && [ "$total" -le $((AMOUNT + SLACK)) ] &&
	ok "after Redis came back the fleet limit holds again: $total in $AMOUNT..$((AMOUNT + SLACK))" ||
	fail "after Redis came back: admitted $total, expected $AMOUNT..$((AMOUNT + SLACK))"

# --- 5. a clean stop ----------------------------------------------------------------------

kill -TERM "${SYNC_PIDS[1]}"
wait "${SYNC_PIDS[1]}"
assert_eq "$?" 0 "SIGTERM: the daemon exits 0"
assert_eq "$(xn 1 status --json | jget "d['sync']['state']")" off "after it stops, node 1's status says sync is off"
assert_match "$(xn 1 status)" "sync: +off" "status says so in words"

summary
