#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Tests that load, attach and unload are all-or-nothing, through the real
# binary on a private pin directory. Failures are injected at each step of
# a load: an interface that does not exist, native XDP on an interface
# without it (lo, in a throwaway network namespace), a state map the kernel
# cannot allocate (--max-sources in a memory cgroup too small for it), an
# object of another kind where the staging directory or one pin must go, a
# directory of foreign objects, a pin directory that is a mount point; each
# must exit with its code and a clear
# message, leave the pin directory exactly as it was (absent, or the same
# objects with the same ids) and leave nothing attached. A staging
# directory left by a killed load is cleaned up by the next one. An unload
# that cannot detach everything keeps the maps and programs and says what
# stays. And `ip netns exec NS xlimit ...`, whose mount namespace has a
# /sys of its own without bpffs, pins in the bpffs of the shell that ran
# it: the host sees the pins, later commands (there or on the host) find
# them, unload removes them; where no bpffs is mounted anywhere, it is
# refused with exit 2 and a pointer to nsenter.

set -u
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$CLI_DIR/../lib/lib.sh"

xl_test_init
STAGE=$XL_PIN~new
XL_CLEANUPS+=("rm -rf '$STAGE'")
NS=xlt$$-$RANDOM-l
XL_CLEANUPS+=("ip netns del $NS")
ip netns add "$NS"
ip -n "$NS" link set lo up
# xlimit in the namespace, with the test's pin directory
xln() { nsenter --net="/run/netns/$NS" "$XLIMIT_BIN" --pin-dir "$XL_PIN" "$@"; }

# What a whole load pins (its maps and programs), taken from a plain load,
# so that the checks below follow the object as it grows.
xl load >/dev/null || fail "a plain load"
WHOLE=$(ls "$XL_PIN" | tr '\n' ' ')
xl unload >/dev/null || fail "a plain unload"
assert_match "$WHOLE" "^(prog|xl)_" "a plain load pins maps and programs ($WHOLE)"

# --- helpers -------------------------------------------------------------------

# The kernel id of the object pinned at $1 (map, program or link).
pin_id() {
	local kind id
	for kind in map prog link; do
		id=$(bpftool -j "$kind" show pinned "$1" 2>/dev/null | grep -oE '"id":[0-9]+' | head -n 1)
		[ -n "$id" ] && echo "$kind $id" && return
	done
	echo "?"
}

