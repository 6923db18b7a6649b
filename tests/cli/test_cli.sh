#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Tests of the xlimit command line, through the real binary on a private
# pin directory. Every command that needs xlimit loaded refuses, with exit
# 2 and a hint to attach, before `load`; load and unload are idempotent;
# every subcommand answers --help. With xlimit attached to a veth in a
# throwaway namespace and a few real SYNs sent through it, each command's
# output (and its --json form, read with Python's json module) is checked
# field by field: status, limit set/add/del/list, parse, the allow and
# deny lists (IPv4 and IPv6, in address order), config, stats (once and
# --watch) and query. A corpus of bad inputs (ports, CIDRs, limit strings,
# actions, modes, interfaces, commands, options, missing arguments) must
# each exit 2, name the bad value on stderr, print nothing on stdout and
# leave every map and the pin directory exactly as they were (compared
# through `bpftool map dump` before and after). Commands started in
# parallel while the test holds the pin directory's lock file must all wait
# for it, then all land; loads and unloads racing all succeed and leave the
# directory whole or absent. Rules written with bpftool (nlimits 0 or
# 2^32-1, a period past 100 years, a slot out of range) are flagged, never
# trusted. A --pin-dir off bpffs is refused without mounting anything; bpffs
# is mounted on /sys/fs/bpf only (checked in a mount namespace of its own).

set -u
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$CLI_DIR/../lib/lib.sh"

MAPS="xl_rules xl_state xl_allow xl_deny xl_stats xl_config xl_over xl_vcache xl_sync xl_sync_seen xl_sync_events xl_total xl_known xl_routes xl_route_state xl_route_stats xl_ports xl_rslots"
SRV4=198.18.0.2
HINT="run 'xlimit attach IFACE'"

xl_test_init

# --- helpers -------------------------------------------------------------------

# Everything xlimit keeps: the pin directory and every map's content.
snap() { xl_snap_maps $MAPS; }

# syn SRC PORT N: N connection attempts, one after the other, from SRC in
# the client namespace to the server's PORT (where nothing listens: a SYN
# that passes is answered by a RST at once). A dropped SYN is given up
# after 0.3 s, before the kernel would send it again (1 s), so that every
# attempt is exactly one SYN.
syn() {
	nsenter --net="/run/netns/$NS_CLI" "$PY" -c '
import socket, sys
src, dst, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for _ in range(n):
    s = socket.socket()
    s.settimeout(0.3)
    s.bind((src, 0))
    try:
        s.connect((dst, port))
    except OSError:
        pass
    s.close()
' "$1" "$SRV4" "$2" "$3"
}

# --- before load: nothing to act on ---------------------------------------------

snap_forget
bad "$HINT" "status before load" -- xl status
bad "$HINT" "status --json before load" -- xl status --json
bad "$HINT" "limit set before load" -- xl limit set 80 10/second
bad "$HINT" "limit add before load" -- xl limit add 80 10/second
bad "$HINT" "limit del before load" -- xl limit del 80
bad "$HINT" "limit list before load" -- xl limit list
bad "$HINT" "allow add before load" -- xl allow add 198.18.0.0/24
bad "$HINT" "allow del before load" -- xl allow del 198.18.0.0/24
bad "$HINT" "allow list before load" -- xl allow list
bad "$HINT" "deny add before load" -- xl deny add 2001:2::/48
bad "$HINT" "deny list before load" -- xl deny list --json
bad "$HINT" "config set before load" -- xl config set ipv6-prefix 64
bad "$HINT" "upgrade before load" -- xl upgrade
bad "$HINT" "config show before load" -- xl config show
bad "$HINT" "stats before load" -- xl stats
bad "$HINT" "query before load" -- xl query 198.18.0.1 80
bad "$HINT" "top before load" -- xl top
assert_eq "$(ls -d "$XL_PIN" 2>/dev/null)" "" \
	"no command before load created the pin directory"

# --- --help --------------------------------------------------------------------

while read -r args; do
	# shellcheck disable=SC2086 # word splitting wanted
	assert_rc 0 "$args --help: exit 0" -- xl $args --help
	if [[ "$OUT" == *"Usage: xlimit"* && -z "$ERR" ]]; then
		ok "$args --help: usage on stdout"
	else
		fail "$args --help: usage on stdout: '$OUT' (stderr: '$ERR')"
	fi
done <<'EOF'
load
attach
detach
unload
upgrade
status
limit
limit set
limit add
limit del
limit list
parse
allow
allow add
allow del
allow list
deny
deny add
deny del
deny list
config
config set
config show
stats
query
top
EOF
assert_rc 0 "xlimit --help: exit 0" -- "$XLIMIT_BIN" --help
assert_match "$OUT" "Usage: xlimit" "xlimit --help: usage on stdout"
assert_rc 0 "xlimit help: exit 0" -- "$XLIMIT_BIN" help

# --- load (idempotent), attach to a veth in a namespace ---------------------------

# (unload, also twice, is at the end.)
assert_rc 0 "load --max-sources 5000" -- xl load --max-sources 5000
assert_eq "$(cd "$XL_PIN" && echo *)" \
	"prog_query prog_route prog_sockops prog_tc prog_xdp xl_allow xl_config xl_deny xl_known xl_over xl_ports xl_route_state xl_route_stats xl_routes xl_rslots xl_rules xl_state xl_stats xl_sync xl_sync_events xl_sync_seen xl_total xl_vcache" \
	"load pins the programs and the maps"
assert_rc 0 "load again" -- xl load --max-sources 5000
assert_rc 0 "load again, without --max-sources" -- xl load

xl_netns_setup
assert_rc 0 "attach $VETH_SRV" -- xls attach "$VETH_SRV"
assert_match "$OUT" "^$VETH_SRV: attached \(native\)$" "attach says where and how"
assert_rc 0 "attach again: already attached" -- xls attach "$VETH_SRV"
assert_match "$OUT" "already attached \(native\)" "attach again says so"
assert_rc 0 "load after attach: nothing to do" -- xl load
snap_forget
bad "already exists with 5000 entries" "load --max-sources 1000 over a map of 5000" \
	-- xl load --max-sources 1000
assert_eq "$(cd "$XL_PIN" && echo *)" \
	"link_$VETH_SRV prog_query prog_route prog_sockops prog_tc prog_xdp xl_allow xl_config xl_deny xl_known xl_over xl_ports xl_route_state xl_route_stats xl_routes xl_rslots xl_rules xl_state xl_stats xl_sync xl_sync_events xl_sync_seen xl_total xl_vcache" \
	"the pin directory holds the link, the programs and the maps"

# --- limit set / add / del / list ------------------------------------------------

assert_rc 0 "limit set 8000 10/second" -- xl limit set 8000 10/second
assert_eq "$OUT" "" "limit set prints nothing"
assert_rc 0 "limit list --json" -- xl limit list --json
assert_eq "$(jget 'len(d)' <<<"$OUT")" 1 "limit list --json: one rule"
assert_eq "$(jget 'd[0]["port"]' <<<"$OUT")" 8000 "limit list --json: port"
assert_eq "$(jget 'len(d[0]["limits"])' <<<"$OUT")" 1 "limit list --json: one limit"
assert_eq "$(jget 'd[0]["limits"][0]["limit"]' <<<"$OUT")" "10 per 1 second" \
	"limit list --json: text form"
assert_eq "$(jget 'd[0]["limits"][0]["amount"]' <<<"$OUT")" 10 "limit list --json: amount"
assert_eq "$(jget 'd[0]["limits"][0]["period"]' <<<"$OUT")" 1 "limit list --json: period"
assert_eq "$(jget 'd[0]["limits"][0]["action"]' <<<"$OUT")" drop \
	"limit list --json: action drop by default"
assert_eq "$(jget 'sorted(d[0]["limits"][0])' <<<"$OUT")" \
	'["action","amount","limit","period"]' "limit list --json: the fields of a limit"

assert_rc 0 "limit add 8000 '5 per 2 minutes' --action pass" -- \
	xl limit add 8000 "5 per 2 minutes" --action pass
assert_rc 0 "limit add 8000 '1/hour;100 per 2 hours' --action reject" -- \
	xl limit add 8000 "1/hour;100 per 2 hours" --action reject
assert_rc 0 "limit list --json" -- xl limit list --json
assert_eq "$(jget '[l["limit"] for l in d[0]["limits"]]' <<<"$OUT")" \
	'["10 per 1 second","5 per 2 minute","1 per 1 hour","100 per 2 hour"]' \
	"limit add appends, in order, up to 4"
