#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Flood benchmark: a SYN flood through a veth pair between two throwaway
# network namespaces (198.18.0.0/15, no route out), the same generator
# (synflood, AF_PACKET + PACKET_QDISC_BYPASS + sendmmsg) for every row,
# against: no filter, a bare XDP_DROP program (the ceiling), xlimit in
# native XDP, generic XDP and tc mode, nftables and iptables hashlimit,
# all limiting port 80 to the same 1 SYN per minute per (source, port);
# each with one flooding source and with 100,000 forged ones.
#
# On a veth the receiver's work runs in the NET_RX softirq of the CPU
# that sends, so generator and receiver share one core (the generator is
# pinned to CPU 0). rxcost measures the softirq time on that core: the
# receiver's CPU time per SYN, and from it the most SYNs per second one
# core could take through each filter. Each row runs PASSES times,
# interleaved, and the median is reported. Prints a Markdown section;
# writes build/bench/flood.tsv for the plot.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/lib.sh

SECS=${BENCH_FLOOD_SECS:-2}
PASSES=${BENCH_FLOOD_PASSES:-3}
LIMIT_CLI="1 per minute" # the same limit for every filter
BIN=build/bench
OUT=$BIN/flood.tsv
RAW=$BIN/flood.raw

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

# --- the filters -----------------------------------------------------------

setup_filter() {
	case $1 in
	none) ;;
	xdp-drop)
		nsenter --net="/run/netns/$NS_SRV" bpftool net attach xdpdrv \
			pinned "$BPIN/bl_drop" dev "$VETH_SRV"
		;;
	xlimit-*)
		xls load && xls limit set 80 "$LIMIT_CLI" >/dev/null &&
			xls attach "$VETH_SRV" --mode "${1#xlimit-}" >/dev/null
		;;
	nftables)
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
		;;
	iptables)
		nssrv iptables -t raw -A PREROUTING -p tcp --dport 80 --syn \
			-m hashlimit --hashlimit-name xlbench \
			--hashlimit-mode srcip,dstport --hashlimit-above 1/minute \
			--hashlimit-burst 1 --hashlimit-htable-size 262144 \
			--hashlimit-htable-max 262144 \
			--hashlimit-htable-expire 120000 -j DROP
		;;
	esac
}

teardown_filter() {
	case $1 in
	xdp-drop)
		nsenter --net="/run/netns/$NS_SRV" bpftool net detach xdpdrv \
			dev "$VETH_SRV"
		;;
	xlimit-*) xls unload >/dev/null ;;
	nftables | iptables) nssrv nft flush ruleset ;;
	esac
}

rx_packets() { nssrv cat "/sys/class/net/$VETH_SRV/statistics/rx_packets"; }
# SYNs that got past the filter: every one reaches tcp_v4_rcv.
tcp_insegs() {
	nssrv awk '/^Tcp:/ { if (n++) { for (i = 1; i <= NF; i++) \
		if (h[i] == "InSegs") print $i } else for (i = 1; i <= NF; i++) \
		h[i] = $i }' /proc/net/snmp
}

GEN=(ip netns exec "$NS_CLI" taskset -c 0 $BIN/synflood
	--ifname "$VETH_CLI" --src-mac "$MAC_C" --dst-mac "$MAC_S"
	--dst 198.18.0.2 --dport 80 --src-base 198.18.16.0)

# flood FILTER SOURCES PASS: one bounded run, one line in $RAW. A first
# SYN from every source goes before it, so that the timed flood comes
# from sources that have used their quota (and fill the filter's table).
flood() {
	local rx0 in0 out sent secs ns
	"${GEN[@]}" --sources "$2" --count "$2" --seconds 30 >/dev/null
	rx0=$(rx_packets)
	in0=$(tcp_insegs)
	out=$($BIN/rxcost -- "${GEN[@]}" --sources "$2" --seconds "$SECS")
	sent=$(grep -oP '^sent=\K[0-9]+' <<<"$out")
	secs=$(grep -oP ' seconds=\K[0-9.]+' <<<"$out")
	ns=$(grep -oP '^cpu0_net_rx_ns=\K[0-9]+' <<<"$out")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$sent" \
		"$secs" $(($(rx_packets) - rx0)) $(($(tcp_insegs) - in0)) \
		"$ns" >>"$RAW"
}

