#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Per-packet cost benchmark: runs build/bench/microbench (the xlimit XDP
# program and the baselines of baseline.bpf.c through
# bpf_prog_test_run_opts) and prints its Markdown section; leaves
# build/bench/micro.tsv for the plot.
set -u
cd "$(dirname "$0")/../.."
REPEAT=${BENCH_MICRO_REPEAT:-2000000}

./build/bench/microbench --repeat "$REPEAT" --tsv build/bench/micro.tsv ||
	exit 1
cat <<EOF

Method: \`build/bench/microbench --repeat $REPEAT\` (tests/bench/microbench.c).
Each row runs one crafted frame $REPEAT times inside the kernel with
\`bpf_prog_test_run_opts\`, 5 rounds, median of the kernel's own
per-run average (\`duration\`), so no syscall cost is in it. xlimit runs
with port 80 limited to 16711679 per hour (the hot source is never over),
port 81 to 1 per hour (its source is over after the first SYN), no rule
for port 82 nor port 0, and one allow-list entry (198.18.0.9). Frames are
IPv4 with 198.18.0.0/15 sources unless the row says IPv6. test_run repeats
one frame, so the churning rows go through \`bl_churn\`
(tests/bench/baseline.bpf.c), which writes a new 2001:2::/48 source into
the frame on every run and tail-calls the program under test; its
baseline is the same wrapper in front of parse-and-drop. The state map
holds 1,048,576 entries; one full cycle of sources fills it before the
timed cycles. With 1M sources a source's entry may or may not have
survived since the last cycle; with 2M, every SYN misses, inserts, and
evicts.
EOF
