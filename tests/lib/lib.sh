# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Shared shell helpers for xlimit's CLI and end-to-end tests: assertions
# that count passes and failures and print the closing line
# `N passed, N failed[, N skipped]`; throwaway network namespaces joined by
# a veth pair, addressed from 198.18.0.0/15 and 2001:2::/48 with no route
# out; a private pin directory, so that tests never touch a real
# installation's /sys/fs/bpf/xlimit (nor its lock file in /run/xlimit);
# and cleanup on exit, also of what an earlier crashed run left behind.
# Source it, then call xl_test_init.

XL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
XLIMIT_BIN=${XLIMIT_BIN:-$XL_TOP/build/xlimit}
PY=/usr/bin/python3 # Debian's, which has python3-limits

T_PASSED=0
T_FAILED=0
T_SKIPPED=0
T_NAME=""
XL_CLEANUPS=()

# --- assertions -----------------------------------------------------------

ok() { T_PASSED=$((T_PASSED + 1)); echo "ok   $*"; }
fail() { T_FAILED=$((T_FAILED + 1)); echo "FAIL $*"; }
skip() { T_SKIPPED=$((T_SKIPPED + 1)); echo "SKIP $*"; }

# assert_eq ACTUAL EXPECTED NAME
assert_eq() {
	if [ "$1" == "$2" ]; then ok "$3"; else fail "$3: got '$1', expected '$2'"; fi
}

# assert_match ACTUAL REGEX NAME
assert_match() {
	if [[ "$1" =~ $2 ]]; then ok "$3"; else fail "$3: '$1' does not match /$2/"; fi
}

# assert_rc EXPECTED_RC NAME -- COMMAND...: runs COMMAND, keeps its output
# in $OUT and $ERR.
assert_rc() {
	local want=$1 name=$2 rc
	shift 3
	OUT=$("$@" 2>"$XL_TMP/stderr") && rc=0 || rc=$?
	ERR=$(cat "$XL_TMP/stderr")
	if [ "$rc" == "$want" ]; then
		ok "$name"
	else
		fail "$name: exit $rc, expected $want (stderr: $ERR)"
	fi
}

# run_unchanged RC TEXT SNAP -- COMMAND...: runs COMMAND, keeps its output
# in $OUT and $ERR, and sets $WHY to what went wrong ("" if nothing): an
# exit other than RC, no TEXT on stderr, or a change in what the function
# SNAP prints (before: $XL_TMP/before, which the caller made; after:
# $XL_TMP/after).
run_unchanged() {
	local want=$1 text=$2 snapfn=$3 rc
	shift 4
	WHY=""
	OUT=$("$@" 2>"$XL_TMP/stderr") && rc=0 || rc=$?
	ERR=$(cat "$XL_TMP/stderr")
	"$snapfn" >"$XL_TMP/after"
	[ "$rc" == "$want" ] || WHY+="; exit $rc, expected $want"
	[[ "$ERR" == *"$text"* ]] || WHY+="; stderr does not say \"$text\""
	cmp -s "$XL_TMP/before" "$XL_TMP/after" ||
		WHY+="; changed: $(diff "$XL_TMP/before" "$XL_TMP/after" | head -c 600)"
}

# Forgets the snapshot that bad() keeps from one call to the next: to be
# called after anything else ran. (A stale one fails the next bad(), it
# cannot hide a change.)
snap_forget() { rm -f "$XL_TMP/before"; }

# bad TEXT NAME -- COMMAND...: COMMAND exits 2, says TEXT on stderr, prints
# nothing on stdout, and changes neither a map nor the pin directory, as
# the suite's own `snap` sees them.
bad() {
	local text=$1 name=$2
	shift 3
	[ -f "$XL_TMP/before" ] || snap >"$XL_TMP/before"
	run_unchanged 2 "$text" snap -- "$@"
	[ -z "$OUT" ] || WHY+="; printed on stdout: $OUT"
	if [ -z "$WHY" ]; then
		ok "bad input: $name"
	else
		fail "bad input: $name$WHY (stderr: $ERR)"
	fi
	mv "$XL_TMP/after" "$XL_TMP/before"
}

# xl_snap_maps MAP...: the pin directory's listing and the contents of
# the named maps in it, byte for byte (tests/lib/mapsnap.c): a snapshot
# for run_unchanged.
xl_snap_maps() {
	ls -a "$XL_PIN" 2>&1
	"$XL_TOP/build/tests/mapsnap" "$XL_PIN" "$@" 2>&1
}

summary() {
	if [ "$T_SKIPPED" -gt 0 ]; then
		echo "$T_PASSED passed, $T_FAILED failed, $T_SKIPPED skipped"
	else
		echo "$T_PASSED passed, $T_FAILED failed"
	fi
	[ "$T_FAILED" -eq 0 ]
}

