#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# xlimit over the pins another version of it left, made for real with the
# kernel: xlimit attached (with a --max-sources of its own, which is no
# difference) and configured, then (a) one map's pin removed, as a version
# from before that map left it, (b) one map's pin replaced by a map of the
# same name with another value size (bpftool map create), as a version
# whose layout differed. Every command then refuses with exit 2, naming
# the pin directory, the map and how it differs, and changes neither a map
# nor the pin directory; attach and load too, before any pin is made or
# any interface gets a program. dump still prints the whole
# configuration while the maps it reads are as this version makes them,
# and names the one it cannot read otherwise. unload detaches and removes
# every pin, a map of a name this version does not know included. The
# recipe the message gives (dump, unload, apply) carries rules, ceilings,
# lists, settings, routes, max_sources and the interface over, and so does
# `xlimit upgrade` in one command; neither when dump cannot read a map.
# The sidecar does not start over another version's pins, and one running
# when they appear stops querying them, says so once, and takes this
# version's pins again after `xlimit upgrade`.

set -u
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$CLI_DIR/../lib/lib.sh"

MAPS="xl_rules xl_state xl_allow xl_deny xl_stats xl_config xl_over xl_vcache xl_sync xl_sync_seen xl_sync_events xl_total xl_known xl_routes xl_route_state xl_route_stats xl_ports xl_rslots"
OTHER="holds the pins of another version of xlimit"

xl_test_init
SIDECAR_BIN=${SIDECAR_BIN:-$XL_TOP/build/xlimit-sidecar}
xl_need bpftool curl "$SIDECAR_BIN"
xl_netns_setup

snap() {
	xl_snap_maps $MAPS
	ip -n "$NS_SRV" -d link show lo
	ip -n "$NS_SRV" -d link show "$VETH_SRV"
}

# A configuration of each kind: rules (one with a ceiling), both lists,
# a setting, routes, an interface, a state map of another size.
assert_rc 0 "attach with --max-sources" -- xls attach "$VETH_SRV" --max-sources 4096
assert_rc 0 "limit set" -- xl limit set 80 "10/second" --total "100/second"
assert_rc 0 "limit set another port" -- xl limit set 8080 "5 per minute" --action reject
assert_rc 0 "allow add" -- xl allow add 198.18.0.5 2001:2:0:1::/64
assert_rc 0 "deny add" -- xl deny add 198.18.0.9
assert_rc 0 "config set" -- xl config set ipv6-prefix 56
assert_rc 0 "route add" -- xl route add 8080 /api "3 per 10 seconds" --methods GET,POST
assert_rc 0 "status: the state map's size set at load is no difference" -- xls status
xls dump >"$XL_TMP/orig.conf"
assert_match "$(cat "$XL_TMP/orig.conf")" "max_sources = 4096" "dump: max_sources"
assert_match "$(cat "$XL_TMP/orig.conf")" "$VETH_SRV" "dump: the interface"
assert_match "$(cat "$XL_TMP/orig.conf")" "/api" "dump: the route"

# upgrade over this version's own pins: new programs, the same
# configuration.
# ... not while attached in another network namespace, which it would
# not attach again.
assert_rc 0 "attach in the client's namespace" -- \
	in_cli "$XLIMIT_BIN" --pin-dir "$XL_PIN" attach "$VETH_CLI" --mode generic
snap_forget
bad "xlimit is attached to $VETH_CLI in another network namespace" \
	"upgrade while attached in another namespace" -- xls upgrade
assert_rc 0 "detach in the client's namespace" -- \
	in_cli "$XLIMIT_BIN" --pin-dir "$XL_PIN" detach "$VETH_CLI"
prog_before=$(bpftool -j prog show pinned "$XL_PIN/prog_xdp" | jget 'd["id"]')
assert_rc 0 "upgrade over this version's pins" -- xls upgrade
assert_eq "$(xls dump)" "$(cat "$XL_TMP/orig.conf")" "upgrade: the configuration kept"
prog_after=$(bpftool -j prog show pinned "$XL_PIN/prog_xdp" | jget 'd["id"]')
[ -n "$prog_after" ] && [ "$prog_after" != "$prog_before" ] &&
	ok "upgrade: programs loaded anew" ||
	fail "upgrade: programs loaded anew: prog_xdp id $prog_before, then $prog_after"

