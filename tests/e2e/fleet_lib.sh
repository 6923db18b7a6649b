# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The fleet of test_fleet.sh and test_fleet_cluster.sh: three nodes, each a
# network namespace with its own veth to the client (the node is
# 198.18.1.I), its own xlimit in native XDP (pin directory
# /sys/fs/bpf/xltest_nI_PID) and its own `xlimit sync`; a namespace for
# Redis with a bridge (198.18.2.254) that each node reaches over a second
# veth (198.18.2.I); a client namespace with the addresses 198.18.0.1-9 on
# its loopback, one per scenario, routed to each node over its veth, so
# that the nodes see one client as through a load balancer. Source it
# after lib.sh and xl_test_init; then fleet_network, start the Redis, and
# fleet_nodes URL.

CLIENT=$E2E_DIR/fleet_client.py
PORT=8080
LIMIT="10 per 30 seconds"
AMOUNT=10
NODES=3
INTERVAL_MS=100
GAP_MS=40 # between the client's connections: 25 per second fleet-wide
REDIS_IP=198.18.2.254

# The slack of README "Running on a fleet": a node learns that the fleet is
# over within two intervals (its own round, then the others' read of the
# stream) plus Redis's round trip; what the client sends meanwhile may get
# through: ceil(rate * (2 * interval + margin)), margin 100 ms for the
# round trips and a busy machine; and never more than (nodes - 1) * amount.
SLACK=$("$PY" -c "import math; print(min(($NODES - 1) * $AMOUNT, math.ceil(1000 / $GAP_MS * (2 * $INTERVAL_MS + 100) / 1000)))")

# fleet_network: the namespaces and links above.
fleet_network() {
	local i ns a mac_c mac_n
	ID=xlt$$-$RANDOM
	NS_C=$ID-c # the client
	NS_R=$ID-r # Redis
	XL_CLEANUPS+=("ip netns del $NS_C; ip netns del $NS_R")
	ip netns add "$NS_C"
	ip netns add "$NS_R"

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
}

in_c() { nsenter --net="/run/netns/$NS_C" "$@"; }
in_r() { nsenter --net="/run/netns/$NS_R" "$@"; }
in_n() { local i=$1; shift; nsenter --net="/run/netns/$ID-n$i" "$@"; }
# xn I ARGS: xlimit of node I.
xn() { local i=$1; shift; in_n "$i" "$XLIMIT_BIN" --pin-dir "/sys/fs/bpf/xltest_n${i}_$$" "$@"; }

# fleet_nodes URL: on every node, xlimit attached with $LIMIT on $PORT, a
# TCP server there, and `xlimit sync --redis URL` (pids in SYNC_PIDS, logs
# in $XL_TMP/syncI.log); waits until every daemon is up and every server
# listens.
fleet_nodes() {
	local url=$1 i
	SYNC_PIDS=()
	for i in $(seq 1 $NODES); do
		xn "$i" attach "n$i-$$" --mode native >/dev/null &&
			xn "$i" limit set $PORT "$LIMIT" >/dev/null ||
			{ fail "node $i: attach and limit set"; summary; exit 1; }
		nsenter --net="/run/netns/$ID-n$i" "$PY" "$E2E_DIR/netutil.py" serve $PORT &
		XL_CLEANUPS+=("kill $!")
		nsenter --net="/run/netns/$ID-n$i" "$XLIMIT_BIN" --pin-dir "/sys/fs/bpf/xltest_n${i}_$$" sync \
			--redis "$url" --interval ${INTERVAL_MS}ms >"$XL_TMP/sync$i.log" 2>&1 &
		SYNC_PIDS[$i]=$!
		XL_CLEANUPS+=("kill ${SYNC_PIDS[$i]}")
	done
	if wait_state up; then ok "all $NODES daemons are in sync with $url (status: up)"; else
		fail "daemons up: $(cat "$XL_TMP"/sync*.log)"; summary; exit 1; fi
	for i in $(seq 1 $NODES); do
		xl_wait_listen "$ID-n$i" $PORT ||
			{ fail "node $i: its TCP server does not listen on $PORT"; summary; exit 1; }
	done
}

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

# spread SRC N GAP_MS NODE...: the client's round-robin; prints the JSON.
spread() {
	local src=$1 n=$2 gap=$3 dsts=() i
	shift 3
	for i in "$@"; do dsts+=(198.18.1.$i); done
	in_c "$PY" "$CLIENT" spread "$src" $PORT "$gap" "$n" "${dsts[@]}"
}
key_of() { echo "LIMITER/$1/global/$AMOUNT/30/second"; }

# round_robin NAME SRC N BUDGET: the client SRC sends N connections
# round-robin over the nodes; passes when BUDGET to BUDGET + SLACK get
# through.
round_robin() {
	local name=$1 src=$2 n=$3 budget=$4 out total
	out=$(spread "$src" "$n" $GAP_MS 1 2 3)
	total=$(jget "d['total']" <<<"$out")
	echo "# $name: $n connections at one per $GAP_MS ms over $NODES nodes:" \
		"admitted $total (per node $(jget "d['per_node']" <<<"$out")); budget $budget, slack $SLACK"
	if [ "$total" -ge "$budget" ] && [ "$total" -le $((budget + SLACK)) ]; then
		ok "$name: admitted $total, within $budget..$((budget + SLACK)) (budget + slack)"
	else
		fail "$name: admitted $total, expected $budget..$((budget + SLACK))"
	fi
}

# local_limit NAME SRC: with Redis away, each node admits exactly $AMOUNT
# of 14 connections of SRC.
local_limit() {
	local i out
	for i in $(seq 1 $NODES); do
		out=$(spread "$2" 14 20 "$i")
		assert_eq "$(jget "d['total']" <<<"$out")" $AMOUNT \
			"$1: node $i keeps its local limit (admits exactly $AMOUNT of 14)"
	done
}
