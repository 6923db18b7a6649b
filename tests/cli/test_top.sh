#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Tests of `xlimit top` on a private pin directory, with clients written
# into xl_state with bpftool as the datapath would have counted them
# (windows as include/xlimit.h's struct xl_window describes: start in units
# of 2^20 ns of CLOCK_MONOTONIC_COARSE above a 24-bit count). Checked: the
# order (over first, then remaining / amount, then reset), the limit each
# client reports (as `xlimit query` does, same remaining and reset),
# clients whose windows all expired left out, IPv6 sources as their /64,
# the port 0 rule for ports without one, -n (default 10, 0 for all),
# --port, the --json members, text columns aligned, and that reading
# changes no map. The clients of the sidecar's routes, charged through
# xlimit-sidecar's auth_request endpoint (the pinned prog_route, as for
# nginx's subrequests), are ranked among them: each row names its route
# (path, methods, the default limits, a route of port 0), in text and
# --json, --port takes a port's route counts, --ports and --routes one
# kind, a route count whose window expired is left out,
# and a route that fails xl_route_check is left out with a warning.
# A map of 100001 clients is listed whole, through batch
# lookups (a few dozen bpf syscalls, not one per key), with the right top
# client. A client of a rule that fails xl_rule_check is left out, with a
# warning naming the rule. Bad input is in test_cli.sh's corpus.

set -u
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$CLI_DIR/../lib/lib.sh"

SIDECAR_BIN=${SIDECAR_BIN:-$XL_TOP/build/xlimit-sidecar}
A=9091 # the sidecar's auth_request endpoint, in its own namespace

xl_test_init
xl_need bpftool strace timeout curl "$SIDECAR_BIN"

# state SPEC...: bpftool batch lines that write one client each; SPEC is
# ADDRESS,PORT,AGO,COUNT[,COUNT...]: windows opened AGO seconds ago with
# those counts, one per limit of the port's rule. With ROUTE=ID set, the
# client's count of route ID in xl_route_state instead.
state() {
	"$PY" - "$XL_PIN" "${ROUTE:-}" "$@" <<'EOF'
import ipaddress, struct, sys, time
pin, route = sys.argv[1], sys.argv[2]
now = time.clock_gettime_ns(6)  # CLOCK_MONOTONIC_COARSE
for spec in sys.argv[3:]:
    a, port, ago, *counts = spec.split(",")
    ip = ipaddress.ip_address(a)
    addr = ip.packed if ip.version == 6 else b"\0" * 10 + b"\xff\xff" + ip.packed
    key = addr + struct.pack("<HH", int(port), 0)
    if route:
        key += struct.pack("<I", int(route))
    start = (now - int(ago) * 10**9) >> 20
    words = [start << 24 | int(c) for c in counts] + [0] * (4 - len(counts))
    print("map update pinned %s/%s key hex %s value hex %s"
          % (pin, "xl_route_state" if route else "xl_state", key.hex(" "),
             struct.pack("<4Q", *words).hex(" ")))
EOF
}

# misaligned: the rows of top's text output ($OUT) whose values are not
# under their headers: the text columns (port, route, limit) start where
# their header starts, remaining (a number) ends where its header ends.
misaligned() {
	awk 'NR == 1 {h = $0; n = split("port route limit", c, " ")
		for (i = 1; i <= n; i++) s[i] = index(h, c[i])
		r = index(h, "remaining") + length("remaining"); next}
	{ for (i = 1; i <= n; i++)
		if (substr($0, s[i], 1) == " " || substr($0, s[i] - 1, 1) != " ") bad++
	  if (substr($0, r - 1, 1) == " " || substr($0, r, 1) != " ") bad++ }
	END {print bad + 0}' <<<"$OUT"
}

# Addresses and ports in the order top lists them.
order() { jget '" ".join("%s:%d" % (e["address"], e["port"]) for e in d)'; }

assert_rc 0 "load" -- xl load
assert_rc 0 "rules" -- sh -c "'$XLIMIT_BIN' --pin-dir '$XL_PIN' limit set 80 10/minute &&
	'$XLIMIT_BIN' --pin-dir '$XL_PIN' limit set 443 5/minute,100/hour &&
	'$XLIMIT_BIN' --pin-dir '$XL_PIN' limit set 0 20/minute"
assert_rc 0 "top of an empty map" -- xl top --json
assert_eq "$OUT" "[]" "top of an empty map: an empty array"