assert_eq "$(jget '[l["amount"] for l in d[0]["limits"]]' <<<"$OUT")" '[10,5,1,100]' \
	"limit add: amounts"
assert_eq "$(jget '[l["period"] for l in d[0]["limits"]]' <<<"$OUT")" '[1,120,3600,7200]' \
	"limit add: periods in seconds"
assert_eq "$(jget '[l["action"] for l in d[0]["limits"]]' <<<"$OUT")" \
	'["drop","pass","reject","reject"]' "limit add: each limit keeps its action"
snap_forget
bad "port 8000 has 4 limits already" "limit add: a 5th limit on a port" \
	-- xl limit add 8000 1/year
assert_rc 0 "limit list" -- xl limit list
assert_eq "$OUT" \
	"8000  10 per 1 second (drop); 5 per 2 minute (pass); 1 per 1 hour (reject); 100 per 2 hour (reject)" \
	"limit list: text form"

assert_rc 0 "limit set 8000 replaces the rule" -- xl limit set 8000 "20 per minute"
assert_eq "$(xl limit list --json | jget '[(r["port"], [l["limit"] for l in r["limits"]]) for r in d]')" \
	'[[8000,["20 per 1 minute"]]]' "limit set replaces all limits of the port"
assert_rc 0 "limit add on a port without a rule" -- xl limit add 8001 "1/second;2/minute"
assert_rc 0 "limit set 0 (any other port)" -- xl limit set 0 "1000/second"
assert_rc 0 "limit set 80" -- xl limit set 80 "3 per minute"
assert_rc 0 "limit set 81 --action pass" -- xl limit set 81 --action pass "2/minute"
assert_rc 0 "limit set 82 --action reject" -- xl limit set 82 "1/second" --action reject
assert_rc 0 "limit list --json" -- xl limit list --json
assert_eq "$(jget '[r["port"] for r in d]' <<<"$OUT")" '[0,80,81,82,8000,8001]' \
	"limit list --json: every rule, by port"
assert_eq "$(jget '[[l["limit"], l["action"]] for l in d[3]["limits"]]' <<<"$OUT")" \
	'[["1 per 1 second","reject"]]' "limit list --json: limit set --action reject"
assert_match "$(xl limit list)" $'\n82    1 per 1 second \\(reject\\)\n' \
	"limit list: a reject limit"
assert_eq "$(jget '[[l["limit"], l["action"]] for l in d[2]["limits"]]' <<<"$OUT")" \
	'[["2 per 1 minute","pass"]]' "limit list --json: --action before the limit string"
assert_rc 0 "limit del 82" -- xl limit del 82
assert_rc 0 "limit list" -- xl limit list
assert_eq "$(head -n 1 <<<"$OUT")" "any   1000 per 1 second (drop)" \
	"limit list: port 0 shows as 'any'"
assert_rc 0 "limit del 8001" -- xl limit del 8001
assert_eq "$(xl limit list --json | jget '[r["port"] for r in d]')" '[0,80,81,8000]' \
	"limit del removes the rule"
snap_forget
bad "port 8001 has no rule" "limit del of a port without a rule" -- xl limit del 8001

# --- parse -----------------------------------------------------------------------

assert_rc 0 "parse '10/minute; 5 per 2 seconds'" -- xl parse "10/minute; 5 per 2 seconds"
assert_eq "$OUT" $'10 per 1 minute\n5 per 2 second' "parse: text form, one limit a line"
assert_rc 0 "parse --json" -- xl parse "10/minute; 5 per 2 seconds" --json
assert_eq "$(jget 'd' <<<"$OUT")" \
	'[{"amount":10,"multiples":1,"granularity":"minute","period":60},{"amount":5,"multiples":2,"granularity":"second","period":2}]' \
	"parse --json: amount, multiples, granularity, seconds"
assert_eq "$(xl parse --json "1 per year" | jget 'd[0]["period"]')" 31104000 \
	"parse --json: a year is 360 days"
assert_rc 2 "parse '1/day;': exit 2" -- xl parse "1/day;"
assert_match "$ERR" "^xlimit: couldn't parse rate limit string '1/day;': .+" \
	"parse '1/day;': says what it could not parse, and why"
assert_eq "$OUT" "" "parse '1/day;': nothing on stdout"

# --- allow and deny lists --------------------------------------------------------

# xl_config's flags: 1 the allow list is empty, 2 the deny list is (the
# datapath skips an empty list's trie).
cfg_flags() {
	bpftool -j map lookup pinned "$XL_PIN/xl_config" key 0 0 0 0 |
		jget 'd["formatted"]["value"]["flags"]'
}
assert_eq "$(cfg_flags)" 3 "attach: both lists empty, both skipped"

assert_rc 0 "allow add: IPv4 and IPv6, nested prefixes, in any order" -- \
	xl allow add 2001:2::1 198.18.1.128/25 198.18.0.3 2001:2:0:1::/64 \
	198.18.1.0/24 198.19.0.0/16 198.18.0.16/28 198.18.1.0/24
ALLOWED='198.18.0.3/32 198.18.0.16/28 198.18.1.0/24 198.18.1.128/25 198.19.0.0/16 2001:2::1/128 2001:2:0:1::/64'
assert_eq "$(cfg_flags)" 2 "allow add: the allow list is looked up"
assert_rc 0 "allow list" -- xl allow list
assert_eq "$(tr '\n' ' ' <<<"$OUT")" "$ALLOWED " \
	"allow list: every entry, IPv4 as a.b.c.d/N first, in address order"
assert_rc 0 "allow list --json" -- xl allow list --json
assert_eq "$(jget '" ".join(d)' <<<"$OUT")" "$ALLOWED" "allow list --json: the same, as an array"
assert_rc 0 "allow add of entries already there" -- xl allow add 198.18.0.3 198.18.1.0/24
assert_eq "$(xl allow list | wc -l)" 7 "allow add of entries already there adds nothing"
assert_rc 0 "allow del of a prefix inside another one" -- xl allow del 198.18.1.128/25
assert_eq "$(xl allow list --json | jget '" ".join(d)')" \
	"198.18.0.3/32 198.18.0.16/28 198.18.1.0/24 198.19.0.0/16 2001:2::1/128 2001:2:0:1::/64" \
	"allow del removes exactly that prefix, not the one around it"
assert_rc 0 "allow add it back" -- xl allow add 198.18.1.128/25
assert_rc 0 "deny add" -- xl deny add 2001:2::4 198.18.0.4
assert_eq "$(cfg_flags)" 0 "deny add: the deny list is looked up"
assert_rc 0 "deny list" -- xl deny list
assert_eq "$OUT" $'198.18.0.4/32\n2001:2::4/128' "deny list: text"
assert_eq "$(xl deny list --json | jget 'd')" '["198.18.0.4/32","2001:2::4/128"]' \
	"deny list --json"
assert_rc 0 "deny add and del of a third entry" -- xl deny add 2001:2::/48
assert_rc 0 "deny del" -- xl deny del 2001:2::/48
assert_eq "$(xl deny list --json | jget 'd')" '["198.18.0.4/32","2001:2::4/128"]' \
	"deny del removes it"
assert_eq "$(cfg_flags)" 0 "deny del of one entry of three: still looked up"
# Flags that say "empty" for lists that are not (as a write behind
# xlimit's back leaves them): status says so and puts them right.
CFG=$(bpftool -j map lookup pinned "$XL_PIN/xl_config" key 0 0 0 0 |
	jget '" ".join(d["value"][:8] + ["0x03"] + d["value"][9:])')
# shellcheck disable=SC2086 # one word per byte
bpftool map update pinned "$XL_PIN/xl_config" key 0 0 0 0 value $CFG
assert_eq "$(cfg_flags)" 3 "flags forced to empty"
assert_rc 0 "status with stale list flags" -- xl status
assert_match "$ERR" "the allow and deny lists were changed outside xlimit" \
	"status: says the lists changed outside xlimit"
assert_eq "$(cfg_flags)" 0 "status: both lists looked up again"

# --- config ------------------------------------------------------------------------

assert_eq "$(xl config show)" "ipv6-prefix 64" "config show: default /64"
assert_rc 0 "config set ipv6-prefix 128" -- xl config set ipv6-prefix 128
assert_eq "$(xl config show)" "ipv6-prefix 128" "config show: per address after set 128"
assert_rc 0 "config set ipv6-prefix 64" -- xl config set ipv6-prefix 64
assert_eq "$(xl config show)" "ipv6-prefix 64" "config show: text"
assert_eq "$(xl config show --json | jget 'd')" '{"ipv6_prefix":64}' "config show --json"