# refused_everywhere TEXT: each command refuses, saying TEXT, the pin
# directory and the other version, and changes nothing.
refused_everywhere() {
	local text=$1 c
	local -a cmds=(
		"status" "limit list" "limit set 81 1/second" "limit del 80"
		"allow add 198.18.0.6" "deny list" "config show"
		"config set ipv6-prefix 64" "stats" "route list"
		"route add 8080 /b 1/second" "query 198.18.0.1 80" "top -n 5"
		"load" "attach lo" "attach $VETH_SRV" "apply $XL_TMP/orig.conf"
	)
	snap_forget
	for c in "${cmds[@]}"; do
		# shellcheck disable=SC2086
		bad "$text" "$c over another version's pins" -- xls $c
		assert_match "$ERR" "$XL_PIN $OTHER" "$c: names the pin directory and why"
	done
}

# --- (a) a map this version has is not pinned ------------------------------

rm "$XL_PIN/xl_route_state"
refused_everywhere "xl_route_state is missing"
assert_match "$ERR" "dump > FILE', 'xlimit --pin-dir $XL_PIN unload', 'xlimit --pin-dir $XL_PIN apply FILE'" \
	"the message gives the recipe, with the pin directory"
assert_rc 0 "dump without xl_route_state" -- xls dump
assert_eq "$OUT" "$(cat "$XL_TMP/orig.conf")" "dump without xl_route_state: the whole configuration"

# The recipe, for real.
xls dump >"$XL_TMP/carried.conf"
assert_rc 0 "recipe: unload" -- xl unload
assert_rc 0 "recipe: apply" -- xls apply "$XL_TMP/carried.conf"
assert_rc 0 "recipe: status works again" -- xls status
assert_rc 0 "recipe: dump" -- xls dump
assert_eq "$OUT" "$(cat "$XL_TMP/orig.conf")" "recipe: rules, lists, config, routes, max_sources and interface carried over"
assert_rc 0 "recipe: limit list" -- xl limit list
assert_match "$OUT" "80 +10 per 1 second" "recipe: the rule is in force"

# --- (b) a map of the layout of another version -----------------------------

# other_stats: xl_stats's pin replaced by a map of 8 bytes less a value,
# as another version's; $want is this version's value size.
other_stats() {
	local entries
	want=$(bpftool -j map show pinned "$XL_PIN/xl_stats" | jget 'd["bytes_value"]')
	entries=$(bpftool -j map show pinned "$XL_PIN/xl_stats" | jget 'd["max_entries"]')
	rm "$XL_PIN/xl_stats"
	bpftool map create "$XL_PIN/xl_stats" type percpu_array key 4 value $((want - 8)) \
		entries "$entries" name xl_stats
}
other_stats
refused_everywhere "xl_stats: value size $((want - 8)), this xlimit expects $want"
assert_rc 0 "dump with another xl_stats" -- xls dump
assert_eq "$OUT" "$(cat "$XL_TMP/orig.conf")" "dump with another xl_stats: the whole configuration"
bad "$OTHER" "status names upgrade" -- xls status
assert_match "$ERR" "with 'xlimit --pin-dir $XL_PIN upgrade', or by hand" "the message offers upgrade"

# upgrade: the same in one command, under the lock.
saved_before=$(ls /run/xlimit/upgrade-* 2>/dev/null | wc -l)
assert_rc 0 "upgrade over another xl_stats" -- xls upgrade
assert_match "$OUT" "upgraded" "upgrade says so"
assert_rc 0 "upgrade: status works again" -- xls status
assert_eq "$(bpftool -j map show pinned "$XL_PIN/xl_stats" | jget 'd["bytes_value"]')" "$want" \
	"upgrade: xl_stats is this version's"
assert_rc 0 "upgrade: dump" -- xls dump
assert_eq "$OUT" "$(cat "$XL_TMP/orig.conf")" "upgrade: rules, lists, config, routes, max_sources and interface kept"
assert_eq "$(ls /run/xlimit/upgrade-* 2>/dev/null | wc -l)" "$saved_before" "upgrade: its saved configuration removed"

# A map dump reads: dump names it, and says the recipe cannot start here.
rules=$(bpftool -j map show pinned "$XL_PIN/xl_rules" | jget 'd["bytes_value"]')
mv_rules="$XL_PIN/xl_rules"
rm "$mv_rules"
bpftool map create "$mv_rules" type hash key 2 value $((rules + 4)) entries 64 name xl_rules
snap_forget
bad "xl_rules: value size $((rules + 4)), this xlimit expects $rules" "dump over another xl_rules" -- xls dump
assert_match "$ERR" "'xlimit dump' .and 'xlimit upgrade'. cannot read xl_rules either" "dump: says it cannot read xl_rules"
assert_match "$ERR" "xl_rules: max_entries 64, this xlimit expects" "dump: and every other difference"
bad "'xlimit dump' (and 'xlimit upgrade') cannot read xl_rules" "upgrade over another xl_rules" -- xls upgrade

