#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Per-packet cost benchmark: runs build/bench/microbench (the xlimit XDP
# program, the reference counters and the ablation ladder of
# ladder.bpf.c, the baselines of baseline.bpf.c, all through
# bpf_prog_test_run_opts in one run) and prints its Markdown section;
# leaves build/bench/micro.tsv for the plot.
set -u
cd "$(dirname "$0")/../.."
REPEAT=${BENCH_MICRO_REPEAT:-1000000}
ROUNDS=${BENCH_MICRO_ROUNDS:-11}

# run.sh puts the machine at the top of the results.
[ -n "${XL_BENCH_ALL:-}" ] || { bash tests/bench/machine.sh && echo; }
./build/bench/microbench --repeat "$REPEAT" --rounds "$ROUNDS" --min --tsv build/bench/micro.tsv ||
	exit 1
cat <<EOF

Method: \`build/bench/microbench --repeat $REPEAT --rounds $ROUNDS --min\` (tests/bench/microbench.c),
every row from one run. Each row runs one crafted frame $REPEAT times
inside the kernel with \`bpf_prog_test_run_opts\`, $ROUNDS rounds, and
keeps the fastest round (noise on a shared machine only adds time: the
fastest round repeats within about 1 % from run to run where the median
moved by 10 %); the rows of one setup are timed interleaved (each round
calls every row once, starting one row further each round), and a ratio
is of the two rows' fastest rounds.
"ns/packet" is the call's CPU time (the thread's CPU clock, which stops
while the thread is preempted) less the median of 7 calls of 2
repetitions (the syscall, the frame's copies, and the switch of the XDP
dispatcher in and out that test_run makes for any repeat above 1: about
1 ms of CPU here), divided by the repetitions left: sub-ns resolution.
"test_run ns" is the kernel's own per-run average (\`duration\`), a
whole number of ns rounded down, kept as a cross-check: it should be
"ns/packet" rounded down, give or take the noise. "ns added" is over
parse-and-drop (parse-and-pass for the ACK and UDP rows, the wrapper
with parse-and-drop for the churn rows); "ratio" is to the row named in
"to".

The yardstick is the minimal per-source counter (\`ref_count_*\` in
tests/bench/baseline.bpf.c): the same parse, one LRU-hash lookup keyed by
(source, port), an insert on a miss, one atomic add, drop over a
threshold; with no clock, with \`bpf_ktime_get_ns\` and with
\`bpf_ktime_get_coarse_ns\`. xlimit's rows are compared with the counter
that reads the clock xlimit reads. The ladder rows are xlimit's own
decision (bpf/decide.h on xlimit's maps) cut after each step: what each
row adds over the one before is what that step costs.

xlimit runs with port 80 limited to 16711679 per hour (the hot source is
never over), port 81 to 1 per hour (its source is over after the first
SYN), no rule for port 82 nor port 0, and one allow-list entry
(198.18.0.9). Frames are IPv4 with 198.18.0.0/15 sources unless the row
says IPv6. test_run repeats one frame, so the churning rows go through
\`bl_churn\` (tests/bench/baseline.bpf.c), which writes a new 2001:2::/48
source into the frame on every run and tail-calls the program under
test. The state maps (xlimit's and the counter's) hold 1,048,576
entries; one full cycle of sources fills them before the timed cycles.
With 1M sources a source's entry may or may not have survived since the
last cycle; with 2M, every SYN misses, inserts, and evicts.
EOF