# 198.18.0.7:82 (port 0's rule) and 198.18.0.3:80 are over; .7's window
# opened 30 s earlier, so it resets first. 2001:2::/64 has 1 of 100 left
# in its hour, 198.18.0.4 1 of 5 in its minute; 198.18.0.1 7 of 10,
# 198.18.0.5 (port 0's rule) 15 of 20. 198.18.0.6's window has expired.
CLIENTS="198.18.0.1,80,0,3 198.18.0.3,80,0,10 198.18.0.4,443,0,4,1
	2001:2::,443,0,1,99 198.18.0.5,81,0,5 198.18.0.6,80,120,9
	198.18.0.7,82,30,25"
# shellcheck disable=SC2086 # one word per client
state $CLIENTS | bpftool batch file - >/dev/null
before=$(bpftool map dump pinned "$XL_PIN/xl_state" | sort)
WANT="198.18.0.7:82 198.18.0.3:80 2001:2::/64:443 198.18.0.4:443 198.18.0.1:80 198.18.0.5:81"

assert_rc 0 "top --json" -- xl top --json
assert_eq "$(order <<<"$OUT")" "$WANT" "top: over first, then remaining / amount, then reset"
assert_eq "$(jget '[sorted(e) for e in d][0]' <<<"$OUT")" \
	'["address","amount","limit","over","period","port","remaining","reset","retry_after","strategy"]' \
	"top --json: the members of query --json, and over"
assert_eq "$(jget '[e["over"] for e in d]' <<<"$OUT")" \
	"[true,true,false,false,false,false]" "top --json: over is remaining 0"
assert_eq "$(jget '[[e["limit"], e["amount"], e["period"], e["remaining"]] for e in d]' <<<"$OUT")" \
	'[["20 per 1 minute",20,60,0],["10 per 1 minute",10,60,0],["100 per 1 hour",100,3600,1],["5 per 1 minute",5,60,1],["10 per 1 minute",10,60,7],["20 per 1 minute",20,60,15]]' \
	"top --json: the reported limit of each client and what remains of it"
top=$OUT

# The reset query computes for the same window. Both convert the
# monotonic end to UTC at their own moment, with the coarse clock (4 ms
# steps): floor() may land a second apart at a boundary, never more.
for c in "198.18.0.4 443 0 3" "2001:2::9 443 1 2" "198.18.0.7 82 0 0"; do
	read -r a p l i <<<"$c"
	q=$(xl query "$a" "$p" --json)
	assert_eq "$(jget "d['limits'][$l]['remaining']" <<<"$q")" \
		"$(jget "d[$i]['remaining']" <<<"$top")" "top and query agree on remaining ($a port $p)"
	d=$(($(jget "d['limits'][$l]['reset']" <<<"$q") - $(jget "d[$i]['reset']" <<<"$top")))
	if [ "${d#-}" -le 1 ]; then
		ok "top and query agree on reset ($a port $p)"
	else
		fail "top and query agree on reset ($a port $p): $d s apart"
	fi
done

assert_rc 0 "top -n 2" -- xl top -n 2 --json
assert_eq "$(order <<<"$OUT")" "198.18.0.7:82 198.18.0.3:80" "top -n 2: the first two"
assert_rc 0 "top -n 0" -- xl top -n 0 --json
assert_eq "$(order <<<"$OUT")" "$WANT" "top -n 0: all"
assert_rc 0 "top --port 443" -- xl top --port 443 --json
assert_eq "$(order <<<"$OUT")" "2001:2::/64:443 198.18.0.4:443" "top --port 443: that port's clients"
assert_rc 0 "top --port 443 -n 1" -- xl top --port 443 -n 1 --json
assert_eq "$(order <<<"$OUT")" "2001:2::/64:443" "top --port 443 -n 1"
assert_rc 0 "top --port 9" -- xl top --port 9 --json
assert_eq "$OUT" "[]" "top --port of a port without clients: an empty array"

assert_rc 0 "top (text)" -- xl top
assert_eq "$(awk 'NR > 1 {print $1 ":" $2}' <<<"$OUT" | tr '\n' ' ')" "$WANT " \
	"top (text): the same order"
assert_eq "$(awk 'NR > 1 {print $NF}' <<<"$OUT" | tr '\n' ' ')" "yes yes no no no no " \
	"top (text): the over column"