# unload removes it all, a map of a name this version does not make too.
bpftool map create "$XL_PIN/xl_gone" type array key 4 value 4 entries 1 name xl_gone
assert_rc 0 "unload over another version's pins" -- xl unload
assert_eq "$(ls -A "$XL_PIN" 2>&1 | head -c 300)" "ls: cannot access '$XL_PIN': No such file or directory" \
	"unload: the pin directory is gone"
assert_eq "$(ip -n "$NS_SRV" -d link show "$VETH_SRV" | grep -c 'prog/xdp')" "0" \
	"unload: $VETH_SRV has no XDP program left"

# --- the sidecar over another version's pins ----------------------------------
# Another version's query program reads another layout of the query: the
# sidecar does not start over its pins, and one that runs when they
# appear (a reload) stops asking the kernel, says why once, and takes
# this version's again after `xlimit upgrade`.

SCPORT=8081 # the rule of the sidecar's port applies to its requests
SIDECAR=(nsenter --net="/run/netns/$NS_SRV" "$SIDECAR_BIN" --pin-dir "$XL_PIN"
	--listen 127.0.0.1:$SCPORT --upstream 127.0.0.1:9 --workers 1)
# The X-RateLimit-Limit field of an answer of the sidecar (the
# application's port is closed: a 502 with the limit's fields), or none.
sc_limit() {
	nsenter --net="/run/netns/$NS_SRV" curl -s -o /dev/null -D - --max-time 5 \
		http://127.0.0.1:$SCPORT/ | tr -d '\r' | awk '/^X-RateLimit-Limit:/ { print $2 }'
}
assert_rc 0 "load for the sidecar" -- xl load
assert_rc 0 "a rule on the sidecar's port" -- xl limit set $SCPORT "100 per hour"
other_stats
assert_rc 1 "sidecar: does not start over another version's pins" -- timeout 10 "${SIDECAR[@]}"
assert_match "$ERR" "$XL_PIN $OTHER: xl_stats: value size $((want - 8)), this xlimit expects $want" \
	"sidecar: names the pins, the map and how it differs"
assert_match "$ERR" "upgrade" "sidecar: says how to upgrade"

assert_rc 0 "upgrade for the sidecar" -- xl upgrade
xl_bg sc "${SIDECAR[@]}"
xl_wait_listen "$NS_SRV" $SCPORT || fail "the sidecar listens on $SCPORT"
assert_eq "$(sc_limit)" "100" "sidecar over this version's pins: X-RateLimit-Limit"
# Another version loaded under the running sidecar: new programs, and a
# map of another layout.
assert_rc 0 "unload under the sidecar" -- xl unload
assert_rc 0 "load under the sidecar" -- xl load
assert_rc 0 "the rule again" -- xl limit set $SCPORT "50 per hour"
other_stats
# sc_poll COMMAND...: a request to the sidecar every 0.1 s, 10 s at most,
# until COMMAND succeeds (the sidecar compares the pinned program at most
# once a second, when a request comes).
sc_poll() {
	local i
	for ((i = 0; i < 100; i++)); do
		"$@" && return 0
		sc_limit >/dev/null
		sleep 0.1
	done
	return 1
}
sc_limit_is() { [ "$(sc_limit)" = "$1" ]; }
sc_poll grep -q "$OTHER" "$XL_TMP/sc.log"
for i in 1 2 3; do
	assert_eq "$(sc_limit)" "" "sidecar over another version's pins: no limit fields ($i)"
done
assert_eq "$(grep -c "$OTHER" "$XL_TMP/sc.log")" "1" \
	"sidecar: another version's pins said once, not per request"
assert_match "$(cat "$XL_TMP/sc.log")" "xl_stats: value size $((want - 8)), this xlimit expects $want" \
	"sidecar: the log names the map"
assert_rc 0 "upgrade under the sidecar" -- xl upgrade
sc_poll sc_limit_is 50
assert_eq "$(sc_limit)" "50" "sidecar after upgrade: this version's pins again, the rule in force"
assert_match "$(cat "$XL_TMP/sc.log")" "reopened its pins" "sidecar: says it reopened them"
assert_rc 0 "unload at the end" -- xl unload

summary