# Everything a command could leave behind: the pin directory's objects and
# their ids, the staging directory's, and what is attached in $NS.
state() {
	local d f
	for d in "$XL_PIN" "$STAGE"; do
		if [ ! -e "$d" ]; then
			echo "$d: absent"
			continue
		fi
		echo "$d:"
		for f in "$d"/*; do
			[ -e "$f" ] && echo "  $(basename "$f") $(pin_id "$f")"
		done
	done
	ip -n "$NS" -d link show lo | grep -E 'xdp|prog/' || echo "lo: no xdp"
	nsenter --net="/run/netns/$NS" bpftool net show
}

# fails RC TEXT NAME -- COMMAND...: COMMAND exits RC, says TEXT on stderr,
# and state() is the same before and after.
fails() {
	local want=$1 text=$2 name=$3
	shift 4
	state >"$XL_TMP/before"
	run_unchanged "$want" "$text" state -- "$@"
	if [ -z "$WHY" ]; then
		ok "$name"
	else
		fail "$name$WHY (stderr: $ERR)"
	fi
}

# A foreign map (an array where xlimit has other types) pinned at $1.
foreign_map() {
	bpftool map create "$1" type array key 4 value 4 entries 1 name xlt_foreign
}

# in_memcg BYTES COMMAND...: runs COMMAND in a memory cgroup of its own
# limited to BYTES, whose charges include BPF maps. Returns 125 when no
# memory cgroup can be made here.
in_memcg() {
	local bytes=$1 cg limit rc
	shift
	if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		cg=/sys/fs/cgroup$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
		limit=memory.max
	else
		cg=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
		limit=memory.limit_in_bytes
	fi
	cg=$cg/xlt$$-$RANDOM
	mkdir "$cg" 2>/dev/null || return 125
	XL_CLEANUPS+=("rmdir '$cg'")
	echo "$bytes" >"$cg/$limit" || return 125
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cg" "$@" && rc=0 || rc=$?
	rmdir "$cg"
	return $rc
}

# --- failures of a first load: nothing is left ------------------------------------

fails 2 "no interface named 'nosuchif0'" "attach an interface that does not exist: nothing made" \
	-- xln attach nosuchif0
fails 1 "native XDP is not supported" "attach --mode native where the driver has none: nothing made" \
	-- xln attach lo --mode native
fails 1 "native XDP is not supported" "attach --mode native --max-sources: nothing made" \
	-- xln attach lo --mode native --max-sources 1000

in_memcg 64M true
if [ $? == 125 ]; then
	skip "--max-sources the kernel cannot allocate: no memory cgroup can be made here"
else
	fails 1 "use a smaller --max-sources" "load --max-sources 4000000 in a 64 MiB cgroup (ENOMEM): nothing made" \
		-- in_memcg 64M "$XLIMIT_BIN" --pin-dir "$XL_PIN" load --max-sources 4000000
	fails 1 "use a smaller --max-sources" "attach --max-sources 4000000 in a 64 MiB cgroup (ENOMEM): nothing made" \
		-- in_memcg 64M nsenter --net="/run/netns/$NS" "$XLIMIT_BIN" --pin-dir "$XL_PIN" \
		attach lo --mode generic --max-sources 4000000
fi

# Something of another kind where the staging directory goes.
foreign_map "$STAGE"
fails 1 "$STAGE is in the way" "load with a foreign map where the staging directory goes: refused, untouched" \
	-- xl load
fails 1 "$STAGE is in the way" "attach with a foreign map where the staging directory goes: refused, untouched" \
	-- xln attach lo --mode generic
rm -f "$STAGE"

# A pin directory holding a foreign object under a name of xlimit's: part
# of an installation, which load must neither complete nor remove.
mkdir "$XL_PIN"
foreign_map "$XL_PIN/prog_tc"
fails 1 "holds part of an xlimit" "load over a pin directory with a foreign prog_tc: refused, untouched" \
	-- xl load
fails 1 "run 'xlimit unload'" "attach over it: refused, untouched" -- xln attach lo --mode generic
rm -f "$XL_PIN/prog_tc"
# ... and only objects that are not xlimit's: not its directory.
foreign_map "$XL_PIN/other"
fails 2 "holds objects that are not xlimit's (other)" "load into a directory of foreign objects: refused, untouched" \
	-- xl load
rm -f "$XL_PIN/other"
rmdir "$XL_PIN"

# A staging directory left by a killed load (it holds only xlimit's names)
# is removed by the next load, which then succeeds.
mkdir "$STAGE"
foreign_map "$STAGE/xl_rules"
assert_rc 0 "load after a killed one left its staging directory" -- xl load
assert_eq "$(ls -d "$STAGE" 2>&1 >/dev/null | grep -c 'No such file')" 1 "the leftover staging directory is gone"
assert_eq "$(ls "$XL_PIN" | tr '\n' ' ')" "$WHOLE" "the pin directory is whole: every map and program"
assert_rc 0 "unload" -- xl unload

# An empty pin directory (made by hand) is filled.
mkdir "$XL_PIN"
assert_rc 0 "load into an empty directory" -- xl load
assert_eq "$(ls "$XL_PIN" | tr '\n' ' ')" "$WHOLE" "the empty directory is filled"

# A pin directory that is a mount point of its own: nowhere beside it to
# build on the same filesystem. Refused; use a directory inside it.
MNT=$XL_TMP/bpfmnt
mkdir "$MNT"
mount -t bpf bpf "$MNT"
XL_CLEANUPS+=("umount -l '$MNT'; rm -f '$(xl_lock_file "$(realpath "$MNT")")' '$(xl_lock_file "$(realpath "$MNT")/xlimit")'")
before=$(ls -A "$MNT")
assert_rc 2 "load --pin-dir a bpffs mount point: refused" -- "$XLIMIT_BIN" --pin-dir "$MNT" load
assert_match "$ERR" "is a mount point.*--pin-dir $MNT/xlimit" "the refusal says to use a directory inside it"
assert_eq "$(ls -A "$MNT")" "$before" "nothing was pinned in the mount point"
assert_rc 0 "load --pin-dir a directory inside it" -- "$XLIMIT_BIN" --pin-dir "$MNT/xlimit" load
assert_rc 0 "unload it" -- "$XLIMIT_BIN" --pin-dir "$MNT/xlimit" unload

# --- failures over a loaded xlimit: it stays as it was -----------------------------

fails 1 "native XDP is not supported" "attach --mode native over a loaded xlimit: same objects, same ids" \
	-- xln attach lo --mode native
fails 2 "no interface named 'nosuchif0'" "attach nosuchif0 over a loaded xlimit: unchanged" \
	-- xln attach nosuchif0
fails 2 "already exists with" "load --max-sources 1000 over another size: unchanged" \
	-- xl load --max-sources 1000

# An unload that cannot detach something (a foreign map pinned as a link)
# keeps the maps and programs, says what stays, and removes nothing.
foreign_map "$XL_PIN/link_xltfake0"
fails 1 "stays attached" "unload that cannot detach one link: nothing removed" -- xl unload
assert_match "$ERR" "left $XL_PIN in place with the maps and programs" "the refusal says what remains"
# A detach of two where one fails detaches the other and names the one.
assert_rc 0 "attach lo --mode generic" -- xln attach lo --mode generic
assert_rc 1 "detach of an attached and an undetachable interface" -- xln detach lo xltfake0
assert_match "$ERR" "detach xltfake0: .*: Invalid argument; it stays attached" "detach says which stays attached"
assert_eq "$(ip -n "$NS" -d link show lo | grep -c xdpgeneric)" 0 "the other one is detached"
rm -f "$XL_PIN/link_xltfake0"
assert_rc 0 "unload once that is removed" -- xl unload
assert_eq "$(ls -d "$XL_PIN" 2>/dev/null)" "" "unload removed the pin directory"

# --- ip netns exec ------------------------------------------------------------------

# ip netns exec runs the command in a mount namespace of its own, with a
# fresh /sys and no bpffs on /sys/fs/bpf: pins made there would vanish.
assert_rc 0 "ip netns exec NS xlimit load" -- ip netns exec "$NS" "$XLIMIT_BIN" --pin-dir "$XL_PIN" load
assert_eq "$(ls "$XL_PIN" 2>/dev/null | tr '\n' ' ')" "$WHOLE" "the host sees the pins of a load run by ip netns exec"
assert_rc 0 "ip netns exec NS xlimit attach lo --mode generic" \
	-- ip netns exec "$NS" "$XLIMIT_BIN" --pin-dir "$XL_PIN" attach lo --mode generic
assert_eq "$(ls "$XL_PIN" | grep -c '^link_lo$')" 1 "the host sees the link pinned by ip netns exec"
assert_eq "$(ip -n "$NS" -d link show lo | grep -c xdpgeneric)" 1 "lo in the namespace runs xlimit"
assert_rc 0 "ip netns exec NS xlimit status --json" \
	-- ip netns exec "$NS" "$XLIMIT_BIN" --pin-dir "$XL_PIN" status --json
assert_match "$OUT" '"name":"lo","ifindex":1,"mode":"generic","here":true' \
	"status run by ip netns exec finds the attachment"
assert_rc 0 "ip netns exec NS xlimit limit set" \
	-- ip netns exec "$NS" "$XLIMIT_BIN" --pin-dir "$XL_PIN" limit set 80 10/second
assert_rc 0 "the host's xlimit limit list" -- xl limit list
assert_match "$OUT" "10 per 1 second" "the host sees the limit set by ip netns exec"
assert_rc 0 "ip netns exec NS xlimit unload" -- ip netns exec "$NS" "$XLIMIT_BIN" --pin-dir "$XL_PIN" unload
assert_eq "$(ls -d "$XL_PIN" 2>/dev/null)" "" "unload run by ip netns exec removed the host's pins"
assert_eq "$(ip -n "$NS" -d link show lo | grep -c xdp)" 0 "and detached lo"

# Where the namespace ip netns exec was run from has no bpffs either (a PID
# and mount namespace of the test's own, with /sys/fs/bpf unmounted), the
# pins could only vanish: refused with exit 2, nothing mounted or made.
got=$(unshare -m -p -f --mount-proc --propagation private bash -c '
	for i in 1 2 3 4 5 6 7 8; do mountpoint -q /sys/fs/bpf || break; umount -l /sys/fs/bpf; done
	mountpoint -q /sys/fs/bpf && { echo "still mounted"; exit 1; }
	ip netns exec "$3" "$1" --pin-dir "$2" load 2>&1
	echo "exit $?"
	echo "mounted: $(stat -f -c %T /sys/fs/bpf)"' _ "$XLIMIT_BIN" "$XL_PIN" "$NS" 2>&1)
assert_match "$got" "exit 2" "ip netns exec load with no bpffs anywhere: exit 2"
assert_match "$got" "nsenter --net=/run/netns/NAME" "the refusal points to nsenter"
assert_match "$got" "mounted: sysfs" "nothing was mounted"
assert_eq "$(ls -d "$XL_PIN" 2>/dev/null)" "" "no pin directory on the host"

summary
