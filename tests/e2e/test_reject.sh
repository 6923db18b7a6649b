#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End-to-end test of the reject action: a client namespace connects over a
# veth pair to a server namespace whose port 8080 has the limit "1 per 30
# seconds" with --action reject, with xlimit attached in native XDP mode,
# then in tc mode. Over IPv4 and IPv6, the first connect() succeeds and the
# second fails with ECONNREFUSED, from the RST the datapath sent back,
# without the client retransmitting its SYN, within 1 s (a sanity bound
# with a wide margin, not a performance target: a dropped SYN would take
# the 3 s timeout used here). `xlimit stats` counts them as rejected. The
# same client over a drop limit instead times out. The sidecar's /metrics
# shows the rejected counter.
#
# A frame an XDP program sends back with XDP_TX on a veth reaches the
# peer only if the peer has an XDP program of its own (see DESIGN.md):
# the client's end gets the benchmarks' XDP_PASS program (bl_pass in
# build/bench/baseline.bpf.o), which changes nothing else.

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"
NETUTIL=$E2E_DIR/netutil.py
XDP_PASS_OBJ=$XL_TOP/build/bench/baseline.bpf.o
SIDECAR_BIN=${SIDECAR_BIN:-$XL_TOP/build/xlimit-sidecar}
METRICS=127.0.0.1:9100

PORT=8080
SRV4=198.18.0.2
SRV6=2001:2::2
TIMEOUT=3 # seconds a connect() may take before it counts as timed out

xl_test_init
if [ ! -f "$XDP_PASS_OBJ" ]; then
	fail "$XDP_PASS_OBJ is not built (make build/bench/baseline.bpf.o)"
	summary
	exit 1
fi
xl_netns_setup

jp() { "$PY" "$NETUTIL" json "$1"; }

nsenter --net="/run/netns/$NS_SRV" "$PY" "$NETUTIL" serve "$PORT" &
SERVER_PID=$!
XL_CLEANUPS+=("kill $SERVER_PID")
xl_wait_listen "$NS_SRV" "$PORT"
assert_eq "$(in_srv ss -Hltn "( sport = :$PORT )" | wc -l)" 1 "test server listens on $PORT"

# The client end's XDP_PASS program, so that XDP_TX frames reach it.
ip -n "$NS_CLI" link set dev "$VETH_CLI" xdpdrv object "$XDP_PASS_OBJ" program bl_pass
assert_match "$(ip -n "$NS_CLI" -d link show "$VETH_CLI")" "prog/xdp id" \
	"the client's veth runs an XDP_PASS program"

syn_retransmits() {
	in_cli cat /proc/net/netstat |
		awk '/^TcpExt:/ { if (!c) { for (i = 1; i <= NF; i++) if ($i == "TCPSynRetrans") c = i } else print $c }'
}

# connect1 SRC: one connect() from SRC to the server's PORT; prints how it
# ended (ok, an errno name, timeout) and the seconds it took.
connect1() {
	local dst=$SRV4
	[[ $1 == *:* ]] && dst=$SRV6
	in_cli "$PY" "$NETUTIL" connect1 "$1" "$dst" "$PORT" "$TIMEOUT"
}

# stat NAME: the limited port's counter NAME in `xlimit stats --json`,
# polled (up to 3 s) until it is WANT, as frames are counted in softirq.
stat_is() {
	local name=$1 want=$2 got i
	for ((i = 0; i < 60; i++)); do
		got=$(xls stats --json | jp "[r['$name'] for r in d if r['port'] == $PORT][0]")
		[ "$got" == "$want" ] && break
		sleep 0.05
	done
	echo "$got"
}

# check_metrics: the sidecar's /metrics shows the 2 rejected SYNs.
check_metrics() {
	local pid got i
	nsenter --net="/run/netns/$NS_SRV" "$SIDECAR_BIN" --pin-dir "$XL_PIN" \
		--listen 127.0.0.1:8090 --upstream 127.0.0.1:$PORT \
		--metrics-listen "$METRICS" >"$XL_TMP/sidecar.log" 2>&1 &
	pid=$!
	XL_CLEANUPS+=("kill $pid 2>/dev/null")
	for ((i = 0; i < 100; i++)); do
		got=$(in_srv curl -s "http://$METRICS/metrics" |
			grep -F "xlimit_kernel_syns_total{port=\"$PORT\",result=\"rejected\"}")
		[ -n "$got" ] && break
		sleep 0.05
	done
	assert_eq "$got" "xlimit_kernel_syns_total{port=\"$PORT\",result=\"rejected\"} 2" \
		"the sidecar's /metrics shows the rejected SYNs"
	kill "$pid"
	wait "$pid" 2>/dev/null
}

run_mode() {
	local mode=$1 src how took retrans
	assert_rc 0 "$mode: attach $VETH_SRV" -- xls attach "$VETH_SRV" --mode "$mode"
	assert_rc 0 "$mode: limit set $PORT '1 per 30 seconds' --action reject" -- \
		xls limit set "$PORT" "1 per 30 seconds" --action reject
	for src in 198.18.0.1 2001:2::1; do
		read -r how took < <(connect1 "$src")
		assert_eq "$how" ok "$mode: $src: the first connection, within the limit, is established"
		retrans=$(syn_retransmits)
		read -r how took < <(connect1 "$src")
		assert_eq "$how" ECONNREFUSED "$mode: $src: the second connect() fails with ECONNREFUSED"
		if awk -v t="$took" 'BEGIN { exit !(t < 1.0) }'; then
			ok "$mode: $src: refused in ${took}s (< 1 s)"
		else
			fail "$mode: $src: refused in ${took}s, not < 1 s"
		fi
		assert_eq "$(syn_retransmits)" "$retrans" \
			"$mode: $src: the client did not retransmit its SYN"
	done
	assert_eq "$(stat_is rejected 2)" 2 "$mode: stats: 2 SYNs rejected"
	assert_eq "$(stat_is passed 2)" 2 "$mode: stats: 2 SYNs passed"
	assert_eq "$(stat_is dropped 0)" 0 "$mode: stats: none dropped"
	[ "$mode" == native ] && check_metrics

	# The same client over a drop limit: no answer at all.
	assert_rc 0 "$mode: limit set $PORT '1 per 30 seconds' (drop)" -- \
		xls limit set "$PORT" "1 per 30 seconds"
	connect1 198.18.0.1 >/dev/null # the one connection of the new rule
	read -r how took < <(connect1 198.18.0.1)
	assert_eq "$how" timeout "$mode: over a drop limit, connect() times out instead"

	assert_rc 0 "$mode: unload" -- xls unload
}

for m in native tc; do
	run_mode "$m"
done

summary