# --- traffic, then stats, status and query ----------------------------------------

# Port 80: 3 per minute, drop; port 81: 2 per minute, pass. 198.18.0.1
# sends 5 SYNs to 80 (3 pass, 2 dropped) and 3 to 81 (2 pass, 1 over but
# passed); the allow-listed .3 and the deny-listed .4 one each to 80.
syn 198.18.0.1 80 5
syn 198.18.0.1 81 3
syn 198.18.0.3 80 1
syn 198.18.0.4 80 1
FLOOD='"total_dropped":0,"known_admitted":0,"known_learned":0}'
MORE='"frag_dropped":0,"deep_dropped":0,"clients_created":1,"clients_restored":0,"rejected":0,'$FLOOD
ROW80='{"port":80,"seen":7,"passed":3,"dropped":2,"over_passed":0,"allowed":1,"denied":1,'$MORE
ROW81='{"port":81,"seen":3,"passed":2,"dropped":0,"over_passed":1,"allowed":0,"denied":0,'$MORE
ZERO='"seen":0,"passed":0,"dropped":0,"over_passed":0,"allowed":0,"denied":0,"frag_dropped":0,"deep_dropped":0,"clients_created":0,"clients_restored":0,"rejected":0,'$FLOOD
# The last row: what was dropped before a port was known.
WANT="[{\"port\":0,$ZERO,$ROW80,$ROW81,{\"port\":8000,$ZERO,{\"port\":null,$ZERO]"
# The receiving side may count a SYN just after the sender gave up on it.
for ((i = 0; i < 60; i++)); do
	got=$(xl stats --json | jget 'd')
	[ "$got" == "$WANT" ] && break
	sleep 0.05
done
assert_eq "$got" "$WANT" "stats --json: every counter of every rule, by port"
assert_rc 0 "stats" -- xl stats
assert_eq "$(head -n 1 <<<"$OUT" | tr -s ' ')" \
	"port seen passed dropped over_passed allowed denied frag_dropped deep_dropped clients_created clients_restored rejected total_dropped known_admitted known_learned" \
	"stats: header"
assert_eq "$(grep '^80 ' <<<"$OUT" | tr -s ' ')" "80 7 3 2 0 1 1 0 0 1 0 0 0 0 0" "stats: port 80's row"
assert_eq "$(grep '^any ' <<<"$OUT" | tr -s ' ')" "any 0 0 0 0 0 0 0 0 0 0 0 0 0 0" "stats: port 0's row"
assert_eq "$(grep '^- ' <<<"$OUT" | tr -s ' ')" "- 0 0 0 0 0 0 0 0 0 0 0 0 0 0" "stats: the row of frames without a port"

timeout 1.2 "$XLIMIT_BIN" --pin-dir "$XL_PIN" stats --watch 0.5 >"$XL_TMP/watch" 2>&1
n=$(grep -c '^port ' "$XL_TMP/watch")
if [ "$n" -ge 2 ]; then ok "stats --watch 0.5: $n samples in 1.2 s"; else
	fail "stats --watch 0.5: $n samples in 1.2 s, expected 2 or more: $(cat "$XL_TMP/watch")"
fi
assert_match "$(sed -n '/^$/,$p' "$XL_TMP/watch" | grep '^80 ' | head -n 1 | tr -s ' ')" \
	"^80 0/s 0/s 0/s 0/s 0/s 0/s 0/s 0/s 0/s 0/s 0/s 0/s 0/s 0/s$" "stats --watch: later samples are rates"
timeout 1.2 "$XLIMIT_BIN" --pin-dir "$XL_PIN" stats --json --watch 0.5 >"$XL_TMP/watch" 2>&1
n=$(wc -l <"$XL_TMP/watch")
if [ "$n" -ge 2 ]; then ok "stats --json --watch 0.5: $n samples in 1.2 s"; else
	fail "stats --json --watch 0.5: $n samples in 1.2 s, expected 2 or more"
fi
assert_eq "$(head -n 1 "$XL_TMP/watch" | jget 'd')" "$WANT" "stats --json --watch: first sample"
assert_eq "$(sed -n 2p "$XL_TMP/watch" | jget '[r["seen"] for r in d] + [r["per_second"]["seen"] for r in d]')" \
	"[0,7,3,0,0,0.0,0.0,0.0,0.0,0.0]" "stats --json --watch: then counters with per_second rates"

assert_rc 0 "status --json" -- xls status --json
STATUS=$OUT
ifindex=$(ip -n "$NS_SRV" -o link show "$VETH_SRV" | cut -d: -f1)
assert_eq "$(jget 'len(d["interfaces"])' <<<"$STATUS")" 1 "status --json: one interface"
assert_eq "$(jget '[d["interfaces"][0][k] for k in ("name", "ifindex", "mode")]' <<<"$STATUS")" \
	"[\"$VETH_SRV\",$ifindex,\"native\"]" "status --json: the interface's name, index and mode"
assert_match "$(jget 'd["prog_id"]' <<<"$STATUS")" "^[1-9][0-9]*$" "status --json: program id"
assert_eq "$(jget 'd["interfaces"][0]["prog_id"] == d["prog_id"]' <<<"$STATUS")" true \
	"status --json: the interface runs xlimit's program"
assert_eq "$(jget 'sorted([r["port"], [l["limit"] for l in r["limits"]]] for r in d["rules"])' <<<"$STATUS")" \
	'[[0,["1000 per 1 second"]],[80,["3 per 1 minute"]],[81,["2 per 1 minute"]],[8000,["20 per 1 minute"]]]' \
	"status --json: rules"
assert_eq "$(jget '[d["allow_count"], d["deny_count"]]' <<<"$STATUS")" "[7,2]" "status --json: list sizes"
assert_eq "$(jget 'd["tracked"]' <<<"$STATUS")" 2 \
	"status --json: tracked: 198.18.0.1 on 80 and on 81 (listed clients are not counted)"
assert_eq "$(jget 'd["max_sources"]' <<<"$STATUS")" 5000 "status --json: max_sources, the state map's size"
assert_eq "$(jget 'd["ipv6_prefix"]' <<<"$STATUS")" 64 "status --json: ipv6_prefix"
assert_eq "$(jget '[d[k] for k in ("clients_created", "clients_forgotten", "clients_restored", "frag_dropped", "deep_dropped")]' <<<"$STATUS")" \
	"[2,0,0,0,0]" "status --json: clients created, forgotten, restored; frames dropped"
assert_eq "$(jget 'd["pin_dir"]' <<<"$STATUS")" "$XL_PIN" "status --json: pin_dir"
assert_rc 0 "status" -- xls status
assert_match "$OUT" "interfaces: +$VETH_SRV \(native\)" "status: interface"
assert_match "$OUT" "tracked: +2 of 5000" "status: tracked"

# query: a client that used its quota, a never-seen one, listed ones.
assert_rc 0 "query 198.18.0.1 80 --json" -- xl query 198.18.0.1 80 --json
now=$(date +%s)
Q=$OUT
assert_eq "$(jget 'sorted(d)' <<<"$Q")" '["address","allowed","denied","known","limits","port","routes","total"]' \
	"query --json: fields"
assert_eq "$(jget '[d["known"], d["total"]]' <<<"$Q")" '[false,[]]' \
	"query --json: not a known client, no ceiling on the port"
assert_eq "$(jget '[d["address"], d["port"], d["allowed"], d["denied"]]' <<<"$Q")" \
	'["198.18.0.1",80,false,false]' "query --json: address, port, on neither list"
assert_eq "$(jget 'sorted(d["limits"][0])' <<<"$Q")" \
	'["amount","limit","period","remaining","reset","retry_after","strategy"]' "query --json: fields of a limit"
assert_eq "$(jget '[[l["limit"], l["amount"], l["period"], l["remaining"]] for l in d["limits"]]' <<<"$Q")" \
	'[["3 per 1 minute",3,60,0]]' "query --json: the limit, used up"
assert_eq "$(jget "$now - 1 <= d['limits'][0]['reset'] <= $now + 62" <<<"$Q")" true \
	"query --json: reset within the minute"

before=$(date +%s)
assert_rc 0 "query of a never-seen client" -- xl query 198.18.0.9 80 --json
after=$(date +%s)
Q=$OUT
assert_eq "$(jget '[[l["limit"], l["amount"], l["period"], l["remaining"]] for l in d["limits"]]' <<<"$Q")" \
	'[["3 per 1 minute",3,60,3]]' "query --json: a never-seen client has its full quota"
