#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Attacks on the datapath, end to end: SYNs the kernel takes for a new
# connection although the datapath, reading only whole, shallow, linear
# headers, would not see them (see tests/e2e/attack.py): tiny IPv4 and
# IPv6 first fragments, RFC 1858's overlapping fragments, an IPv6 chain of
# seven extension headers, three VLAN tags, and in tc mode a SYN with data
# whose headers are not in the linear part of the socket buffer. Each is
# injected as raw frames from the client's namespace and the client's link
# is watched for the server's SYN-ACK.
#
# First without xlimit: each attack does open a connection (a SYN-ACK
# comes back), so it is real on this kernel; the overlap attack does not
# (the kernel discards overlapping fragments: that is what makes non-first
# fragments safe to pass). Then with port 8080 limited to 0 per hour, in
# native XDP and in tc mode: no attack may yield a SYN-ACK, and the
# counters say how each was stopped.
#
# Then LRU eviction: a client over "100 per hour" on port 8081 stays over
# after spoofed (source, port) keys from tests/bench/synflood.c, 100,000 a
# round, pushed it out of the state map (default size, 262,144).

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"
NETUTIL=$E2E_DIR/netutil.py
ATTACK=$E2E_DIR/attack.py
SYNFLOOD=$XL_TOP/build/bench/synflood

LPORT=8080 # limited to 0
UPORT=9090 # no rule
EPORT=8081 # 100 per hour, the eviction test
SRV4=198.18.0.2
SRV6=2001:2::2
SRC4=198.18.0.9
SRC6=2001:2::9
WAIT=1 # seconds to wait for a SYN-ACK

xl_test_init
if [ ! -x "$SYNFLOOD" ]; then
	fail "$SYNFLOOD is not built (make check builds it)"
	summary
	exit 1
fi
xl_netns_setup
MAC_SRV=$(ip -n "$NS_SRV" -br link show "$VETH_SRV" | awk '{print $3}')
MAC_CLI=$(ip -n "$NS_CLI" -br link show "$VETH_CLI" | awk '{print $3}')

jp() { "$PY" "$NETUTIL" json "$1"; }

nsenter --net="/run/netns/$NS_SRV" "$PY" "$NETUTIL" serve $LPORT $UPORT $EPORT &
SERVER_PID=$!
XL_CLEANUPS+=("kill $SERVER_PID")
for ((i = 0; i < 200; i++)); do
	[ "$(in_srv ss -Hltn | wc -l)" -ge 3 ] && break
	sleep 0.05
done
assert_eq "$(in_srv ss -Hltn | wc -l)" 3 "test server listens"

# attack KIND PORT: "synack" if the server answered the attack's SYN on
# PORT, else "none". Every attack gets a source port of its own, which is
# also its fragments' identification: an attack whose first fragment was
# dropped leaves its other fragment waiting for reassembly, and a later
# attack must not complete it. (It runs in $(...): the count lives in a
# file.)
echo 41000 >"$XL_TMP/sport"
attack() {
	local src=$SRC4 dst=$SRV4 sport
	[[ $1 == frag6-* || $1 == chain6-* ]] && src=$SRC6 dst=$SRV6
	sport=$(($(cat "$XL_TMP/sport") + 1))
	echo "$sport" >"$XL_TMP/sport"
	in_cli "$PY" "$ATTACK" send "$1" "$VETH_CLI" "$MAC_SRV" "$src" "$dst" "$2" "$sport" "$WAIT"
}

KINDS="frag4-8 frag4-16 frag6-8 chain6-7 vlan3"

# --- without xlimit: the attacks are real ----------------------------------------

assert_eq "$(attack plain $LPORT)" synack "no xlimit: a plain SYN opens a connection"
for k in frag4-8 frag4-16 chain6-7 vlan3; do
	assert_eq "$(attack "$k" $LPORT)" synack "no xlimit: $k opens a connection"
