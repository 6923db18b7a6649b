#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# A SYN flood from forged sources against a well-behaved client, end to
# end. Three namespaces: the server's, joined by one veth pair to the
# client's (198.18.0.1) and by another to the flooder's; xlimit is
# attached in native XDP to both of the server's ends (one state). The
# flooder sends SYNs from 100,000 distinct forged sources of
# 198.18.16.0 - 198.19.150.159 as fast as it can (tests/bench/synflood.c,
# AF_PACKET), while the client, which completed connections before the
# flood began, opens one connection every 100 ms, well under its own
# limit. Its success rate is printed for three rules of the port:
#
#  - "100/second" --total "50/second" --admit-known: the flood is dropped
#    over the ceiling, the client is known and gets through: at least 99 %
#    (asserted), and no forged source became known;
#  - the same --total alone: the flood keeps the ceiling exceeded and the
#    client's SYNs are dropped with it (asserted below 50 %: the ceiling's
#    50 SYNs a second are gone within a millisecond of each window);
#  - no ceiling: every forged source is new and passes its own limit, the
#    kernel answers with SYN cookies; printed only (it depends on how the
#    two CPUs share the flood and the client).

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"
NETUTIL=$E2E_DIR/netutil.py
SYNFLOOD=$XL_TOP/build/bench/synflood

PORT=18090
SRV4=198.18.0.2
FLOOD_SECS=20 # at most, per run: stopped once the client is done
ATTEMPTS=50  # client connections per run, one every 100 ms
SOURCES=100000

xl_test_init
if [ ! -x "$SYNFLOOD" ]; then
	fail "$SYNFLOOD is not built (make check builds it)"
	summary
	exit 1
fi
xl_netns_setup

# The flooder's namespace, joined to the server's by a veth of its own.
NS_FLD=${NS_CLI%-c}-f
VETH_F=xlf$RANDOM
VETH_G=xlg$RANDOM
XL_CLEANUPS+=("ip netns del $NS_FLD")
ip netns add "$NS_FLD"
ip link add "$VETH_F" netns "$NS_FLD" type veth peer name "$VETH_G" netns "$NS_SRV"
ip -n "$NS_FLD" addr add 198.18.2.1/24 dev "$VETH_F"
ip -n "$NS_SRV" addr add 198.18.2.2/24 dev "$VETH_G"
ip -n "$NS_FLD" link set "$VETH_F" up
ip -n "$NS_SRV" link set "$VETH_G" up
MAC_F=$(ip -n "$NS_FLD" -br link show "$VETH_F" | awk '{print $3}')
MAC_G=$(ip -n "$NS_SRV" -br link show "$VETH_G" | awk '{print $3}')


in_srv "$PY" "$NETUTIL" serve $PORT &
SERVER_PID=$!
XL_CLEANUPS+=("kill $SERVER_PID")
xl_wait_listen "$NS_SRV" "$PORT"
assert_eq "$(in_srv ss -Hltn | wc -l)" 1 "the server listens"

assert_rc 0 "attach to the client's link" -- xls attach "$VETH_SRV" --mode native
assert_rc 0 "attach to the flooder's link" -- xls attach "$VETH_G" --mode native

# client N TIMEOUT: N connections from 198.18.0.1, one started every
# 100 ms whatever became of the others, each given TIMEOUT seconds (less
# than the 1 s after which the kernel sends a dropped SYN again: one SYN
# per attempt); prints how many were established.
client() {
	in_cli "$PY" -c '
import selectors, socket, sys, time
n, timeout = int(sys.argv[1]), float(sys.argv[2])
sel = selectors.DefaultSelector()
ok = started = 0
start = time.monotonic()
pending = {}
while started < n or pending:
    now = time.monotonic()
    if started < n and now >= start + 0.1 * started:
        s = socket.socket()
        s.setblocking(False)
        s.bind(("198.18.0.1", 0))
        s.connect_ex(("'$SRV4'", '$PORT'))
        sel.register(s, selectors.EVENT_WRITE)
        pending[s] = now + timeout
        started += 1
    for key, _ in sel.select(0.01):
        s = key.fileobj
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            ok += 1
        sel.unregister(s)
        del pending[s]
        s.close()
    # Timed out: a connection past its end and not ready when the select
    # above looked (one established by then is reported, however late
    # this process got to run).
    for s, end in list(pending.items()):
        if now >= end:
            sel.unregister(s)
            del pending[s]
            s.close()
print(ok)
' "$1" "$2"
}

# stat NAME: the port's counter.
stat() {
	xls stats --json | jget "[r['$1'] for r in d if r['port'] == $PORT][0]"
}