reset=$(jget 'd["limits"][0]["reset"]' <<<"$Q")
if [ "$reset" -ge $((before + 59)) ] && [ "$reset" -le $((after + 62)) ]; then
	ok "query --json: reset $reset is a UTC epoch in [now+period-1, now+period+2]"
else
	fail "query --json: reset $reset not in [$((before + 59)), $((after + 62))]"
fi
assert_eq "$(jget '59 <= d["limits"][0]["retry_after"] <= 61' <<<"$Q")" true \
	"query --json: retry_after is about the period"
assert_eq "$(xl query 198.18.0.3 80 --json | jget '[d["allowed"], d["denied"]]')" \
	"[true,false]" "query --json: an allow-listed client"
assert_eq "$(xl query 198.18.0.4 80 --json | jget '[d["allowed"], d["denied"]]')" \
	"[false,true]" "query --json: a deny-listed client"
assert_eq "$(xl query 2001:2::9 81 --json | jget '[d["address"], d["limits"][0]["remaining"]]')" \
	'["2001:2::9",2]' "query --json: an IPv6 client"
assert_eq "$(xl query ::ffff:198.18.0.1 80 --json | jget '[d["address"], d["limits"][0]["remaining"]]')" \
	'["198.18.0.1",0]' "query --json: a v4-mapped address is the IPv4 client"
assert_eq "$(xl query 198.18.0.1 --json | jget '[(q["port"], q["limits"][0]["remaining"]) for q in d]')" \
	'[[80,0],[81,0],[8000,20]]' "query --json without a port: every port with a rule of its own"
assert_rc 0 "query (text)" -- xl query 198.18.0.9 80
assert_match "$OUT" "^198.18.0.9 port 80:" "query: text names the client"
assert_match "$OUT" "3 per 1 minute +remaining 3, reset [0-9]+ \(in [0-9]+s\)" "query: text shows the limit"
assert_eq "$(xls status --json | jget 'd["tracked"]')" 2 "query changed nothing (still 2 tracked)"

# --- strategies: --strategy and --burst -----------------------------------------

assert_rc 0 "limit set --strategy sliding-window" -- \
	xl limit set 8100 "3/minute" --strategy sliding-window
assert_rc 0 "limit set --strategy token-bucket --burst 2" -- \
	xl limit set 8101 "3/minute" --strategy token-bucket --burst 2
assert_rc 0 "limit set --strategy token-bucket (burst by default)" -- \
	xl limit set 8102 --strategy token-bucket "10/minute"
assert_rc 0 "limit add takes the port's strategy" -- xl limit add 8100 "100/hour"
assert_rc 0 "limit add naming the port's strategy" -- \
	xl limit add 8100 "1000/day" --strategy sliding-window
assert_rc 0 "limit list --json" -- xl limit list --json
assert_eq "$(jget '[(r["port"], r["strategy"]) for r in d if r["port"] >= 8000]' <<<"$OUT")" \
	'[[8000,"fixed-window"],[8100,"sliding-window"],[8101,"token-bucket"],[8102,"token-bucket"]]' \
	"limit list --json: each rule's strategy, fixed-window by default"
assert_eq "$(jget '[[l["limit"], l.get("burst")] for r in d if r["port"] > 8000 for l in r["limits"]]' <<<"$OUT")" \
	'[["3 per 1 minute",null],["100 per 1 hour",null],["1000 per 1 day",null],["3 per 1 minute",2],["10 per 1 minute",10]]' \
	"limit list --json: a bucket's burst (the amount by default), none for the others"
assert_rc 0 "limit list" -- xl limit list
assert_match "$OUT" $'\n8100  sliding-window: 3 per 1 minute \\(drop\\); 100 per 1 hour \\(drop\\); 1000 per 1 day \\(drop\\)\n' \
	"limit list: a sliding-window rule"
assert_match "$OUT" $'\n8101  token-bucket: 3 per 1 minute \\(drop, burst 2\\)\n' \
	"limit list: a token-bucket rule with its burst"
assert_match "$(xl status)" "port 8101  token-bucket: 3 per 1 minute \(drop, burst 2\)" \
	"status: the strategy and burst"
assert_eq "$(xls status --json | jget '[r["strategy"] for r in d["rules"] if r["port"] == 8100]')" \
	'["sliding-window"]' "status --json: the strategy"

snap_forget
bad "--burst applies to --strategy token-bucket only" "limit set --burst without a strategy" \
	-- xl limit set 8103 "3/minute" --burst 2
bad "--burst applies to --strategy token-bucket only" "limit set --burst with sliding-window" \
	-- xl limit set 8103 "3/minute" --strategy sliding-window --burst 2
bad "--burst applies to --strategy token-bucket only" "limit add --burst to a sliding-window port" \
	-- xl limit add 8100 "3/second" --burst 2
bad "unknown strategy 'leaky-bucket'; expected fixed-window, sliding-window or token-bucket" \
	"limit set --strategy leaky-bucket" -- xl limit set 8100 "3/minute" --strategy leaky-bucket
bad "unknown strategy ''" "limit set --strategy ''" -- xl limit set 8100 "3/minute" --strategy ""
for b in 0 -1 abc 2x 4294967296 ""; do
	bad "bad burst '$b'" "limit set --burst '$b'" \
		-- xl limit set 8101 "3/minute" --strategy token-bucket --burst "$b"
done
bad "amount 2000000 is over 1048575, the most a sliding-window limit counts" \
	"limit set: a sliding window's amount" \
	-- xl limit set 8100 "1/second;2000000/second" --strategy sliding-window
bad "burst 1000 of 1 per 31104000 s spans more than 3110400000 s" \
	"limit set: a bucket's burst past 100 years" \
	-- xl limit set 8101 "1/year" --strategy token-bucket --burst 1000
bad "port 8100 counts with sliding-window, not token-bucket" \
	"limit add: another strategy than the port's" \
	-- xl limit add 8100 "1/second" --strategy token-bucket
bad "amount 2000000 is over 1048575" "limit add: the port's strategy checks the amount" \
	-- xl limit add 8100 "2000000/second"

# Through the datapath: the sliding window admits 3 of 4, the bucket its
# burst of 2; query shows the strategy, nothing left, and a retry-after
# within the emission interval (20 s) for the bucket.
# Sliding windows lie on a grid of CLOCK_MONOTONIC: start early in a
# minute (waiting at most 10 s), so that no window boundary decays the
# counts between the SYNs and the queries.
"$PY" -c 'import time; t = time.monotonic() % 60; time.sleep(60.5 - t if t > 50 else 0)'
syn 198.18.0.8 8100 4
syn 198.18.0.8 8101 4
assert_rc 0 "query a sliding-window port" -- xl query 198.18.0.8 8100 --json
assert_eq "$(jget '[(l["strategy"], l["remaining"]) for l in d["limits"]]' <<<"$OUT")" \
	'[["sliding-window",0],["sliding-window",97],["sliding-window",997]]' \
	"query --json: sliding window, 3 SYNs of 4 counted in every limit"
assert_rc 0 "query a token-bucket port" -- xl query 198.18.0.8 8101 --json
assert_eq "$(jget '[d["limits"][0][k] for k in ("strategy", "burst", "remaining")]' <<<"$OUT")" \
	'["token-bucket",2,0]' "query --json: token bucket, its burst spent"
ra=$(jget 'd["limits"][0]["retry_after"]' <<<"$OUT")
if [ "$ra" -ge 0 ] && [ "$ra" -le 20 ]; then
	ok "query: a bucket's retry-after is within one emission interval ($ra s)"
else
	fail "query: a bucket's retry-after $ra is not within 0..20 s"
fi
assert_match "$(xl query 198.18.0.8 8101)" "remaining 0, reset [0-9]+ \(in [0-9]+s\), token-bucket burst 2" \
	"query: text shows the strategy and burst"
assert_rc 0 "top --port 8100" -- xl top --port 8100 --json
assert_eq "$(jget '[(e["address"], e["strategy"], e["over"]) for e in d]' <<<"$OUT")" \
	'[["198.18.0.8","sliding-window",true]]' "top --json: the strategy"
assert_match "$(xl top --port 8101)" "198.18.0.8 +8101 +- +3 per 1 minute .* token-bucket +yes" \
	"top: the strategy column"
# Another strategy on the port: its counts start afresh (the state words
# mean something else).
assert_rc 0 "limit set: the bucket becomes a sliding window" -- \
	xl limit set 8101 "3/minute" --strategy sliding-window