done
# The kernel itself refuses these two: the datapath's drop of IPv6 tiny
# fragments is a second line (for kernels without RFC 8200's rule), and
# the overlap rule is what lets non-first fragments pass.
assert_eq "$(attack frag6-8 $LPORT)" none \
	"no xlimit: an IPv6 first fragment without the whole TCP header is discarded by the kernel"
assert_eq "$(attack frag4-ovl $LPORT)" none \
	"no xlimit: overlapping fragments rewriting the flags to SYN are discarded by the kernel"

# --- stats helpers ----------------------------------------------------------------

# stat PORT NAME: a counter of `xlimit stats --json` (PORT "null": the row
# of frames without a port).
stat() {
	xls stats --json | jp "[r['$2'] for r in d if str(r['port']).replace('None', 'null') == '$1'][0]"
}

# check_stat PORT NAME WANT WHAT: polls (3 s) for frames still in softirq.
check_stat() {
	local got i
	for ((i = 0; i < 60; i++)); do
		got=$(stat "$1" "$2")
		[ "$got" == "$3" ] && break
		sleep 0.05
	done
	assert_eq "$got" "$3" "$4"
}

# --- each mode: no attack opens a connection on the limited port ------------------

# run_attacks MODE DEEP: DEEP is the deep_dropped count expected after
# the round (the row of frames without a port is never reset).
run_attacks() {
	local mode=$1 deep=$2
	assert_rc 0 "$mode: attach" -- xls attach "$VETH_SRV" --mode "$mode"
	assert_rc 0 "$mode: limit $LPORT to 0 per hour" -- xls limit set $LPORT "0 per hour"
	assert_eq "$(attack plain $UPORT)" synack "$mode: a plain SYN to a port without a rule is answered"
	assert_eq "$(attack plain $LPORT)" none "$mode: a plain SYN to the limited port is dropped"
	for k in $KINDS; do
		assert_eq "$(attack "$k" $LPORT)" none "$mode: $k to the limited port opens no connection"
	done
	assert_eq "$(attack frag4-ovl $LPORT)" none "$mode: overlapping fragments open no connection"
	# A tiny fragment that holds its port passes where no rule applies.
	assert_eq "$(attack frag4-8 $UPORT)" synack "$mode: frag4-8 to a port without a rule is answered"
	check_stat $LPORT frag_dropped 3 "$mode: frag_dropped on $LPORT: frag4-8, frag4-16, frag6-8"
	if [ "$mode" == native ]; then
		check_stat null deep_dropped "$deep" "$mode: deep_dropped: chain6-7, vlan3"
		check_stat $LPORT seen 1 "$mode: the plain SYN was the one SYN seen"
	else
		# The kernel moves the outer tag out of the frame before tc:
		# tc sees two tags and counts the SYN behind them.
		check_stat null deep_dropped "$deep" "$mode: deep_dropped: chain6-7"
		check_stat $LPORT seen 2 "$mode: the plain SYN and the one behind the tags were seen"
	fi
}

run_attacks native 2

# --- eviction: a client over its limit stays over ---------------------------------

# The kernel's LRU map keeps a key it has just inserted on the local
# list of the CPU that inserted it until that CPU next takes a free node;
# only then can it be evicted. A veth peer's XDP runs on the sender's CPU,
# so the client's SYNs and the flood are sent from one CPU: a flood
# processed only on another would never flush the client's key (on a
# loaded machine the scheduler can keep them apart for ten rounds).
CPU=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
assert_rc 0 "limit $EPORT to 100 per hour" -- xls limit set $EPORT "100 per hour"
# 101 SYNs at once: 100 connections; 0.5 s is less than the SYN
# retransmission time, so each connect() is one SYN.
assert_eq "$(in_cli taskset -c "$CPU" "$PY" "$NETUTIL" connect 198.18.0.1 $SRV4 $EPORT 101 0.5)" 100 \
	"100 of 101 connections at once"
assert_eq "$(in_cli "$PY" "$NETUTIL" connect 198.18.0.1 $SRV4 $EPORT 1 0.5)" 0 \
	"the client is over its limit"