# run WHAT -- LIMIT ARGS...: sets the rule, lets the client connect 5
# times before the flood, then floods and runs the client through it; the
# flood (at most FLOOD_SECS) must outlast the client, and is stopped then.
# Sets RATE (percent established).
run() {
	local what=$1 got seen0 seen end
	shift 2
	assert_rc 0 "$what: limit set $PORT $*" -- xls limit set $PORT "$@"
	assert_eq "$(client 5 1)" 5 "$what: 5 connections before the flood"
	seen0=$(stat seen)
	# nsenter execs the generator: $! is its pid, for kill.
	nsenter --net="/run/netns/$NS_FLD" "$SYNFLOOD" --ifname "$VETH_F" --src-mac "$MAC_F" --dst-mac "$MAC_G" \
		--dst $SRV4 --dport $PORT --src-base 198.18.16.0 --sources $SOURCES \
		--seconds $FLOOD_SECS >/dev/null 2>&1 &
	FLOOD_PID=$!
	XL_CLEANUPS+=("kill $FLOOD_PID")
	# The flood is on once the datapath has seen 1,000 of its SYNs: the
	# client's run is measured only then (10 s at most, else the rates
	# below would be of a client without a flood).
	end=$((SECONDS + 10))
	until [ "$(($(stat seen) - seen0))" -ge 1000 ]; do
		if [ $SECONDS -ge $end ]; then
			fail "$what: the flood did not reach the datapath in 10 s"
			break
		fi
		sleep 0.05
	done
	got=$(client $ATTEMPTS 0.9)
	if kill "$FLOOD_PID" 2>/dev/null; then
		ok "$what: the flood lasted the client's whole run"
	else
		fail "$what: the flood ended before the client's run did (FLOOD_SECS=$FLOOD_SECS)"
	fi
	wait "$FLOOD_PID" 2>/dev/null
	seen=$(($(stat seen) - seen0))
	RATE=$((100 * got / ATTEMPTS))
	echo "# $what: the client established $got of $ATTEMPTS connections ($RATE %) during a flood of $seen SYNs from $SOURCES forged sources"
	if [ "$seen" -ge $((2 * SOURCES)) ]; then
		ok "$what: the datapath saw $seen SYNs of the flood: its $SOURCES sources, twice over"
	else
		fail "$what: the datapath saw $seen SYNs of the flood, fewer than twice its $SOURCES sources"
	fi
}

# --- with the protection: --total and --admit-known ------------------------------

run "protected" -- "100/second" --total "50/second" --admit-known
PROTECTED=$RATE
if [ "$RATE" -ge 99 ]; then
	ok "protected: the known client kept $RATE % of its connections (at least 99 %)"
else
	fail "protected: the known client kept $RATE % of its connections, expected at least 99 %"
fi
assert_eq "$(xls query 198.18.0.1 $PORT --json | jget 'd["known"]')" true \
	"protected: the client is known"
assert_eq "$(xls status --json | jget 'd["known_count"]')" 1 \
	"protected: no forged source became known (one known client)"
dropped=$(stat total_dropped)
if [ "$dropped" -ge $((SOURCES / 2)) ]; then
	ok "protected: $dropped SYNs dropped over the ceiling"
else
	fail "protected: $dropped SYNs dropped over the ceiling, expected $((SOURCES / 2)) or more"
fi
admitted=$(stat known_admitted)
if [ "$admitted" -ge 1 ]; then
	ok "protected: $admitted of the client's SYNs let past the exceeded ceiling"
else
	fail "protected: known_admitted is $admitted, expected the client's SYNs"
fi
# The ceiling let at most 50 new sources a second into the state map.
tracked=$(xls status --json | jget 'd["tracked"]')
if [ "$tracked" -le $((50 * (FLOOD_SECS + 2) + 1)) ]; then
	ok "protected: $tracked sources tracked: the flood did not churn the state map"
else
	fail "protected: $tracked sources tracked, expected at most $((50 * (FLOOD_SECS + 2) + 1))"
fi

# --- the ceiling alone ------------------------------------------------------------

run "--total alone" -- "100/second" --total "50/second"
TOTAL_ONLY=$RATE
if [ "$RATE" -lt 50 ]; then
	ok "--total alone: the client kept $RATE % (below 50 %): the ceiling the flood exhausted refuses it too"
else
	fail "--total alone: the client kept $RATE %, expected below 50 % (the flood keeps the ceiling exceeded)"
fi

# --- no ceiling -------------------------------------------------------------------

run "no ceiling" -- "100/second"
echo "# success rates: protected $PROTECTED %, --total alone $TOTAL_ONLY %, no ceiling $RATE %"
echo "# no ceiling: $(xls status --json | jget '"%d tracked of %d, %d clients forgotten" % (d["tracked"], d["max_sources"], d["clients_forgotten"])')"

summary