assert_eq "$(xl query 198.18.0.8 8101 --json | jget '[d["limits"][0][k] for k in ("strategy", "remaining")]')" \
	'["sliding-window",3]' "a change of strategy clears the port's counts"
for p in 8100 8101 8102; do
	assert_rc 0 "limit del $p" -- xl limit del "$p"
done

# --- the ceiling of a port: --total and --admit-known ----------------------------

assert_rc 0 "limit set 83 '5/minute' --total '2 per minute'" -- \
	xl limit set 83 "5/minute" --total "2 per minute"
assert_eq "$OUT" "" "limit set --total prints nothing"
assert_eq "$(xl limit list --json | jget '[[r["total"], r["admit_known"]] for r in d if r["port"] == 83][0]')" \
	'[[{"limit":"2 per 1 minute","amount":2,"period":60}],false]' \
	"limit list --json: the ceiling, without --admit-known"
assert_eq "$(xl limit list --json | jget '[[r["total"], r["admit_known"]] for r in d if r["port"] == 80][0]')" \
	'[[],false]' "limit list --json: a port without a ceiling"
assert_match "$(xl limit list)" $'\n83    5 per 1 minute \\(drop\\); total 2 per 1 minute\n' \
	"limit list: the ceiling after the limits"
# Three sources, one SYN each: the third is over the ceiling.
syn 198.18.0.5 83 1
syn 198.18.0.6 83 1
syn 198.18.0.7 83 1
for ((i = 0; i < 60; i++)); do
	got=$(xl stats --json | jget '[[r["seen"], r["passed"], r["total_dropped"], r["clients_created"]] for r in d if r["port"] == 83][0]')
	[ "$got" == "[3,2,1,2]" ] && break
	sleep 0.05
done
assert_eq "$got" "[3,2,1,2]" \
	"stats --json: 2 of 3 new sources within the ceiling, the third total_dropped and not created"
assert_match "$(xl stats | grep '^83 ' | tr -s ' ')" "^83 3 2 0 0 0 0 0 0 2 0 0 1 0 0$" \
	"stats: the total_dropped column"
assert_eq "$(xl query 198.18.0.7 83 --json | jget '[[t["limit"], t["remaining"]] for t in d["total"]] + [d["limits"][0]["remaining"]]')" \
	'[["2 per 1 minute",0],5]' "query --json: the ceiling used up, the refused source's own quota whole"
assert_match "$(xl query 198.18.0.7 83)" "total 2 per 1 minute +remaining 0, reset [0-9]+" \
	"query: text shows the ceiling"
assert_rc 0 "limit set 83 --total '2/minute;100/hour' --admit-known" -- \
	xl limit set 83 "5/minute" --admit-known --total "2/minute;100/hour"
assert_eq "$(xl limit list --json | jget '[[[t["limit"] for t in r["total"]], r["admit_known"]] for r in d if r["port"] == 83][0]')" \
	'[["2 per 1 minute","100 per 1 hour"],true]' "limit list --json: two ceilings, --admit-known"
assert_match "$(xl limit list)" $'\n83    5 per 1 minute \\(drop\\); total 2 per 1 minute; 100 per 1 hour, admit known\n' \
	"limit list: admit known"
assert_eq "$(xl query 198.18.0.7 83 --json | jget '[t["remaining"] for t in d["total"]]')" '[2,100]' \
	"a changed ceiling starts with fresh windows"
assert_eq "$(xls status --json | jget '[[r["total"][0]["limit"], r["admit_known"]] for r in d["rules"] if r["port"] == 83] + [d["learning_known"], d["known_count"]]')" \
	'[["2 per 1 minute",true],true,0]' "status --json: the ceiling; learning known clients, none yet"
assert_eq "$(cd "$XL_PIN" && ls | grep -c '^sockops_link$')" 1 \
	"--admit-known attaches the sockops program (pinned link)"
assert_match "$(xls status)" $'\n  port 83    5 per 1 minute \\(drop\\); total 2 per 1 minute; 100 per 1 hour, admit known\n' \
	"status: the ceiling"
assert_rc 0 "limit add 83 keeps the ceiling" -- xl limit add 83 "50/hour"
assert_eq "$(xl limit list --json | jget '[[len(r["limits"]), len(r["total"]), r["admit_known"]] for r in d if r["port"] == 83][0]')" \
	'[2,2,true]' "limit add keeps the ceiling and --admit-known"
assert_rc 0 "limit set 83 without --total removes the ceiling" -- xl limit set 83 "5/minute"
assert_eq "$(xl limit list --json | jget '[[r["total"], r["admit_known"]] for r in d if r["port"] == 83][0]')" \
	'[[],false]' "limit set without --total: no ceiling"
assert_rc 0 "limit set 84 --total" -- xl limit set 84 "5/minute" --total "9/minute"
assert_rc 0 "limit del 84" -- xl limit del 84
assert_rc 0 "limit set 84 again, without --total" -- xl limit set 84 "5/minute"
assert_eq "$(xl limit list --json | jget '[r["total"] for r in d if r["port"] == 84][0]')" '[]' \
	"a rule in a freed slot has no ceiling of the old one"
xl limit del 83 >/dev/null
xl limit del 84 >/dev/null

# --- bad input: nothing changes -------------------------------------------------

# First, the snapshot bad() compares sees each kind of change it guards
# against: a client's state and the per-CPU stats (one SYN), a list entry,
# a rule.
# snap_changed NAME: the map snapshot differs from the previous one.
snap_changed() {
	snap >"$XL_TMP/snap_new"
	if cmp -s "$XL_TMP/snap_old" "$XL_TMP/snap_new"; then
		fail "the map snapshot misses $1"
	else
		ok "the map snapshot sees $1"
	fi
	mv "$XL_TMP/snap_new" "$XL_TMP/snap_old"
}
snap >"$XL_TMP/snap_old"
syn 198.18.0.9 80 1
snap_changed "a SYN (a new client, the stats)"
xl allow add 2001:2:0:7::/64
snap_changed "an allow list entry added"
xl allow del 2001:2:0:7::/64
snap_changed "an allow list entry removed"
xl limit set 8200 1/second
snap_changed "a rule set"
xl limit del 8200
snap_changed "a rule deleted"

snap_forget
for p in -1 65536 80x "" 0x50 " 80" +80 1e3; do
	bad "bad port '$p'" "limit set port '$p'" -- xl limit set "$p" 10/second
	bad "bad port '$p'" "limit add port '$p'" -- xl limit add "$p" 10/second
	bad "'$p'" "limit del port '$p'" -- xl limit del "$p"
	bad "bad port '$p'" "query port '$p'" -- xl query 198.18.0.1 "$p"
done
bad "bad port '0'" "query port 0" -- xl query 198.18.0.1 0

for c in 198.18.0.0/33 2001:2::/129 198.18.0.1/24 banana 198.18.0.0/ 1.2.3.4.5 \
	198.18.0.0/-1 "198.18.0.0/ 8" 198.18.0.0/8x 2001:2::1/64 "" 2001:2:::1; do
	bad "'$c'" "allow add '$c'" -- xl allow add "$c"
	bad "'$c'" "deny add '$c'" -- xl deny add "$c"
	bad "'$c'" "allow del '$c'" -- xl allow del "$c"
done
bad "did you mean 198.18.0.0/24?" "allow add with host bits: suggests the network" \
	-- xl allow add 198.18.0.1/24
bad "'198.18.6.0/33'" "allow add: one bad CIDR among good ones adds none" \
	-- xl allow add 198.18.5.0/24 2001:2:0:5::/64 198.18.6.0/33 198.18.7.0/24
bad "'banana'" "deny add: one bad CIDR among good ones adds none" \
	-- xl deny add 198.18.5.0/24 banana
bad "198.18.9.0/24 is not in the allow list" "allow del: an absent CIDR among present ones deletes none" \
	-- xl allow del 198.18.0.3 198.18.9.0/24 198.18.1.0/24
bad "198.18.1.64/26 is not in the allow list" "allow del: a CIDR inside a listed one is not listed" \
	-- xl allow del 198.18.1.0/24 198.18.1.64/26
bad "2001:2::5/128 is not in the deny list" "deny del: an absent IPv6 address deletes none" \
	-- xl deny del 198.18.0.4 2001:2::5

