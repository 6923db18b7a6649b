#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Tests of `xlimit route add|del|list` through the real binary on a
# private pin directory (loaded, no interface): every kind of route (exact,
# prefix, the port's default "*", methods, a message, exempt, a route
# counting the default limits, a token bucket) is listed in text and
# --json as it was given and dumped by bpftool with field names; adding a
# route again keeps its id; del with and without --methods. Each route has
# its counters (passed, limited, exempted) in xl_route_stats from its add
# to its del, kept when its limits change, summed over the CPUs by route
# list, stats and status. A corpus of bad
# inputs (paths, methods, limit strings, ports, messages, option mixes, a
# missing route, a ninth route of one path, an exempt path shared, a full
# map) must each exit 2, name what is wrong on stderr, print nothing on
# stdout and leave the maps and the pin directory as they were.

set -u
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$CLI_DIR/../lib/lib.sh"

MAPS="xl_routes xl_route_state xl_route_stats xl_config xl_rules"

xl_test_init

snap() { xl_snap_maps $MAPS; }


# rjson EXPR: EXPR over `route list --json` (d).
rjson() { xl route list --json | jget "$1"; }

# --- before load ---------------------------------------------------------------

assert_rc 2 "route list before load: exit 2" -- xl route list
assert_match "$ERR" "xlimit 'attach IFACE'|run 'xlimit attach IFACE'" "route list before load: says to attach"
assert_rc 2 "route add before load: exit 2" -- xl route add 8080 /a "1/second"
for c in add del list; do
	assert_rc 0 "route $c --help: exit 0" -- xl route $c --help
	assert_match "$OUT" "Usage: xlimit route add PORT PATH" "route $c --help: the usage"
done

assert_rc 0 "load" -- xl load

# --- add and list ----------------------------------------------------------------

assert_rc 0 "add the default route" -- xl route add 8080 '*' "5 per 10 seconds"
assert_rc 0 "add an exact route with a message" -- \
	xl route add 8080 /limited "3 per 10 seconds" --message 'slow <down> "now"'
assert_rc 0 "add a prefix route" -- xl route add 8080 '/api/*' "4/10 seconds"
assert_rc 0 "add an exact route under the prefix" -- xl route add 8080 /api/special "1 per 10 seconds"
assert_rc 0 "add a GET-only route (methods in any case)" -- xl route add 8080 /get-only "2 per 10 seconds" --methods get
assert_rc 0 "add a POST,PUT route on the same path" -- xl route add 8080 /get-only "7 per minute" --methods PUT,post
assert_rc 0 "add an exempt route" -- xl route add 8080 /free --exempt
assert_rc 0 "add a route counting the default limits" -- xl route add 8080 /plain
assert_rc 0 "add a token-bucket route" -- xl route add 8080 /tb "10/second" --strategy token-bucket --burst 3
assert_rc 0 "add a route on port 0" -- xl route add 0 /x "1/hour;10/day"