assert_eq "$(misaligned)" 0 "top (text): columns aligned under their headers"
assert_eq "$(bpftool map dump pinned "$XL_PIN/xl_state" | sort)" "$before" "top changed nothing in xl_state"

# --- the clients of the sidecar's routes -----------------------------------------

# Routes on 8080, and one of port 0 (every port without routes of its
# own); 8080 and 8081 have port rules far from their limits, so that the
# sidecar's charges of the ports stay at the end of the list.
assert_rc 0 "routes and their ports' rules" -- sh -c "x() { '$XLIMIT_BIN' --pin-dir '$XL_PIN' \"\$@\"; } &&
	x limit set 8080 1000/hour && x limit set 8081 1000/hour &&
	x route add 8080 /login '3 per hour' --methods POST &&
	x route add 8080 '*' '10 per hour' && x route add 8080 /bad '1 per hour' &&
	x route add 0 '/api/*' '5 per hour' && x route add 8080 /short '2 per second'"
xl_netns_setup
xl_bg sidecar nsenter --net="/run/netns/$NS_SRV" "$SIDECAR_BIN" --pin-dir "$XL_PIN" \
	--auth-listen 127.0.0.1:$A --trust-proxy 127.0.0.1/32
xl_wait_up sidecar http://127.0.0.1:$A/ "$NS_SRV"
# charge CLIENT PORT METHOD PATH: one request, as nginx asks for it;
# prints the status (204, or 429 over a limit).
charge() {
	in_srv curl -s -o /dev/null -w '%{http_code} ' --max-time 5 -H "X-Real-IP: $1" \
		-H "X-Server-Port: $2" -H "X-Original-Method: $3" -H "X-Original-URI: $4" \
		http://127.0.0.1:$A/
}
# 198.18.0.20 over /login (3 per hour); .21 has 1 of 3 left, and 9 of
# the default 10 for a path no route matches; 2001:2::/64 on 8081, port
# 0's /api/*, 3 of 5; .22 over /bad, which is made invalid below.
codes=$(for i in 1 2 3 4; do charge 198.18.0.20 8080 POST /login; done
	charge 198.18.0.21 8080 POST /login; charge 198.18.0.21 8080 POST /login
	charge 198.18.0.21 8080 GET /elsewhere
	charge 2001:2::9 8081 GET /api/a; charge 2001:2::9 8081 PUT /api/b
	charge 198.18.0.22 8080 GET /bad; charge 198.18.0.22 8080 GET /bad)
