#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# A change of rules that fails part way changes nothing. The failures are
# real, so that each step of a rule write (xl_rule_set() in
# user/lib/rules.c) fails after the steps before it wrote: a full xl_rules
# (filled with rules written by hand) refuses a new port after its stats
# slot was cleared and its ceiling written there; a map frozen with
# `bpftool map freeze`, which refuses every write from user space (the
# datapath still writes it), fails the steps after the rule switched: its
# old ceiling not cleared (xl_total frozen), its clients' counts not
# deleted (xl_state frozen). `limit set` and `limit del` exit 1, say what
# failed, and leave every map byte for byte as it was but xl_config's
# generation, which moves on once the datapath may have seen the change
# (it may have cached verdicts meanwhile), and only then. An `apply` that
# fails after it changed a port takes the change back.

set -u
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$CLI_DIR/../lib/lib.sh"

MAPS="xl_rules xl_state xl_allow xl_deny xl_stats xl_config xl_over xl_vcache xl_sync xl_sync_seen xl_sync_events xl_total xl_known xl_routes xl_route_state xl_route_stats xl_ports xl_rslots"

xl_test_init
xl_need bpftool

# Every map byte for byte, xl_config's generation (its last word) aside;
# the whole of it kept in $XL_TMP/raw.
snap() {
	xl_snap_maps $MAPS | tee "$XL_TMP/raw" |
		sed '/^== xl_config /{n;s/........$/<gen>/}'
}
# xl_config's generation in the last snap.
gen() { sed -n '/^== xl_config /{n;s/.*\(........\)$/\1/p}' "$XL_TMP/raw"; }

# The rules as the datapath reads them: for each port that has one, the
# xl_rslots entry its xl_ports entry points to (which of a slot's two
# entries that is, and what the other holds, aside).
seen() {
	"$XL_TOP/build/tests/mapsnap" "$XL_PIN" xl_ports xl_rslots | "$PY" -c '
import sys
maps, cur = {}, None
for line in sys.stdin:
    f = line.split()
    if f[0] == "==":
        cur = maps.setdefault(f[1], {})
    elif len(f) == 2 and f[1] != "zero":
        cur[int.from_bytes(bytes.fromhex(f[0]), "little")] = f[1]
for port, v in sorted(maps["xl_ports"].items()):
    r = int.from_bytes(bytes.fromhex(v[:8]), "little")
    idx = (r & 0x7fffffff) - 1
    print(port, "default" if r >> 31 else "own", maps["xl_rslots"].get(idx, "0"))
'
}
# What a rollback of apply restores: every map as snap() sees it, but
# xl_ports and xl_rslots as the datapath reads them.
snap_seen() {
	xl_snap_maps ${MAPS/ xl_ports xl_rslots/} | sed '/^== xl_config /{n;s/........$/<gen>/}'
	seen
}

# unchanged GEN TEXT NAME -- COMMAND...: COMMAND exits 1, says TEXT on
# stderr, and every map is as it was; xl_config's generation `moves` on
# (the datapath saw the change) or `stays` (it did not). Compared with
# the snapshot after the last call, as bad() does (snap_forget after
# anything else changed the maps).
unchanged() {
	local moves=$1 text=$2 name=$3 g
	shift 4
	[ -f "$XL_TMP/before" ] || snap >"$XL_TMP/before"
	g=$(gen)
	run_unchanged 1 "$text" snap -- "$@"
	if [ "$moves" == moves ] && [ "$(gen)" == "$g" ]; then
		WHY+="; xl_config's generation did not move"
	elif [ "$moves" == stays ] && [ "$(gen)" != "$g" ]; then
		WHY+="; xl_config's generation moved"
	fi
	if [ -z "$WHY" ]; then
		ok "$name"
	else
		fail "$name$WHY (stderr: $ERR)"
	fi
	mv "$XL_TMP/after" "$XL_TMP/before"
}

# bytes N V: N bytes of value V, as bpftool reads them.
bytes() { printf "$2 %.0s" $(seq "$1"); }

