# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The flood benchmark's setting (bench_flood.sh), sourced after
# tests/lib/lib.sh: two throwaway namespaces joined by a
# veth (198.18.0.0/15, no route out), the baseline programs loaded into a
# private pin directory ($BPIN), the same nftables and iptables limits,
# and the receiver's counters.

LIMIT_CLI="1 per minute" # the same limit for every filter
BIN=build/bench

xl_test_init >/dev/null
xl_netns_setup
BPIN=/sys/fs/bpf/xlbench_$$
XL_CLEANUPS+=("rm -rf $BPIN")
for d in /sys/fs/bpf/xlbench_*; do # left by a crashed run
	[ -d "$d" ] && ! kill -0 "${d##*_}" 2>/dev/null && rm -rf "$d"
done
mkdir -p "$BPIN"
bpftool prog loadall $BIN/baseline.bpf.o "$BPIN" type xdp || exit 1

nssrv() { ip netns exec "$NS_SRV" "$@"; }
MAC_S=$(ip -n "$NS_SRV" -br link show "$VETH_SRV" | awk '{print $3}')
MAC_C=$(ip -n "$NS_CLI" -br link show "$VETH_CLI" | awk '{print $3}')
# Forged sources must reach TCP when a filter passes them: no reverse
# path filter, and a route back (to the generator's namespace, which
# drops the RSTs: it owns none of those addresses).
nssrv sysctl -qw net.ipv4.conf.all.rp_filter=0 \
	net.ipv4.conf.default.rp_filter=0 "net.ipv4.conf.$VETH_SRV.rp_filter=0"
ip -n "$NS_SRV" route add 198.18.0.0/15 via 198.18.0.1

# The same job for nftables and iptables: port 80, 1 SYN per minute per
# (source, port), state for 262,144 keys.
nft_limit() {
	nssrv nft -f - <<-EOF
		table ip xlbench {
			set xlmeter {
				type ipv4_addr . inet_service
				size 262144
				flags dynamic,timeout
				timeout 2m
			}
			chain pre {
				type filter hook prerouting priority raw; policy accept;
				tcp dport 80 tcp flags & (syn | ack) == syn add @xlmeter { ip saddr . tcp dport limit rate over 1/minute burst 1 packets } drop
			}
		}
	EOF
}

ipt_limit() {
	nssrv iptables -t raw -A PREROUTING -p tcp --dport 80 --syn \
		-m hashlimit --hashlimit-name xlbench \
		--hashlimit-mode srcip,dstport --hashlimit-above 1/minute \
		--hashlimit-burst 1 --hashlimit-htable-size 262144 \
		--hashlimit-htable-max 262144 \
		--hashlimit-htable-expire 120000 -j DROP
}

rx_packets() { nssrv cat "/sys/class/net/$VETH_SRV/statistics/rx_packets"; }
# SYNs that got past the filter: every one reaches tcp_v4_rcv.
tcp_insegs() {
	nssrv awk '/^Tcp:/ { if (n++) { for (i = 1; i <= NF; i++) \
		if (h[i] == "InSegs") print $i } else for (i = 1; i <= NF; i++) \
		h[i] = $i }' /proc/net/snmp
}
