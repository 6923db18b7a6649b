#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Runs every test suite of xlimit (what `make check` runs after building)
# and adds up their closing lines `N passed, N failed[, N skipped]` into
# one. A suite that ends without such a line counts as one failure. Each
# suite's full output goes to build/tests/<suite>.log; failures are shown.
set -u
cd "$(dirname "$0")/.."
mkdir -p build/tests
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

passed=0 failed=0 skipped=0

run_suite() {
	local name=$1 log=build/tests/$1.log line p f s start
	shift
	start=$(date +%s)
	"$@" >"$log" 2>&1
	line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $name: no summary line (see $log)"
		tail -n 20 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		return
	fi
	p=$(grep -oE '[0-9]+ passed' <<<"$line" | cut -d' ' -f1)
	f=$(grep -oE '[0-9]+ failed' <<<"$line" | cut -d' ' -f1)
	s=$(grep -oE '[0-9]+ skipped' <<<"$line" | cut -d' ' -f1)
	s=${s:-0}
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	printf '%-10s %s  (%ss)\n' "$name" "$line" "$(($(date +%s) - start))"
	grep -E '^(FAIL|SKIP)' "$log" | sed 's/^/    /'
}

format_check() {
	local bad
	bad=$(clang-format --dry-run -Werror $(git ls-files '*.c' '*.h' 2>/dev/null || find bpf user include tests -name '*.[ch]') 2>&1 | grep -oE '^[^:]+\.[ch]' | sort -u)
	if [ -n "$bad" ]; then
		echo "FAIL clang-format: $bad"
		echo "0 passed, 1 failed"
	else
		echo "ok   clang-format"
		echo "1 passed, 0 failed"
	fi
}

# untracked: the files in the source tree git does not track or ignore.
untracked() { git ls-files --others --exclude-standard 2>/dev/null | sort; }

# No suite may leave files in the source tree (a server's dump, a log):
# they would end up committed. Compared with what was there before.
tree_check() {
	local left
	left=$(comm -13 <(echo "$untracked_before") <(untracked))
	if [ -n "$left" ]; then
		echo "FAIL the suites left files in the source tree: $(echo $left)"
		echo "0 passed, 1 failed"
	else
		echo "ok   the suites left no files in the source tree"
		echo "1 passed, 0 failed"
	fi
}
untracked_before=$(untracked)

run_suite format format_check
run_suite parse sh -c '/usr/bin/python3 tests/unit/parse_oracle.py > build/tests/parse_corpus.txt && build/tests/test_parse build/tests/parse_corpus.txt'
run_suite limiter build/tests/test_limiter
run_suite accept build/tests/test_accept
run_suite handshake build/tests/test_handshake
run_suite lib build/tests/test_lib
run_suite route build/tests/test_route
run_suite opt build/tests/test_opt
run_suite redis build/tests/test_redis
run_suite bpf build/tests/test_bpf
# Briefly in `make check` (every regression tried was found from the
# committed seeds in under a second); `make fuzz` runs each for longer.
run_suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-10}" tests/fuzz/run.sh
for t in tests/cli/test_*.sh tests/e2e/test_*.sh; do
	[ -f "$t" ] && run_suite "$(basename "$t" .sh)" bash "$t"
done
run_suite tree tree_check

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