assert_eq "$(xls query 198.18.0.1 $EPORT --json | jp 'd["limits"][0]["remaining"]')" 0 \
	"query: 0 remaining"

# 100,000 sources of 198.18.0.0/15 at a time, on one limited port after
# another (port 0's rule covers the others): 100,000 new keys a round into
# a map of 262,144, until the client's key is gone (at most 10 rounds).
# Whether it is there is read with a plain map lookup from userspace,
# which does not mark the key as used, as the datapath's lookups do.
assert_rc 0 "limit port 0 to 100 per hour" -- xls limit set 0 "100 per hour"
flood() {
	in_cli taskset -c "$CPU" "$SYNFLOOD" --ifname "$VETH_CLI" --src-mac "$MAC_CLI" --dst-mac "$MAC_SRV" \
		--dst $SRV4 --dport "$1" --src-base 198.18.1.0 --sources 100000 \
		--count 100000 --seconds 30 >/dev/null
}
# ::ffff:198.18.0.1, port 8081 (little-endian), pad
KEY="0 0 0 0 0 0 0 0 0 0 0xff 0xff 198 18 0 1 0x91 0x1f 0 0"
tracked() { bpftool map lookup pinned "$XL_PIN/xl_state" key $KEY >/dev/null 2>&1; }
remaining() { xls query 198.18.0.1 $EPORT --json | jp 'd["limits"][0]["remaining"]'; }
assert_rc 0 "the client's key is in the state map" -- tracked
for ((round = 1; round <= 10; round++)); do
	flood $((10000 + round))
	tracked || break
done
echo "# the client was evicted after $round rounds of 100,000 new keys"
cap=$(xls status --json | jp 'd["max_sources"]')
assert_eq "$cap" 262144 "the state map has its default size"
# The premise: the client's state is gone (a read finds no window).
assert_eq "$(remaining)" 100 "the flood evicted the client's state"
forgotten=$(xls status --json | jp 'd["clients_forgotten"]')
if [ "$forgotten" -ge 30000 ]; then ok "status: $forgotten clients forgotten"; else
	fail "status: $forgotten clients forgotten, expected 30000 or more"
fi
assert_eq "$(xls status --json | jp 'd["clients_restored"]')" 0 "status: no client restored yet"
assert_eq "$(in_cli "$PY" "$NETUTIL" connect 198.18.0.1 $SRV4 $EPORT 1 0.5)" 0 \
	"the evicted client is still over its limit"
assert_eq "$(remaining)" 0 "query: 0 remaining again"
check_stat $EPORT clients_restored 1 "stats: one client restored over its limit"
assert_eq "$(xls status --json | jp 'd["clients_restored"]')" 1 "status: one client restored"
assert_eq "$(in_cli "$PY" "$NETUTIL" connect 198.18.0.3 $SRV4 $EPORT 1 0.5)" 1 \
	"another client is not locked out"
xls limit del 0 >/dev/null
# A changed rule starts its clients afresh, xl_over included.
xls limit set $EPORT "100 per 2 hours" >/dev/null
assert_eq "$(in_cli "$PY" "$NETUTIL" connect 198.18.0.1 $SRV4 $EPORT 1 0.5)" 1 \
	"after a rule change the client starts afresh"

# --- tc mode, and a SYN whose headers are not linear -------------------------------

xls detach "$VETH_SRV" >/dev/null
ip -n "$NS_CLI" link set "$VETH_CLI" mtu 9000
ip -n "$NS_SRV" link set "$VETH_SRV" mtu 9000
assert_eq "$(attack tfo $LPORT)" synack "no xlimit: a SYN with 6000 bytes of data opens a connection"
xls limit del $LPORT >/dev/null # a fresh stats slot for the tc round
run_attacks tc 3
assert_eq "$(attack tfo $LPORT)" none "tc: a SYN with data, headers beyond the linear part, is counted and dropped"
check_stat $LPORT seen 3 "tc: the SYN with data was seen"

summary