bad "no interface named 'nosuchif0'" "attach an unknown interface" -- xls attach nosuchif0
bad "no interface named 'nosuchif0'" "detach an unknown interface" -- xls detach nosuchif0
bad "no interface named 'nosuchif0'" "detach a known and an unknown interface detaches none" \
	-- xls detach "$VETH_SRV" nosuchif0
bad "unknown mode 'frob'" "attach --mode frob" -- xls attach "$VETH_SRV" --mode frob
bad "'0'" "attach --max-sources 0" -- xls attach "$VETH_SRV" --max-sources 0
# A count as every other number of the CLI: digits only (xl_parse_num).
for v in "" -1 1k " 5" +5 0x10 67108865 99999999999999999999; do
	bad "--max-sources '$v': expected a number of clients from 1 to 67108864" \
		"attach --max-sources '$v'" -- xls attach "$VETH_SRV" --max-sources "$v"
done
bad "expected one interface" "attach without an interface" -- xls attach
bad "expected interface names or --all" "detach without an interface" -- xls detach

bad "unknown unit 'sec'" "limit set '10 per sec'" -- xl limit set 80 "10 per sec"
bad "no limit after ';'" "limit set '1/day;'" -- xl limit set 80 "1/day;"
bad "unexpected '5' at offset 10" "limit set '10/second 5/minute'" \
	-- xl limit set 80 "10/second 5/minute"
bad "couldn't parse rate limit string '': no limit" "limit set ''" -- xl limit set 80 ""
bad "more than 4 limits" "limit set: 5 limits on one port" \
	-- xl limit set 80 "1/second;2/minute;3/hour;4/day;5/month"
bad "more than 4 limits" "limit set: 5 limits on a new port" \
	-- xl limit set 8080 "1/second;2/minute;3/hour;4/day;5/month"
bad "port 81 has 1 limits already; 4 more" "limit add: more than 4 in all" \
	-- xl limit add 81 "1/second;2/minute;3/hour;4/day"
bad "amount 4294967296 is too large" "limit set 4294967296/second" \
	-- xl limit set 80 4294967296/second
bad "amount 4294967296 is too large" "limit add 4294967296/second on a new port" \
	-- xl limit add 8080 "1/second;4294967296/second"
bad "amount 16711680 is too large (at most 16711679)" "limit set: one over the largest amount" \
	-- xl limit set 80 16711680/second
bad "period of 18446744074 seconds is too long" "limit set: a period too long in ns" \
	-- xl limit set 80 "1 per 18446744074 seconds"
bad "period of 101 years is too long (at most 100 years" "limit set: a period over 100 years" \
	-- xl limit set 80 "1 per 101 years"
bad "period of 3110400001 seconds is too long" "limit add: one second over 100 years" \
	-- xl limit add 80 "1 per 3110400001 seconds"
bad "is over 18446744073709551615" "limit set: an amount over 64 bits" \
	-- xl limit set 80 "18446744073709551616/second"
bad "unexpected '-' at offset 0" "limit set '-1/second'" -- xl limit set 80 -1/second
bad "couldn't parse rate limit string '-1/second'" "parse '-1/second'" -- xl parse -1/second
bad "unexpected '.' at offset 1" "parse '1.5/second'" -- xl parse 1.5/second
bad "couldn't parse rate limit string '1/day;'" "parse '1/day;'" -- xl parse "1/day;"
bad "unknown action 'frob'; expected drop, reject or pass" "limit set --action frob" \
	-- xl limit set 80 10/second --action frob
bad "unknown action 'Reject'" "limit set --action Reject (names are lower case)" \
	-- xl limit set 80 10/second --action Reject
bad "unknown action 'rst'" "limit add --action rst" -- xl limit add 80 10/second --action rst
bad "'--action' requires an argument" "limit set --action without a value" \
	-- xl limit set 80 10/second --action
bad "couldn't parse rate limit string '10 per sec'" "limit set --total '10 per sec'" \
	-- xl limit set 80 10/second --total "10 per sec"
bad "couldn't parse rate limit string '': no limit" "limit set --total ''" \
	-- xl limit set 80 10/second --total ""
bad "more than 4 limits" "limit set --total: 5 limits" \
	-- xl limit set 80 10/second --total "1/second;2/minute;3/hour;4/day;5/month"
bad "amount 16711680 is too large (at most 16711679)" "limit set --total: one over the largest amount" \
	-- xl limit set 80 10/second --total 16711680/second
bad "period of 101 years is too long" "limit set --total: a period over 100 years" \
	-- xl limit set 8080 10/second --total "1 per 101 years"
bad "unexpected '-' at offset 0" "limit set --total -1/second" \
	-- xl limit set 80 10/second --total -1/second
bad "'--total' requires an argument" "limit set --total without a value" \
	-- xl limit set 80 10/second --total
bad "--admit-known lets known clients past the port's ceiling, and there is none" \
	"limit set --admit-known without --total" -- xl limit set 80 10/second --admit-known
bad "--total and --admit-known go with 'limit set'" "limit add --total" \
	-- xl limit add 80 10/second --total 100/second
bad "--total and --admit-known go with 'limit set'" "limit add --admit-known" \
	-- xl limit add 80 10/second --admit-known
bad "unknown unit 'sec'" "limit set: a bad LIMITS with a good --total" \
	-- xl limit set 8080 "10 per sec" --total 100/second --admit-known

bad "unknown command 'frobnicate'" "xlimit frobnicate" -- xl frobnicate
bad "unknown command 'frob'" "xlimit limit frob" -- xl limit frob
bad "unknown command 'frob'" "xlimit allow frob" -- xl allow frob
bad "unknown command 'frob'" "xlimit deny frob" -- xl deny frob
bad "unknown command 'frob'" "xlimit config frob" -- xl config frob
bad "'--bogus'" "status --bogus" -- xls status --bogus
bad "'--bogus'" "stats --bogus" -- xl stats --bogus
bad "'--bogus'" "limit list --bogus" -- xl limit list --bogus
bad "'--bogus'" "allow list --bogus" -- xl allow list --bogus
bad "'--bogus'" "config show --bogus" -- xl config show --bogus
bad "'--bogus'" "query --bogus" -- xl query 198.18.0.1 80 --bogus
bad "'--bogus'" "parse --bogus" -- xl parse 1/second --bogus
bad "'--bogus'" "load --bogus" -- xl load --bogus
bad "'relative'" "--pin-dir relative" -- "$XLIMIT_BIN" --pin-dir relative status

bad "Usage: xlimit" "xlimit without a command" -- "$XLIMIT_BIN"
bad "expected a command" "limit without a command" -- xl limit
bad "expected a command" "allow without a command" -- xl allow
bad "expected a command" "config without a command" -- xl config
bad "expected PORT and LIMITS" "limit set without arguments" -- xl limit set
bad "expected PORT and LIMITS" "limit set without LIMITS" -- xl limit set 80
bad "expected PORT and LIMITS" "limit add without LIMITS" -- xl limit add 80
bad "'5/minute'" "limit set with an extra argument" -- xl limit set 80 1/second 5/minute
bad "expected one port" "limit del without a port" -- xl limit del
bad "expected at least one address" "allow add without a CIDR" -- xl allow add
bad "expected at least one address" "deny del without a CIDR" -- xl deny del
bad "expected ADDRESS" "query without an address" -- xl query
bad "expected a limit string" "parse without a string" -- xl parse
bad "expected one limit string" "parse with two strings" -- xl parse 1/second 2/minute
bad "expected 'ipv6-prefix N'" "config set without a setting" -- xl config set
bad "expected 'ipv6-prefix N'" "config set ipv6-prefix without a value" -- xl config set ipv6-prefix
for v in 0 129 abc -1 64x ""; do
	bad "'$v' is not a prefix length" "config set ipv6-prefix '$v'" -- xl config set ipv6-prefix "$v"
done
bad "unknown setting 'frob'" "config set frob 1" -- xl config set frob 1
bad "'not-an-ip'" "query not-an-ip" -- xl query not-an-ip
bad "'198.18.0.0/24'" "query of a CIDR" -- xl query 198.18.0.0/24 80
bad "--watch '0'" "stats --watch 0" -- xl stats --watch 0
bad "--watch 'x'" "stats --watch x" -- xl stats --watch x
bad "unexpected argument 'extra'" "stats extra" -- xl stats extra
bad "unexpected argument 'extra'" "status extra" -- xls status extra
bad "unexpected argument 'extra'" "unload extra" -- xl unload extra
for n in -1 x 1x "" 4294967296; do
	bad "-n '$n': expected a number of clients (0 for all)" "top -n '$n'" -- xl top -n "$n"