assert_eq "$codes" "204 204 204 429 204 204 204 204 204 204 429 " "the sidecar charged the routes"
# 198.18.0.23 went over /short (2 per second) 5 seconds ago: expired,
# as good as never seen.
short=$(xl route list 8080 --json | jget '[r["id"] for r in d if r["path"] == "/short"][0]')
ROUTE=$short state 198.18.0.23,8080,5,2 | bpftool batch file - >/dev/null
# The wrong flags on /bad: xl_route_check refuses it.
badkey=$("$PY" -c '
import struct; print((struct.pack("<HH", 8080, 0) + b"/bad".ljust(128, b"\0")).hex(" "))')
# shellcheck disable=SC2046,SC2086 # the key's and value's bytes, one word each
bpftool map update pinned "$XL_PIN/xl_routes" key hex $badkey \
	value $(bpftool -j map lookup pinned "$XL_PIN/xl_routes" key hex $badkey |
	jget '" ".join(d["value"][:144] + ["0x02"] + d["value"][145:])') || fail "write /bad's flags"
rbefore=$(bpftool map dump pinned "$XL_PIN/xl_route_state" | sort)
# The port clients as at the start, written again just before the checks
# that list them: .7's window, opened 30 s before the write, must outlast
# those checks, and the sidecar's start and the charges above can take a
# good part of that on a loaded machine.
# shellcheck disable=SC2086 # one word per client
state $CLIENTS | bpftool batch file - >/dev/null

# Addresses, ports and routes in the order top lists them.
rorder() { jget '"|".join("%s:%d%s" % (e["address"], e["port"], " " + e["route"]["path"] if "route" in e else "") for e in d)'; }
WANT_R="198.18.0.7:82|198.18.0.3:80|198.18.0.20:8080 /login|2001:2::/64:443|198.18.0.4:443|198.18.0.21:8080 /login|2001:2::/64:8081 /api/*|198.18.0.1:80|198.18.0.5:81|198.18.0.21:8080 *"
assert_rc 0 "top -n 10 --json with route clients" -- xl top -n 10 --json
assert_eq "$(rorder <<<"$OUT")" "$WANT_R" \
	"top: route clients ranked among port clients (over first, then remaining / amount, then reset)"
assert_match "$ERR" "route for port 8080 path '/bad' is invalid \(unknown flags\): its clients are left out" \
	"top: says which route is invalid"
assert_eq "$(jget 'sorted(set(tuple(sorted(e)) for e in d if "route" not in e))' <<<"$OUT")" \
	'[["address","amount","limit","over","period","port","remaining","reset","retry_after","strategy"]]' \
	"top --json: port rows keep their members"
assert_eq "$(jget 'sorted(set(tuple(sorted(e)) for e in d if "route" in e))' <<<"$OUT")" \
	'[["address","amount","limit","over","period","port","remaining","reset","retry_after","route","strategy"]]' \
	"top --json: route rows have route besides"
id=$(xl route list 8080 --json | jget '[r["id"] for r in d if r["path"] == "/login"][0]')
assert_eq "$(jget 'd[2]' <<<"$OUT" | jget '[d["route"], d["limit"], d["amount"], d["remaining"], d["over"]]')" \
	"[{\"port\":8080,\"path\":\"/login\",\"methods\":[\"POST\"],\"default\":false,\"id\":$id},\"3 per 1 hour\",3,0,true]" \
	"top --json: the client over /login: its route, its limit, remaining 0, over"
assert_eq "$(jget '[[e["route"]["port"], e["route"]["path"], e["route"]["methods"], e["remaining"], e["amount"]] for e in d if e["port"] == 8081]' <<<"$OUT")" \
	'[[0,"/api/*",[],3,5]]' "top --json: a route of port 0, under the port the client connected to"
q=$(xl query 198.18.0.21 8080 --json)
assert_eq "$(jget '[r["limits"][0]["remaining"] for r in d["routes"] if r["path"] == "/login"]' <<<"$q")" \
	"$(jget '[e["remaining"] for e in d if e["address"] == "198.18.0.21" and e.get("route", {}).get("path") == "/login"]' <<<"$OUT")" \
	"top and query agree on a route count's remaining"

assert_rc 0 "top --routes" -- xl top --routes -n 0 --json
assert_eq "$(rorder <<<"$OUT")" "198.18.0.20:8080 /login|198.18.0.21:8080 /login|2001:2::/64:8081 /api/*|198.18.0.21:8080 *" \
	"top --routes: the route counts only, the client over its route first, an expired one left out"
assert_eq "$(bpftool -j map dump pinned "$XL_PIN/xl_route_state" | jget '[e["formatted"]["key"]["route"] for e in d].count('"$short"')')" 1 \
	"the expired count of /short is in xl_route_state"
assert_rc 0 "top --ports" -- xl top --ports -n 0 --json
assert_eq "$(jget 'any("route" in e for e in d)' <<<"$OUT")" "false" "top --ports: no route rows"
assert_eq "$(rorder <<<"$OUT" | cut -d'|' -f1-6)" "${WANT// /|}" "top --ports: the port clients as before"
assert_eq "$ERR" "" "top --ports: routes not read, no warning"
assert_rc 0 "top --port 8080" -- xl top --port 8080 -n 3 --json
assert_eq "$(rorder <<<"$OUT")" "198.18.0.20:8080 /login|198.18.0.21:8080 /login|198.18.0.21:8080 *" \
	"top --port 8080: its route clients, then its rule's"
assert_rc 0 "top --port 8081 --routes" -- xl top --port 8081 --routes --json
assert_eq "$(rorder <<<"$OUT")" "2001:2::/64:8081 /api/*" "top --port 8081 --routes: port 0's route, counted on 8081"

assert_rc 0 "top (text) with route clients" -- xl top -n 10
assert_match "$OUT" "^address +port +route +limit +remaining " "top (text): a route column after port"
assert_match "$OUT" $'\n198\\.18\\.0\\.20 +8080 +/login POST +3 per 1 hour +0 [^\n]* yes\n' \
	"top (text): the client over /login, its route named with its methods"
assert_match "$OUT" $'\n2001:2::/64 +8081 +/api/\\* \\(port 0\\) +5 per 1 hour +3 ' \
	"top (text): a route of port 0 says so"
assert_match "$OUT" $'\n198\\.18\\.0\\.7 +82 +- +20 per 1 minute +0 ' "top (text): a port row has route '-'"
assert_eq "$(misaligned)" 0 "top (text): columns aligned under their headers, route names of every width"
assert_eq "$(bpftool map dump pinned "$XL_PIN/xl_route_state" | sort)" "$rbefore" "top changed nothing in xl_route_state"

# The routes go with their counts: the sections below see ports only.
assert_rc 0 "route del" -- sh -c "x() { '$XLIMIT_BIN' --pin-dir '$XL_PIN' \"\$@\"; } &&
	x route del 8080 /login && x route del 8080 '*' && x route del 8080 /bad && x route del 0 '/api/*' &&
	x route del 8080 /short"

# --- a large map: batch lookups, the whole map ---------------------------------

assert_rc 0 "rule for port 5000" -- xl limit set 5000 1000/hour
"$PY" - "$XL_PIN" <<'EOF' | bpftool batch file - >/dev/null
import struct, sys, time
pin = sys.argv[1]
start = time.clock_gettime_ns(6) >> 20
out = []
for i in range(100001):
    # 198.18.3.232 onwards; the last one, written last, has 1 left.
    addr = b"\0" * 10 + b"\xff\xff" + struct.pack(">I", (198 << 24 | 18 << 16) + 1000 + i)
    count = 999 if i == 100000 else i % 900
    out.append("map update pinned %s/xl_state key hex %s value hex %s" % (pin,
        (addr + struct.pack("<HH", 5000, 0)).hex(" "),
        struct.pack("<4Q", start << 24 | count, 0, 0, 0).hex(" ")))
print("\n".join(out))
EOF
assert_rc 0 "top --port 5000 -n 0 of 100001 clients" -- \
	timeout 120 strace -f -qq -c -e trace=bpf -o "$XL_TMP/strace" "$XLIMIT_BIN" --pin-dir "$XL_PIN" top --port 5000 -n 0 --json
assert_eq "$(jget 'len(d)' <<<"$OUT")" 100001 "top -n 0: every one of 100001 clients listed"
assert_eq "$(jget '"%s %d" % (d[0]["address"], d[0]["remaining"])' <<<"$OUT")" "198.19.138.136 1" \
	"top of 100001 clients: the one with the least left first"
calls=$(awk '$NF == "bpf" {print $4}' "$XL_TMP/strace")
if [ -n "$calls" ] && [ "$calls" -lt 1000 ]; then
	ok "100001 clients read in $calls bpf syscalls (batches, not one per key)"
else
	fail "100001 clients read in '${calls}' bpf syscalls, expected batches (< 1000): $(cat "$XL_TMP/strace")"
fi
# Writing and reading 100001 clients can outlast .7's minute under load:
# the two over clients are written again, as at the start.
OVER="198.18.0.3,80,0,10 198.18.0.7,82,30,25"
# shellcheck disable=SC2086 # one word per client
state $OVER | bpftool batch file - >/dev/null
assert_rc 0 "top (default -n) of the large map" -- timeout 120 "$XLIMIT_BIN" --pin-dir "$XL_PIN" top --json
assert_eq "$(jget 'len(d)' <<<"$OUT")" 10 "top: 10 clients by default"
assert_eq "$(order <<<"$OUT" | cut -d' ' -f1-3)" "198.18.0.7:82 198.18.0.3:80 198.19.138.136:5000" \
	"top of every port: the over clients, then the least left for the amount"

# A rule written by hand that xl_rule_check refuses (5 per minute, but a
# stats slot out of range): its client, over it, is left out with a
# warning, and the rest is listed.
# shellcheck disable=SC2046
bpftool map update pinned "$XL_PIN/xl_rules" key hex 61 1e value hex $("$PY" -c '
import struct
print((struct.pack("<II", 1, 5000) + struct.pack("<QQIIII", 5, 60 * 10**9, 0, 0, 0, 0) + bytes(104)).hex(" "))')
# shellcheck disable=SC2086 # one word per client
state 198.18.0.9,7777,0,50 $OVER | bpftool batch file - >/dev/null
assert_rc 0 "top with an invalid rule in the map" -- xl top -n 3 --json
assert_match "$ERR" "rule for port 7777 is invalid \(slot 5000 is not 0\.\.1023\)" \
	"top: says which rule is invalid"
assert_eq "$(order <<<"$OUT")" "198.18.0.7:82 198.18.0.3:80 198.19.138.136:5000" \
	"top: the invalid rule's client left out, the others listed"

summary