# jget EXPR: EXPR (Python, over the JSON document d read from stdin); a
# string is printed as it is, anything else as compact JSON. Prints nothing
# (and fails) when stdin is not JSON.
jget() {
	"$PY" -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
' "$1"
}

# --- setup and cleanup -----------------------------------------------------

on_exit() {
	local i
	for ((i = ${#XL_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${XL_CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$XL_TMP"
}

# Runs xlimit against this test's own pin directory.
xl() { "$XLIMIT_BIN" --pin-dir "$XL_PIN" "$@"; }
# The same, inside the server's network namespace (same mount namespace, so
# the pins are the same: `ip netns exec` would remount /sys and lose them).
xls() { nsenter --net="/run/netns/$NS_SRV" "$XLIMIT_BIN" --pin-dir "$XL_PIN" "$@"; }
# Runs a command in the client's or the server's namespace of
# xl_netns_setup().
in_cli() { nsenter --net="/run/netns/$NS_CLI" "$@"; }
in_srv() { nsenter --net="/run/netns/$NS_SRV" "$@"; }

# xl_bg NAME CMD...: runs CMD (a program, not a function: its pid is the
# daemon's) in the background, logged to $XL_TMP/NAME.log, killed on exit.
xl_bg() {
	local name=$1 pid
	shift
	"$@" >"$XL_TMP/$name.log" 2>&1 &
	pid=$!
	XL_BG_PID=$pid # the last one started, for a test to signal it
	XL_CLEANUPS+=("kill -CONT $pid; kill $pid; wait $pid")
}

# xl_wait_gone PID SECONDS: polls until process PID has exited (0), or
# SECONDS went by with it still there (1).
xl_wait_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# xl_wait_listen NS PORT [N]: polls for 10 s until N (default 1) TCP
# sockets listen on PORT in network namespace NS (0), else 1.
xl_wait_listen() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(nsenter --net="/run/netns/$1" ss -Hltn "sport = :$2" | wc -l)" -ge "${3:-1}" ] &&
			return 0
		sleep 0.1
	done
	return 1
}

# xl_wait_up NAME URL [NS]: polls for 10 s until URL answers (any status),
# from network namespace NS if given; else fails, naming NAME with the end
# of its log ($XL_TMP/NAME.log), and ends the test.
xl_wait_up() {
	local i run=()
	[ -n "${3:-}" ] && run=(nsenter --net="/run/netns/$3")
	for ((i = 0; i < 100; i++)); do
		"${run[@]}" curl -s -o /dev/null --max-time 1 "$2" && return 0
		sleep 0.1
	done
	fail "$1 did not come up (log: $(tail -n 3 "$XL_TMP/$1.log" 2>/dev/null))"
	summary
	exit 1
}

# xl_nginx_conf LISTEN APP AUTH: $XL_TMP/nginx/nginx.conf, a private
# nginx (one worker, its files under $XL_TMP/nginx) running the shipped
# docs/nginx-xlimit.conf with nginx on LISTEN (ADDR:PORT), the
# application on APP and the sidecar's auth_request endpoint on AUTH.
xl_nginx_conf() {
	mkdir -p "$XL_TMP/nginx"
	sed -e "s/127.0.0.1:8080/$2/; s/127.0.0.1:9090/$3/" \
		-e "s/listen 80;/listen $1;/" \
		"$XL_TOP/docs/nginx-xlimit.conf" >"$XL_TMP/nginx/xlimit.conf"
	cat >"$XL_TMP/nginx/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $XL_TMP/nginx/nginx.pid;
error_log $XL_TMP/nginx/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $XL_TMP/nginx/body;
	proxy_temp_path $XL_TMP/nginx/proxy;
	fastcgi_temp_path $XL_TMP/nginx/fastcgi;
	uwsgi_temp_path $XL_TMP/nginx/uwsgi;
	scgi_temp_path $XL_TMP/nginx/scgi;
	include $XL_TMP/nginx/xlimit.conf;
}
EOF
}

# Removes what crashed runs left: namespaces and pin directories whose
# owning process is gone.
xl_reap_leftovers() {
	local ns pid d i
	for ns in $(ip netns list 2>/dev/null | awk '/^xlt[0-9]+-/ {print $1}'); do
		pid=${ns#xlt}
		pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null && continue
		# What the crashed run started in it (servers, daemons).
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	for d in /sys/fs/bpf/xltest_*; do
		[ -d "$d" ] || continue
		pid=${d##*_}
		pid=${pid%%[!0-9]*} # xltest_PID~new: a load staging it
		kill -0 "$pid" 2>/dev/null && continue
		"$XLIMIT_BIN" --pin-dir "$d" unload >/dev/null 2>&1
		rm -rf "$d" 2>/dev/null
	done
	# The systemd test_systemd boots (PID 1 of its own namespaces), in
	# cgroups named after the test's pid: killing it kills all under it.
	for d in /sys/fs/cgroup/xlimit-test-* /sys/fs/cgroup/*/xlimit-test-*; do
		[ -d "$d" ] || continue
		pid=${d##*-}
		kill -0 "$pid" 2>/dev/null && continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$d" ] || break
			sleep 0.02
		done
	done
	for d in /run/xlimit/sys-fs-bpf-xltest_*.lock; do
		[ -f "$d" ] || continue
		pid=${d%.lock}
		pid=${pid##*_}
		kill -0 "$pid" 2>/dev/null || rm -f "$d"
	done
}

# The lock file of the pin directory $1, an absolute path of letters,
# digits, '_' and '.' (see xl_lock in user/lib/pins.c).
xl_lock_file() { echo "/run/xlimit/$(sed 's,^/,,; s,/,-,g' <<<"$1").lock"; }

# xl_need COMMAND...: ends the suite with a failure when a command it
# needs is missing.
xl_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null && continue
		fail "needs $t (make deps; make)"
		summary
		exit 1
	done
}

xl_test_init() {
	if [ "$(id -u)" != 0 ]; then
		echo "FAIL these tests need root (sudo make check)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	if [ ! -x "$XLIMIT_BIN" ]; then
		echo "FAIL $XLIMIT_BIN is not built (make)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	XL_TMP=$(mktemp -d)
	XL_PIN=/sys/fs/bpf/xltest_$$
	trap on_exit EXIT
	trap 'exit 130' INT TERM
	xl_reap_leftovers
	XL_CLEANUPS+=("'$XLIMIT_BIN' --pin-dir '$XL_PIN' unload; rm -rf '$XL_PIN' '$(xl_lock_file "$XL_PIN")'")
}

# xl_netns_setup: a client namespace $NS_CLI (198.18.0.1, 2001:2::1) and a
# server namespace $NS_SRV (198.18.0.2, 2001:2::2) joined by veth
# $VETH_CLI <-> $VETH_SRV, with permanent neighbour entries and no route
# beyond the link. Extra client addresses: 198.18.0.3-9, 2001:2::3-9.
xl_netns_setup() {
	local id=xlt$$-$RANDOM
	NS_CLI=$id-c
	NS_SRV=$id-s
	VETH_CLI=xlc$RANDOM
	VETH_SRV=xls$RANDOM
	XL_CLEANUPS+=("ip netns del $NS_CLI; ip netns del $NS_SRV")
	ip netns add "$NS_CLI"
	ip netns add "$NS_SRV"
	ip link add "$VETH_CLI" netns "$NS_CLI" type veth peer name "$VETH_SRV" netns "$NS_SRV"
	local n
	for n in "$NS_CLI" "$NS_SRV"; do
		ip -n "$n" link set lo up
		ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0
	done
	ip -n "$NS_CLI" addr add 198.18.0.1/24 dev "$VETH_CLI"
	ip -n "$NS_SRV" addr add 198.18.0.2/24 dev "$VETH_SRV"
	ip -n "$NS_CLI" addr add 2001:2::1/64 dev "$VETH_CLI" nodad
	ip -n "$NS_SRV" addr add 2001:2::2/64 dev "$VETH_SRV" nodad
	for n in 3 4 5 6 7 8 9; do
		ip -n "$NS_CLI" addr add 198.18.0.$n/24 dev "$VETH_CLI"
		ip -n "$NS_CLI" addr add 2001:2::$n/64 dev "$VETH_CLI" nodad
	done
	ip -n "$NS_CLI" link set "$VETH_CLI" up
	ip -n "$NS_SRV" link set "$VETH_SRV" up
	local mac_c mac_s
	mac_c=$(ip -n "$NS_CLI" -br link show "$VETH_CLI" | awk '{print $3}')
	mac_s=$(ip -n "$NS_SRV" -br link show "$VETH_SRV" | awk '{print $3}')
	ip -n "$NS_CLI" neigh replace 198.18.0.2 lladdr "$mac_s" dev "$VETH_CLI" nud permanent
	ip -n "$NS_CLI" neigh replace 2001:2::2 lladdr "$mac_s" dev "$VETH_CLI" nud permanent
	for n in 1 3 4 5 6 7 8 9; do
		ip -n "$NS_SRV" neigh replace 198.18.0.$n lladdr "$mac_c" dev "$VETH_SRV" nud permanent
		ip -n "$NS_SRV" neigh replace 2001:2::$n lladdr "$mac_c" dev "$VETH_SRV" nud permanent
	done
}