done
for p in 70000 0 -1 x ""; do
	bad "bad port '$p'; expected 1-65535" "top --port '$p'" -- xl top --port "$p"
done
bad "'--bogus'" "top --bogus" -- xl top --bogus
bad "requires an argument" "top -n without a value" -- xl top -n
bad "unexpected argument 'extra'" "top extra" -- xl top extra
bad "--ports and --routes together; give one of them, or neither for both" "top --ports --routes" -- xl top --ports --routes

# --- concurrency: the directory lock serialises commands ---------------------------

# While the test holds the lock on the pin directory, 14 commands that
# change something, started in parallel, must all wait for it (as waiters
# in /proc/locks) and change nothing; once it is released, all must land.
LOCKF=$(xl_lock_file "$XL_PIN")
assert_eq "$(ls "$LOCKF" 2>&1)" "$LOCKF" "the pin directory's lock is a file of its own in /run/xlimit"
ino=$(stat -c %i "$LOCKF")
waiters() { grep -cE -- "-> FLOCK +ADVISORY +WRITE +[0-9]+ +[0-9a-f:]+:$ino " /proc/locks; }
alive() {
	local p n=0
	for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
	echo "$n"
}
snap >"$XL_TMP/unlocked"
exec {lockfd}<"$LOCKF"
flock -x "$lockfd"
pids=()
for p in 9001 9002 9003 9004; do
	xl limit set "$p" "$((p - 9000))/second" {lockfd}<&- >"$XL_TMP/c.$p" 2>&1 &
	pids+=($!)
done
for i in 1 2 3 4 5 6; do
	xl allow add "198.18.8.$i" "2001:2:0:8::$i" {lockfd}<&- >"$XL_TMP/c.a$i" 2>&1 &
	pids+=($!)
done
for i in 1 2 3 4; do
	xl limit add 9100 "$i/minute" {lockfd}<&- >"$XL_TMP/c.b$i" 2>&1 &
	pids+=($!)
done
for ((i = 0; i < 200; i++)); do
	[ "$(waiters)" -ge 14 ] || [ "$(alive)" -lt 14 ] && break
	sleep 0.05
done
assert_eq "$(waiters) $(alive)" "14 14" "14 commands started in parallel all wait for the lock"
snap >"$XL_TMP/locked"
if cmp -s "$XL_TMP/unlocked" "$XL_TMP/locked"; then
	ok "nothing changed while the lock was held"
else
	fail "changed while the lock was held: $(diff "$XL_TMP/unlocked" "$XL_TMP/locked" | head -c 400)"
fi
flock -u "$lockfd"
exec {lockfd}<&-
rcs=""
for pid in "${pids[@]}"; do
	wait "$pid" && rcs+="0 " || rcs+="$? "
done
assert_eq "$rcs" "$(printf '0 %.0s' "${pids[@]}")" \
	"14 commands in parallel all succeed ($(cat "$XL_TMP"/c.* | head -c 300))"
assert_eq "$(xl limit list --json | jget '[(r["port"], r["limits"][0]["amount"]) for r in d if 9001 <= r["port"] <= 9004]')" \
	'[[9001,1],[9002,2],[9003,3],[9004,4]]' "parallel limit set on 4 ports: all 4 rules landed"
assert_eq "$(xl limit list --json | jget 'sorted(l["amount"] for r in d if r["port"] == 9100 for l in r["limits"])')" \
	'[1,2,3,4]' "parallel limit add on one port: all 4 limits landed"
assert_eq "$(bpftool -j map dump pinned "$XL_PIN/xl_rules" |
	jget 'len(set(e["formatted"]["value"]["slot"] for e in d)) == len(d)')" true \
	"parallel limit set: every rule has its own stats slot"
assert_eq "$(xl allow list --json | jget 'len([c for c in d if c.startswith("198.18.8.") or c.startswith("2001:2:0:8::")])')" \
	12 "parallel allow add: all 12 entries landed"

# --- rules written by hand (bpftool): checked before use --------------------------

# rule_hex NLIMITS SLOT AMOUNT PERIOD_NS STRATEGY BURST FLAGS: an xl_rules
# value with one limit (action drop), zeros after it and the flags, as
# `bpftool map update` takes it.
rule_hex() {
	"$PY" -c 'import struct, sys
n, slot, amount, period, strategy, burst, flags = map(int, sys.argv[1:])
v = struct.pack("<II", n, slot) + struct.pack("<QQIIII", amount, period, 0, strategy, burst, 0) + bytes(96)
v += struct.pack("<II", flags, 0)
print(" ".join("0x%02x" % b for b in v))' "$@"
}
# hex32 N: a 32-bit number as bpftool takes it (little-endian bytes).
hex32() {
	printf '0x%02x 0x%02x 0x%02x 0x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24))
}
# put_rule PORT NLIMITS SLOT AMOUNT PERIOD_NS [STRATEGY [BURST [FLAGS]]]: in
# the record (xl_rules) and where the datapath reads it (an entry of
# xl_rslots near the end, which the port in xl_ports points to).
put_rule() {
	local key value idx=$((2047 - $1 % 64))
	key=$(printf '0x%02x 0x%02x' $(($1 & 255)) $(($1 >> 8)))
	value=$(rule_hex "$2" "$3" "$4" "$5" "${6:-0}" "${7:-0}" "${8:-0}")
	# shellcheck disable=SC2086
	bpftool map update pinned "$XL_PIN/xl_rules" key $key value $value &&
		bpftool map update pinned "$XL_PIN/xl_rslots" key $(hex32 $idx) value $value &&
		bpftool map update pinned "$XL_PIN/xl_ports" key $(hex32 "$1") value $(hex32 $((idx + 1))) $(hex32 0)
}
assert_rc 0 "limit set 8999 '1/100 years': the longest period fits" -- xl limit set 8999 "1/100 years"
assert_eq "$(xl limit list --json | jget '[l["period"] for r in d if r["port"] == 8999 for l in r["limits"]]')" \
	"[3110400000]" "limit list: a period of 100 years"
put_rule 7777 4294967295 1000 5 1000000000
put_rule 7778 0 1001 5 1000000000
put_rule 7779 1 1002 5 18446744073709551615
put_rule 7780 1 5000 5 1000000000
put_rule 7781 1 1003 5 1000000000 9
put_rule 7782 1 1004 5 1000000000 0 3
put_rule 7783 1 1005 2000000 1000000000 1
put_rule 7784 1 1006 5 1000000000 0 0 128
assert_rc 0 "limit list with bad rules in the map" -- xl limit list
assert_match "$(grep '^7777 ' <<<"$OUT")" "INVALID RULE \(nlimits 4294967295 is not 1\.\.4\)" \
	"limit list: nlimits 2^32-1 is shown as invalid"
assert_match "$(grep '^7778 ' <<<"$OUT")" "INVALID RULE \(nlimits 0 is not 1\.\.4\)" \
	"limit list: nlimits 0 is shown as invalid"
assert_match "$(grep '^7779 ' <<<"$OUT")" "INVALID RULE \(limit 0: period 18446744073709551615 ns is not 1 to 3110400000 s\)" \
	"limit list: a period past 100 years is shown as invalid"
assert_match "$(grep '^7780 ' <<<"$OUT")" "INVALID RULE \(slot 5000 is not 0\.\.1023\)" \
	"limit list: a stats slot out of range is shown as invalid"
assert_match "$(grep '^7781 ' <<<"$OUT")" "INVALID RULE \(unknown strategy 9 \(limit 0\)\)" \
	"limit list: an unknown strategy is shown as invalid"
assert_match "$(grep '^7782 ' <<<"$OUT")" "INVALID RULE \(a burst applies to token-bucket only, not fixed-window \(limit 0\)\)" \
	"limit list: a burst on a fixed window is shown as invalid"
assert_match "$(grep '^7783 ' <<<"$OUT")" "INVALID RULE \(amount 2000000 is over 1048575, the most a sliding-window limit counts \(limit 0\)\)" \
	"limit list: a sliding window past its amount is shown as invalid"
assert_match "$(grep '^7784 ' <<<"$OUT")" "INVALID RULE \(unknown flags 0x80\)" \
	"limit list: an unknown flag is shown as invalid"
assert_eq "$(xl limit list --json | jget '[(r["port"], len(r["limits"]), "invalid" in r) for r in d if 7777 <= r["port"] <= 7780]')" \
	"[[7777,4,true],[7778,0,true],[7779,1,true],[7780,1,true]]" \
	"limit list --json: bad rules flagged, at most 4 limits shown"
