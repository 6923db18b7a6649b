#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Runs every built libFuzzer target build/fuzz/fuzz_NAME for FUZZ_SECONDS
# (default 20) seconds, starting from its committed seed corpus
# tests/fuzz/corpus/NAME/ (read only: new inputs go to a scratch
# directory). Any crash, leak, timeout or sanitizer report fails the
# target: the reproducer is kept under build/fuzz/artifacts/ and the
# command to replay it is printed. Ends with `N passed, N failed`.
#
# Usage: tests/fuzz/run.sh [NAME...]   (default: every built target)
# Environment: FUZZ_SECONDS, FUZZ_SEED (libFuzzer -seed), FUZZ_KEEP=1
# keeps the grown corpus in build/fuzz/grown/NAME/.
set -u
cd "$(dirname "$0")/../.."

SECONDS_EACH=${FUZZ_SECONDS:-20}
ARTIFACTS=build/fuzz/artifacts
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

if ! [[ "$SECONDS_EACH" =~ ^[1-9][0-9]*$ ]]; then
	echo "FAIL FUZZ_SECONDS must be a whole number of seconds, got '$SECONDS_EACH'"
	echo "0 passed, 1 failed"
	exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$ARTIFACTS"

# run_target NAME: fuzzes build/fuzz/fuzz_NAME, reports one ok or FAIL.
run_target() {
	local name=$1 bin=build/fuzz/fuzz_$1 seeds=tests/fuzz/corpus/$1
	local work=$TMP/$1 rc art execs speed before after
	if [ ! -x "$bin" ]; then
		fail "$name: $bin is not built (make $bin)"
		return
	fi
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		fail "$name: no seed corpus in $seeds"
		return
	fi
	mkdir -p "$work/corpus" "$work/art"
	before=$(ls "$seeds" | wc -l)
	# The first directory receives new inputs; the seeds are only read.
	# timeout: a hung fuzzer fails instead of stalling make check.
	timeout --kill-after=10 $((SECONDS_EACH + 120)) "$bin" \
		-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/art/" \
		${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
		"$work/corpus" "$seeds" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
	after=$((before + $(ls "$work/corpus" | wc -l)))
	art=$(ls "$work/art" 2>/dev/null | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$art" ] && [ -n "$execs" ]; then
		ok "$name: ${SECONDS_EACH}s, $execs runs ($speed exec/s), corpus $before -> $after"
		if [ "${FUZZ_KEEP:-0}" = 1 ]; then
			mkdir -p "build/fuzz/grown/$name"
			cp "$seeds"/* "$work/corpus"/* "build/fuzz/grown/$name/" 2>/dev/null
		fi
		return
	fi
	fail "$name: exit $rc after ${execs:-?} runs"
	grep -E 'ERROR:|runtime error:|SUMMARY:|fuzz_[a-z_]+: |Seed:' "$work/log" |
		head -n 12 | sed 's/^/    /'
	if [ -n "$art" ]; then
		cp "$work/art/$art" "$ARTIFACTS/$name-$art"
		echo "    reproducer: $ARTIFACTS/$name-$art ($(od -An -c -N 96 "$ARTIFACTS/$name-$art" | tr -s ' \n' ' '))"
		echo "    replay: $bin $ARTIFACTS/$name-$art"
	else
		tail -n 15 "$work/log" | sed 's/^/    /'
	fi
	cp "$work/log" "$ARTIFACTS/$name.log"
}

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for b in build/fuzz/fuzz_*; do
		[ -x "$b" ] && names+=("${b#build/fuzz/fuzz_}")
	done
	[ ${#names[@]} -eq 0 ] && fail "no fuzz target is built (make fuzz-build)"
fi
for n in "${names[@]}"; do
	run_target "$n"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
