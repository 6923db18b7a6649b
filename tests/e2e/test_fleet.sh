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
#  - a token-bucket port stays each node's own;
#  - SIGTERM stops the daemon cleanly (status off, datapath flag cleared).

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"
APP=$E2E_DIR/fleet_app.py
REDIS_PORT=6379
REDIS_URL=redis://198.18.2.254:$REDIS_PORT

xl_test_init
# shellcheck source=tests/e2e/fleet_lib.sh
. "$E2E_DIR/fleet_lib.sh"
xl_need redis-server redis-cli nsenter
"$PY" -c 'import flask_limiter, redis' 2>/dev/null ||
	{ fail "needs python3-flask-limiter and python3-redis (make deps)"; summary; exit 1; }

fleet_network

# --- Redis, the nodes, their servers and daemons ----------------------------

REDIS_PID=""
start_redis() {
	# nsenter execs redis-server: $! is the server itself.
	nsenter --net="/run/netns/$NS_R" redis-server --bind $REDIS_IP --port $REDIS_PORT --dir "$XL_TMP" --save '' \
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

fleet_nodes "$REDIS_URL"

# --- 1. round-robin over three nodes ----------------------------------------------

round_robin "round-robin (30 without sync)" 198.18.0.1 30 $AMOUNT
count=$(rcli GET "$(key_of 198.18.0.1)")
ttl=$(rcli TTL "$(key_of 198.18.0.1)")
[ "${count:-0}" -ge $AMOUNT ] && [ "$ttl" -ge 1 ] && [ "$ttl" -le 30 ] &&
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
xl_wait_listen "$ID-n1" 5000
# Flask first: 4 requests, then the kernel's nodes have 6 left.
OUT=$(in_c "$PY" "$CLIENT" http 198.18.0.3 http://198.18.1.1:5000/ 4)
assert_eq "$OUT" "[200, 200, 200, 200]" "flask: 4 requests of client .3 pass"
round_robin "after 4 requests through Flask" 198.18.0.3 15 $((AMOUNT - 4))
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
local_limit "Redis down" 198.18.0.5
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
round_robin "after Redis came back" 198.18.0.6 30 $AMOUNT

# --- 5. a token-bucket port is each node's own ----------------------------------------------

# Only fixed windows map onto Flask-Limiter's counters: a port counted as a
# token bucket is limited by each node alone (10 at once on each), the
# daemons say so, and nothing about it reaches Redis.
P2=$((PORT + 1))
for i in $(seq 1 $NODES); do
	xn "$i" limit set $P2 "$LIMIT" --strategy token-bucket >/dev/null
	nsenter --net="/run/netns/$ID-n$i" "$PY" "$E2E_DIR/netutil.py" serve $P2 &
	XL_CLEANUPS+=("kill $!")
done
for i in $(seq 1 $NODES); do
	xl_wait_listen "$ID-n$i" $P2
done
OUT=$(in_c "$PY" "$CLIENT" spread 198.18.0.8 $P2 $GAP_MS 45 198.18.1.1 198.18.1.2 198.18.1.3)
assert_eq "$(jget "sorted(d['per_node'].values())" <<<"$OUT")" "[$AMOUNT,$AMOUNT,$AMOUNT]" \
	"token-bucket port: each node admits its own burst of $AMOUNT, unsynced"
assert_eq "$(rcli --scan --pattern 'LIMITER/198.18.0.8/*' | wc -l)" 0 \
	"token-bucket port: no counter of the client in Redis"
assert_match "$(cat "$XL_TMP"/sync1.log)" "port $P2: limit 1 is not fixed-window: counted here only" \
	"token-bucket port: the daemon says it counts it on its node only"

# --- 6. a clean stop ----------------------------------------------------------------------

kill -TERM "${SYNC_PIDS[1]}"
wait "${SYNC_PIDS[1]}"
assert_eq "$?" 0 "SIGTERM: the daemon exits 0"
assert_eq "$(xn 1 status --json | jget "d['sync']['state']")" off "after it stops, node 1's status says sync is off"
assert_match "$(xn 1 status)" "sync: +off" "status says so in words"

summary