FILTERS="none xdp-drop xlimit-native xlimit-generic xlimit-tc nftables iptables"
: >"$RAW"
for pass in $(seq "$PASSES"); do
	for src in 1 100000; do
		for f in $FILTERS; do
			if ! setup_filter "$f"; then
				echo "bench_flood: cannot set up $f" >&2
				teardown_filter "$f" 2>/dev/null
				continue
			fi
			flood "$f" "$src" "$pass"
			teardown_filter "$f"
		done
	done
done

# --- the table ----------------------------------------------------------------
$PY - "$RAW" "$OUT" "$SECS" "$PASSES" <<'EOF'
import statistics as st, sys
raw, out, secs, passes = sys.argv[1:5]
rows = {}
for line in open(raw):
    f, src, _, sent, t, rx, passed, ns = line.split("\t")
    rows.setdefault((f, int(src)), []).append(
        (int(sent) / float(t), int(rx) / float(t),
         int(passed) / max(int(rx), 1), int(ns) / max(int(rx), 1)))
names = {"none": "no filter", "xdp-drop": "bare XDP_DROP (ceiling)",
         "xlimit-native": "xlimit, native XDP",
         "xlimit-generic": "xlimit, generic XDP", "xlimit-tc": "xlimit, tc",
         "nftables": "nftables (prerouting, raw)",
         "iptables": "iptables hashlimit (raw)"}
med = {}
print("| filter | sources | generator kpps | received kpps | passed to TCP"
      " | receiver ns/SYN | receiver capacity Mpps | vs ceiling |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
tsv = open(out, "w")
for src in (1, 100000):
    ceil = None
    for f in names:
        r = rows.get((f, src))
        if not r:
            continue
        m = [st.median(x[i] for x in r) for i in range(4)]
        med[(f, src)] = m
        cap = 1e3 / m[3]
        if f == "xdp-drop":
            ceil = cap
        vs = "%.0f%%" % (100 * cap / ceil) if ceil else ""
        print("| %s | %s | %.0f | %.0f | %.2f%% | %.0f | %.2f | %s |" % (
            names[f], f"{src:,}", m[0] / 1e3, m[1] / 1e3, 100 * m[2],
            m[3], cap, vs))
        tsv.write('"%s"\t%d\t%.1f\t%.3f\n' % (names[f], src, m[3], cap))
print()
print("Targets (receiver capacity, from its CPU time per SYN):")
print()
for src in (1, 100000):
    g = lambda f: 1e3 / med[(f, src)][3] if (f, src) in med else float("nan")
    x, c, n, i = g("xlimit-native"), g("xdp-drop"), g("nftables"), g("iptables")
    ok = lambda v, t: "met" if v >= t else "**missed**"
    print(f"- {src:,} source(s): native XDP at {100 * x / c:.0f}% of the "
          f"XDP_DROP ceiling (target ≥ 90%: {ok(x / c, 0.9)}); "
          f"{x / n:.2f}× nftables, {x / i:.2f}× iptables "
          f"(target ≥ 3×: {ok(min(x / n, x / i), 3)})")
EOF
cat <<EOF

Method: \`tests/bench/bench_flood.sh\`; ${PASSES} interleaved passes of ${SECS} s
per row, medians. The generator (\`tests/bench/synflood.c\`, one core) is the
bottleneck of every row with a filter that drops early: on a veth the
receiver's whole path runs in the NET_RX softirq of the sending CPU, so
generator and receiver share CPU 0 and the offered rate is what is left of
that core. The comparison therefore rests on the receiver's CPU time per
SYN, measured exactly (not sampled) as NET_RX softirq time on CPU 0
(\`tests/bench/rxcost.bpf.c\`, on the softirq entry/exit tracepoints),
divided by the frames the receiving veth took in; capacity is 1 s divided
by it, what one core of this machine could take through that filter.
"Passed to TCP" is the share of received SYNs that reached TCP (the
receiver's \`Tcp InSegs\`), the rest was dropped by the filter. Every
filter limits port 80 to 1 SYN per minute per (source, port), and one
SYN from every source goes before each timed run, so the flood comes from
sources over their limit and the filter's table holds all of them: xlimit
\`limit set 80 "$LIMIT_CLI"\`, nftables \`limit rate over 1/minute burst 1
packets\` in a dynamic set keyed by \`ip saddr . tcp dport\`, iptables
\`hashlimit --hashlimit-mode srcip,dstport --hashlimit-above 1/minute
--hashlimit-burst 1\`; state tables sized for 262,144 keys. Native XDP on
a veth is not native XDP on a NIC: the veth hands the program a socket
buffer it must first copy into a page (its headroom is too small), which
every XDP row, the ceiling included, pays.
EOF