assert_rc 0 "status with bad rules in the map" -- xls status
assert_match "$(grep 'port 7777' <<<"$OUT")" "INVALID RULE" "status: the bad rule is flagged"
assert_rc 0 "stats with a stats slot out of range" -- xl stats --json
assert_eq "$(jget '[r["seen"] for r in d if r["port"] == 7780]' <<<"$OUT")" "[0]" \
	"stats: a rule whose slot is out of range has zero counters"
for p in 7777 7778 7779 7781; do
	assert_rc 1 "query on port $p's bad rule fails" -- xl query 198.18.0.1 "$p"
	assert_match "$ERR" "rule for the port is invalid" "query on port $p says the rule is invalid"
done
snap_forget
bad "the rule of port 7777 in the map is invalid (nlimits 4294967295 is not 1..4); replace it" \
	"limit add onto a rule with nlimits 2^32-1" -- xl limit add 7777 1/second
bad "the rule of port 7778 in the map is invalid (nlimits 0" \
	"limit add onto a rule with nlimits 0" -- xl limit add 7778 1/second
assert_rc 0 "limit set replaces a bad rule" -- xl limit set 7777 1/second
assert_eq "$(xl limit list --json | jget '[("invalid" in r, len(r["limits"])) for r in d if r["port"] == 7777]')" \
	"[[false,1]]" "limit set: the replaced rule is valid"
for p in 7777 7778 7779 7780 7781 7782 7783 7784 8999; do
	assert_rc 0 "limit del $p" -- xl limit del "$p"
done
snap_forget

# --- detach and unload ------------------------------------------------------------

assert_rc 0 "detach" -- xls detach "$VETH_SRV"
assert_eq "$OUT" "$VETH_SRV: detached" "detach says so"
assert_eq "$(xls status --json | jget 'd["interfaces"]')" "[]" "status --json: no interface after detach"
assert_rc 0 "detach again: not attached" -- xls detach "$VETH_SRV"
assert_eq "$OUT" "$VETH_SRV: not attached" "detach again says so"
assert_rc 0 "attach --mode generic" -- xls attach "$VETH_SRV" --mode generic
assert_eq "$(xls status --json | jget '[(i["name"], i["mode"]) for i in d["interfaces"]]')" \
	"[[\"$VETH_SRV\",\"generic\"]]" "status --json: generic mode"
assert_rc 0 "unload while attached" -- xl unload
assert_eq "$(ip -n "$NS_SRV" link show "$VETH_SRV" | grep -c xdp)" 0 \
	"unload detached the program from the interface"
assert_eq "$(ls -d "$XL_PIN" 2>/dev/null)" "" "unload removes the pin directory"
assert_rc 0 "unload again" -- xl unload
assert_eq "$(ls -d "$XL_PIN" 2>/dev/null)" "" "unload again: still no pin directory"
snap_forget
bad "$HINT" "status after unload" -- xl status
bad "$HINT" "limit set after unload" -- xl limit set 80 10/second


# --- pin directories off bpffs are refused ------------------------------------------

# On a scratch tmpfs: a --pin-dir whose parent is not on bpffs must be
# refused (exit 2) without mounting bpffs over the parent, which would hide
# what it holds; an existing directory off bpffs too. Inside a bpffs
# mounted elsewhere, any directory works.
SCR=$XL_TMP/scratch
mkdir -p "$SCR"
mount -t tmpfs xltest-scratch "$SCR"
# (a loop: code that mounts over the scratch directory stacks mounts)
XL_CLEANUPS+=("for i in 1 2 3 4; do umount -R -l '$SCR' || break; done")
mkdir "$SCR/etc"
echo kept >"$SCR/etc/file"
assert_rc 2 "load --pin-dir in a directory off bpffs: refused" \
	-- "$XLIMIT_BIN" --pin-dir "$SCR/etc/xlimit" load
assert_match "$ERR" "is not on a bpf filesystem.*mount -t bpf bpf DIR" \
	"the refusal says the directory must be on bpffs and how to mount one"
assert_eq "$(cat "$SCR/etc/file" 2>&1)" kept "the parent's files are still there (nothing mounted over it)"
assert_eq "$(findmnt -rn -o TARGET | grep -c "^$SCR/")" 0 "nothing is mounted under the scratch directory"
assert_eq "$(ls "$SCR/etc")" file "no pin directory was made"
assert_rc 2 "attach --pin-dir an existing directory off bpffs: refused" \
	-- "$XLIMIT_BIN" --pin-dir "$SCR/etc" attach lo
assert_eq "$(ip link show lo | grep -c xdp)" 0 "nothing attached to lo"
assert_rc 2 "load --pin-dir with a missing parent: refused" \
	-- "$XLIMIT_BIN" --pin-dir "$SCR/nope/xlimit" load
assert_match "$ERR" "parent directory" "the refusal names the parent directory"
mkdir "$SCR/bpf"
mount -t bpf bpf "$SCR/bpf"
XL_CLEANUPS+=("rm -f '$(xl_lock_file "$(realpath "$SCR")/bpf/xl")'")
assert_rc 0 "load --pin-dir inside a bpffs mounted elsewhere" \
	-- "$XLIMIT_BIN" --pin-dir "$SCR/bpf/xl" load
assert_eq "$(ls "$SCR/bpf/xl" | wc -l)" 23 "the 18 maps and 5 programs are pinned there"
assert_rc 0 "unload it" -- "$XLIMIT_BIN" --pin-dir "$SCR/bpf/xl" unload
assert_eq "$(ls -d "$SCR/bpf/xl" 2>/dev/null)" "" "unload removed it"

# /sys/fs/bpf, the kernel's mount point for bpffs, is mounted when it is
# missing: in a mount namespace of the test's own, where it is unmounted,
# with a PID namespace of its own so that it is the namespace xlimit
# starts from (not one that dies with the command, see test_load.sh).
MNS_PIN=/sys/fs/bpf/xltest_m_$$
XL_CLEANUPS+=("rm -f '$(xl_lock_file "$MNS_PIN")'")
got=$(unshare -m -p -f --mount-proc --propagation private bash -c '
	for i in 1 2 3 4 5 6 7 8; do mountpoint -q /sys/fs/bpf || break; umount -l /sys/fs/bpf; done
	mountpoint -q /sys/fs/bpf && { echo "still mounted"; exit 1; }
	"$1" --pin-dir "$2" load || exit 1
	echo "$(stat -f -c %T /sys/fs/bpf) $(ls "$2" | wc -l)"
	"$1" --pin-dir "$2" unload' _ "$XLIMIT_BIN" "$MNS_PIN" 2>&1)
assert_eq "$got" "bpf_fs 23" "load mounts bpffs on /sys/fs/bpf when it is missing there"

# --- load and unload racing ------------------------------------------------------------

# Two loops of load and two of unload on one pin directory: every command
# succeeds, and at the end the directory is whole (8 maps, 3 programs) or
# absent, never half made.
RACE_PIN=/sys/fs/bpf/xltest_r_$$
XL_CLEANUPS+=("'$XLIMIT_BIN' --pin-dir '$RACE_PIN' unload; rm -rf '$RACE_PIN' '$(xl_lock_file "$RACE_PIN")'")
pids=()
for w in l1 l2 u1 u2; do
	cmd=load
	[[ $w == u* ]] && cmd=unload
	(for ((i = 0; i < 12; i++)); do
		"$XLIMIT_BIN" --pin-dir "$RACE_PIN" "$cmd" 2>&1 || echo "$cmd exit $?"
	done) >"$XL_TMP/race.$w" &
	pids+=($!)
done
wait "${pids[@]}"
assert_eq "$(cat "$XL_TMP"/race.*)" "" "48 loads and unloads racing: none fails"
n=$(ls "$RACE_PIN" 2>/dev/null | wc -l)
if [ ! -e "$RACE_PIN" ] || [ "$n" == 23 ]; then
	ok "after the race the pin directory is absent or whole"
else
	fail "after the race the pin directory holds $n entries: $(ls "$RACE_PIN")"
fi
assert_rc 0 "load after the race" -- "$XLIMIT_BIN" --pin-dir "$RACE_PIN" load
assert_eq "$(ls "$RACE_PIN" | wc -l)" 23 "load after the race: whole"
assert_rc 0 "unload after the race" -- "$XLIMIT_BIN" --pin-dir "$RACE_PIN" unload
assert_eq "$(ls -d "$RACE_PIN" 2>/dev/null)" "" "unload after the race: gone"

summary