assert_rc 0 "route list" -- xl route list
assert_eq "$OUT" "0     /x                       any      1 per 1 hour; 10 per 1 day (passed 0, limited 0)
8080  *                        any      5 per 10 second (passed 0, limited 0)
8080  /api/*                   any      4 per 10 second (passed 0, limited 0)
8080  /api/special             any      1 per 10 second (passed 0, limited 0)
8080  /free                    any      exempt (exempted 0)
8080  /get-only                GET      2 per 10 second (passed 0, limited 0)
8080  /get-only                POST,PUT 7 per 1 minute (passed 0, limited 0)
8080  /limited                 any      3 per 10 second; message \"slow <down> \"now\"\" (passed 0, limited 0)
8080  /plain                   any      the port's default limits (passed 0, limited 0)
8080  /tb                      any      token-bucket: 10 per 1 second (burst 3) (passed 0, limited 0)" \
	"route list: every route, by port, then path, then methods"
assert_rc 0 "route list 0" -- xl route list 0
assert_eq "$(wc -l <<<"$OUT")" 1 "route list PORT: that port's routes only"

assert_eq "$(rjson '[(r["port"], r["path"], r["match"]) for r in d]')" \
	'[[0,"/x","exact"],[8080,"*","default"],[8080,"/api/*","prefix"],[8080,"/api/special","exact"],[8080,"/free","exact"],[8080,"/get-only","exact"],[8080,"/get-only","exact"],[8080,"/limited","exact"],[8080,"/plain","exact"],[8080,"/tb","exact"]]' \
	"route list --json: port, path, match"
assert_eq "$(rjson '[r["methods"] for r in d if r["path"] == "/get-only"]')" '[["GET"],["POST","PUT"]]' \
	"route list --json: methods"
assert_eq "$(rjson '[(r["exempt"], r["limits"]) for r in d if r["path"] in ("/free", "/plain")]')" \
	'[[true,[]],[false,[]]]' "route list --json: exempt, and a route without limits"
assert_eq "$(rjson '[r for r in d if r["path"] == "/limited"][0]["message"]')" 'slow <down> "now"' \
	"route list --json: the message"
assert_eq "$(rjson '[(r["strategy"], r["limits"]) for r in d if r["path"] == "/tb"][0]')" \
	'["token-bucket",[{"limit":"10 per 1 second","amount":10,"period":1,"burst":3}]]' \
	"route list --json: strategy and burst"
assert_eq "$(rjson 'len(set(r["id"] for r in d))')" 10 "route list --json: every route has an id of its own"

dump=$(bpftool -j map dump pinned "$XL_PIN/xl_routes")
assert_eq "$(jget '[(f["key"]["path"], f["value"]["message"], f["value"]["rule"]["limits"][0]["amount"]) for f in (e["formatted"] for e in d) if f["key"]["path"] == "/limited"][0]' <<<"$dump")" \
	'["/limited","slow <down> \"now\"",3]' "bpftool map dump xl_routes: path, message and limits by name"
assert_match "$(bpftool map show pinned "$XL_PIN/xl_route_state")" "lru_hash.*name xl_route_state" \
	"xl_route_state: an LRU, pinned"

# --- add again, del ------------------------------------------------------------

id=$(rjson '[r["id"] for r in d if r["path"] == "/limited"][0]')
assert_rc 0 "add /limited again with other limits" -- xl route add 8080 /limited "9 per minute"
assert_eq "$(rjson '[(r["id"], r["limits"][0]["limit"], r["message"]) for r in d if r["path"] == "/limited"]')" \
	"[[$id,\"9 per 1 minute\",\"\"]]" "add again: replaces the route, keeps its id"
assert_rc 0 "del one method set" -- xl route del 8080 /get-only --methods put,POST
assert_eq "$(rjson '[r["methods"] for r in d if r["path"] == "/get-only"]')" '[["GET"]]' \
	"del --methods: only the route with exactly those methods"
assert_rc 0 "del a path" -- xl route del 8080 /get-only
assert_eq "$(rjson '[r for r in d if r["path"] == "/get-only"]')" '[]' "del without --methods: every route of the path"
assert_rc 0 "del the default" -- xl route del 8080 '*'
assert_eq "$(rjson '[r["path"] for r in d if r["port"] == 8080]')" \
	'["/api/*","/api/special","/free","/limited","/plain","/tb"]' "del '*': the default route is gone"
assert_rc 0 "add the default again" -- xl route add 8080 '*' "5 per 10 seconds"

# --- counters --------------------------------------------------------------------

# rstats ID: the entry of route ID in xl_route_stats as bpftool reads it,
# [passed, limited, exempted] of each CPU; "none" without one.
rstats() {
	bpftool -j map lookup pinned "$XL_PIN/xl_route_stats" key $(($1 & 255)) $(($1 >> 8 & 255)) 0 0 2>/dev/null |
		jget '[v["value"]["c"] for v in d["formatted"]["values"]] if isinstance(d, dict) and "formatted" in d else "none"'
}
ncpu=$($PY -c 'import sys; n = 0
for r in open("/sys/devices/system/cpu/possible").read().strip().split(","):
    a, _, b = r.partition("-"); n += int(b or a) - int(a) + 1
print(n)')
assert_eq "$(bpftool -j map dump pinned "$XL_PIN/xl_route_stats" | jget 'sorted(e["formatted"]["key"] for e in d)')" \
	"$(rjson 'sorted(r["id"] for r in d)')" "xl_route_stats: an entry per route, by its id"
assert_eq "$(rjson 'sorted(set((r["passed"], r["limited"], r["exempted"]) for r in d))')" '[[0,0,0]]' \
	"route list --json: a new route's counters are 0"
id=$(rjson '[r["id"] for r in d if r["path"] == "/limited"][0]')
# What the sidecar's charges would have counted, on every CPU.
bpftool map update pinned "$XL_PIN/xl_route_stats" key $((id & 255)) $((id >> 8 & 255)) 0 0 \
	value 5 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 || fail "write /limited's counters"
assert_eq "$(rjson '[(r["passed"], r["limited"], r["exempted"]) for r in d if r["path"] == "/limited"]')" \
	"[[$((5 * ncpu)),$((2 * ncpu)),0]]" "route list --json: the counters, summed over the $ncpu CPUs"
assert_match "$(xl route list 8080)" "/limited +any +9 per 1 minute \(passed $((5 * ncpu)), limited $((2 * ncpu))\)" \
	"route list: the counters after the limits"
assert_eq "$(xl stats --json | jget '[(r["port"], r["methods"], r["id"], r["passed"], r["limited"]) for r in d if r.get("path") == "/limited"]')" \
	"[[8080,[],$id,$((5 * ncpu)),$((2 * ncpu))]]" "stats --json: a row for the route"
assert_match "$(xl stats)" $'\nroute +path +methods +passed +limited +exempted\n(.*\n)*8080 +/limited +any +'"$((5 * ncpu)) +$((2 * ncpu)) +0"$'\n' \
	"stats: the routes' table"
assert_match "$(xl status)" "routes: +8 \(requests: $((5 * ncpu)) passed, $((2 * ncpu)) limited, 0 exempted\)" \
	"status: the routes and their requests"
assert_rc 0 "add /limited again with a message" -- xl route add 8080 /limited "8 per minute" --message "later"
assert_eq "$(rstats "$id" | jget 'sorted(set(map(tuple, d)))')" "[[5,2,0]]" \
	"a route changed keeps its id and its counters"
assert_rc 0 "del /limited" -- xl route del 8080 /limited
assert_eq "$(rstats "$id")" "none" "del: the route's counters go with it"
assert_rc 0 "add /limited anew" -- xl route add 8080 /limited "9 per minute"
assert_eq "$(rjson '[(r["id"] != '"$id"', r["passed"], r["limited"]) for r in d if r["path"] == "/limited"]')" \
	"[[true,0,0]]" "add anew: a new id, counters from 0"

# --- bad input ---------------------------------------------------------------------

# The snapshot bad() compares sees a route change at all.
snap >"$XL_TMP/snap_old"
xl route add 8080 /seen "1/second" >/dev/null
snap >"$XL_TMP/snap_new"
if cmp -s "$XL_TMP/snap_old" "$XL_TMP/snap_new"; then
	fail "the map snapshot misses a route added"
else
	ok "the map snapshot sees a route added"
fi
xl route del 8080 /seen >/dev/null

long=/$(printf 'a%.0s' {1..130})
bad "bad path 'api'" "a path without /" -- xl route add 8080 api "1/second"
bad "bad path '/a b'" "a blank in a path" -- xl route add 8080 "/a b" "1/second"
bad "'*' at byte 2" "a star inside a path" -- xl route add 8080 "/a*b" "1/second"
bad "no query ('?')" "a query in a path" -- xl route add 8080 "/a?b=1" "1/second"
bad "at most 127" "a path of 131 bytes" -- xl route add 8080 "$long" "1/second"
bad "unknown method 'FETCH'" "an unknown method" -- xl route add 8080 /a "1/second" --methods GET,FETCH
bad "unknown method ''" "an empty method list" -- xl route add 8080 /a "1/second" --methods ""
bad "couldn't parse rate limit string '10 per sec'" "a bad limit" -- xl route add 8080 /a "10 per sec"
bad "more than 4 limits" "five limits" -- xl route add 8080 /a "1/second;2/minute;3/hour;4/day;5/month"
bad "couldn't parse rate limit string '-5/second'" "a negative limit" -- xl route add 8080 /a -5/second
bad "at most 255" "a message of 300 bytes" -- xl route add 8080 /a "1/second" --message "$(printf 'x%.0s' {1..300})"
bad "control character 0x0a" "a message of two lines" -- xl route add 8080 /a "1/second" --message $'a\nb'
bad "bad port '70000'" "port 70000" -- xl route add 70000 /a "1/second"
bad "bad port '-1'" "port -1" -- xl route add -1 /a "1/second"
bad "an exempt route takes no limits" "exempt with limits" -- xl route add 8080 /a "1/second" --exempt
bad "an exempt route takes no limits" "exempt with methods" -- xl route add 8080 /a --exempt --methods GET
bad "the default route '*' takes limits" "a default without limits" -- xl route add 8080 '*'
bad "the default route '*' takes limits" "a default with methods" -- xl route add 8080 '*' "1/second" --methods GET
bad "--burst applies to --strategy token-bucket only" "burst without token-bucket" -- xl route add 8080 /a "1/second" --burst 3
bad "--strategy and --burst go with LIMITS" "a strategy without limits" -- xl route add 8080 /a --strategy sliding-window
bad "unknown strategy 'leaky'" "an unknown strategy" -- xl route add 8080 /a "1/second" --strategy leaky
bad "port 8080 has no route '/nope'" "del of a missing route" -- xl route del 8080 /nope
bad "port 8080 has no route '/tb' with --methods GET" "del of missing methods" -- xl route del 8080 /tb --methods GET
bad "port 9 has no route '/tb'" "del on another port" -- xl route del 9 /tb
bad "is exempt" "a route on an exempt path" -- xl route add 8080 /free "1/second" --methods GET
bad "unexpected argument" "route list with two ports" -- xl route list 1 2
bad "expected PORT, PATH" "route add without a path" -- xl route add 8080
for m in GET HEAD POST PUT DELETE OPTIONS PATCH TRACE; do
	xl route add 8080 /many "1/second" --methods $m >/dev/null || fail "add /many $m"
done
snap_forget
bad "has 8 routes already" "a ninth route of one path" -- xl route add 8080 /many "1/second" --methods CONNECT
bad "has routes already" "exempting a path with routes" -- xl route add 8080 /many --exempt

# A full map: fill it with bpftool (an entry is a key and a value in hex).
n=$(rjson 'len(d)')
$PY - "$XL_PIN/xl_routes" $((1024 - n)) >"$XL_TMP/fill" <<'EOF'
import struct, sys
pin, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    key = struct.pack("<HH", 9000, 0) + (b"/fill/%d" % i).ljust(128, b"\0")
    rule = struct.pack("<II", 1, 100000 + i) + struct.pack("<QQIIII", 1, 10**9, 0, 0, 0, 0) + bytes(32 * 3) + struct.pack("<II", 0, 0)
    value = rule + struct.pack("<II", 0, 0) + bytes(256)
    print("map update pinned %s key hex %s value hex %s" % (pin, " ".join("%02x" % b for b in key), " ".join("%02x" % b for b in value)))
EOF
bpftool batch file "$XL_TMP/fill" >/dev/null
assert_eq "$(rjson 'len(d)')" 1024 "the map is full (1024 routes)"
snap_forget
bad "too many routes" "a route past a full map" -- xl route add 8080 /one-more "1/second"
assert_rc 0 "a full map: a route replaced in place still fits" -- xl route add 8080 /tb "11/second"

# --- query shows no route counts for a client without any ---------------------

assert_rc 0 "query --json without route counts" -- xl query 198.18.0.1 8080 --json
assert_eq "$(jget 'd["routes"]' <<<"$OUT")" '[]' "query --json: routes empty for a client without counts"

summary
