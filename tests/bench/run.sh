#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Runs every benchmark (what `make bench` runs after `make bench-build`):
# each tests/bench/bench_*.sh prints a Markdown section, which this
# prints as it comes and gathers, with the machine it ran on, into
# docs/bench/results.md; the per-packet and flood rows are plotted into
# docs/bench/results.png (gnuplot). A benchmark that fails is reported
# and the others still run; the exit status says whether any failed.
set -u
cd "$(dirname "$0")/../.."
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

OUT=docs/bench
mkdir -p "$OUT" build/bench
RES=build/bench/results.md
export XL_BENCH_ALL=1
failed=0

title() {
	case $1 in
	micro) echo "Per-packet cost (BPF_PROG_TEST_RUN)" ;;
	flood) echo "SYN flood as from a NIC (XDP frames into a veth, threaded NAPI)" ;;
	memory) echo "Map memory per tracked source" ;;
	accuracy) echo "Accuracy (simulated clock)" ;;
	sidecar) echo "Sidecar" ;;
	*) echo "$1" ;;
	esac
}

{
	echo "<!-- SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) -->"
	echo "# xlimit benchmark results"
	echo
	echo "Written by \`make bench\` (tests/bench/run.sh) on $(date -u +%Y-%m-%d)."
	echo
	bash tests/bench/machine.sh
	echo "- OS: $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "- $(clang --version | head -n 1); $(nft --version 2>/dev/null);" \
		"$(iptables -V 2>/dev/null)"
	cut -d' ' -f1 /proc/loadavg >"$RES.load"
	echo "- Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" \
		"(other jobs share this machine: compare rows of one run, not" \
		"runs)"
} >"$RES"

start=$(date +%s)
# Ours in a fixed order, then any other bench_*.sh (e.g. the sidecar's).
for name in micro flood memory accuracy; do
	echo "tests/bench/bench_$name.sh"
done >build/bench/order
for f in tests/bench/bench_*.sh; do
	grep -qx "$f" build/bench/order || echo "$f" >>build/bench/order
done
while read -r f; do
	name=$(basename "$f" .sh)
	name=${name#bench_}
	echo "== $name"
	{
		echo
		echo "## $(title "$name")"
		echo
	} >>"$RES"
	t0=$(date +%s)
	if bash "$f" >build/bench/$name.md 2>build/bench/$name.log; then
		cat build/bench/$name.md | tee -a "$RES"
	else
		failed=1
		cat build/bench/$name.md >>"$RES"
		echo "bench: $f failed (see build/bench/$name.log):" >&2
		tail -n 10 build/bench/$name.log >&2
		echo "*$f failed on this run.*" >>"$RES"
	fi
	echo "   ($(($(date +%s) - t0)) s)"
	echo
done <build/bench/order

# The plot: per-packet cost and flood capacity, side by side.
if command -v gnuplot >/dev/null && [ -s build/bench/micro.tsv ] &&
	[ -s build/bench/flood.tsv ]; then
	awk -F'\t' '$2 == 1' build/bench/flood.tsv >build/bench/flood1.tsv
	awk -F'\t' '$2 == 100000' build/bench/flood.tsv >build/bench/flood100k.tsv
	gnuplot <<-EOF && echo "![results](results.png)" >>"$RES"
		set terminal pngcairo size 1400,700 font ",10" noenhanced
		set output "$OUT/results.png"
		set multiplot layout 1,2
		set style data histograms
		set style fill solid 0.8 border -1
		set boxwidth 0.8
		set grid ytics
		set yrange [0:*]
		set xtics rotate by -40 scale 0
		set bmargin 12
		set datafile separator "\t"
		set title "Per-packet cost, test_run (ns, lower is better)"
		set ylabel "ns per packet"
		plot "build/bench/micro.tsv" using 2:xtic(1) notitle lc rgb "#4477aa"
		set title "SYN flood, XDP frames into a veth: receiver capacity (Mpps, one core)"
		set ylabel "Mpps"
		plot "build/bench/flood1.tsv" using 4:xtic(1) title "1 source" \
			lc rgb "#4477aa", \
		     "build/bench/flood100k.tsv" using 4 title "100,000 sources" \
			lc rgb "#ee6677"
		unset multiplot
	EOF
else
	echo "bench: no plot (gnuplot missing, or a benchmark failed)" >&2
fi

cp "$RES" "$OUT/results.md"
# README.md's performance tables are this run's.
bash tests/bench/readme_tables.sh "$(cut -d' ' -f1 "$RES.load")"
echo "== wrote $OUT/results.md$([ -s "$OUT/results.png" ] && echo " and $OUT/results.png") in $(($(date +%s) - start)) s"
exit $failed