assert_rc 0 "load" -- xl load
assert_rc 0 "a rule with a ceiling" -- xl limit set 80 "10/second" --total "100/second"
assert_rc 0 "a rule without" -- xl limit set 443 "3/minute"
assert_rc 0 "another rule without" -- xl limit set 8080 "7/minute"
# A client of port 8080 with a count (198.18.0.1, v4-mapped).
assert_rc 0 "a client's count" -- bpftool map update pinned "$XL_PIN/xl_state" \
	key $(bytes 10 0) 255 255 198 18 0 1 0x90 0x1f 0 0 value 5 0 16 0 0 0 0 0 $(bytes 24 0)

# --- a full xl_rules: a new port's rule refused -----------------------------------

# Slot 3, the first free one, with counters and a ceiling a deleted rule
# left: a new port takes it, clears the counters and writes its ceiling
# there first. Then xl_rules, full of rules written by hand (all on slot
# 0, so that slots stay free), refuses the new port.
assert_rc 0 "stale counters in the first free slot" -- \
	bpftool map update pinned "$XL_PIN/xl_stats" key 3 0 0 0 value $(bytes 112 7)
assert_rc 0 "a stale ceiling there" -- \
	bpftool map update pinned "$XL_PIN/xl_total" key 3 0 0 0 value 1 $(bytes 175 0)
$PY - "$XL_PIN/xl_rules" $((1024 - 3)) >"$XL_TMP/fill" <<'PYEOF'
import struct, sys
pin, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    rule = struct.pack("<II", 1, 0) + struct.pack("<QQIIII", 1, 10**9, 0, 0, 0, 0) + bytes(32 * 3 + 8)
    print("map update pinned %s key %d %d value hex %s" % (pin, (20000 + i) & 255, (20000 + i) >> 8, " ".join("%02x" % b for b in rule)))
PYEOF
sed 's/^map update \(pinned [^ ]*\) \(key [0-9]* [0-9]*\) .*/map delete \1 \2/' "$XL_TMP/fill" >"$XL_TMP/unfill"
assert_rc 0 "fill xl_rules" -- bpftool batch file "$XL_TMP/fill"
unchanged stays "write the rule of port 9999" \
	"limit set: a new port's slot cleared and ceiling written, the rule refused: both are back" -- \
	xl limit set 9999 "5/second" --total "50/second"
assert_rc 0 "empty xl_rules of what filled it" -- bpftool batch file "$XL_TMP/unfill"
snap_forget

# --- xl_total and xl_state frozen: the rule is written, what follows fails ------

assert_rc 0 "freeze xl_total" -- bpftool map freeze pinned "$XL_PIN/xl_total"
assert_rc 0 "freeze xl_state" -- bpftool map freeze pinned "$XL_PIN/xl_state"
unchanged moves "clear the ceiling of port 80" \
	"limit set: the rule switched, its old ceiling not cleared: the rule is back" -- \
	xl limit set 80 "10/second"
unchanged moves "clear the ceiling of port 80" \
	"limit del: the rule gone, its ceiling not cleared: the rule is back" -- \
	xl limit del 80
unchanged moves "clear the old counts of port 8080" \
	"limit set: the rule switched, its clients' counts not deleted: the rule is back" -- \
	xl limit set 8080 "8/minute"

# apply: port 443 changes (and is written), then port 8443's ceiling
# fails. apply writes the state before back as a new change, so port 443
# points to the other entry of its slot, which holds its rule as before.
cat >"$XL_TMP/fail.conf" <<EOF
ports = (
  { port = 80; limits = ( { limit = "10/second"; } ); total = "100/second"; },
  { port = 443; limits = ( { limit = "4/minute"; } ); },
  { port = 8080; limits = ( { limit = "7/minute"; } ); },
  { port = 8443; limits = ( { limit = "1/second"; } ); total = "9/second"; }
);
EOF
snap_seen >"$XL_TMP/before"
run_unchanged 1 "write the ceiling of port 8443" snap_seen -- xl apply "$XL_TMP/fail.conf"
assert_match "$OUT" "port 443: rule set" "apply changed port 443 before it failed"
assert_eq "$WHY" "" "apply: a port changed, the next one's ceiling refused: the change is taken back"

summary
