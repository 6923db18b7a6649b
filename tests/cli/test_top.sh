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
# changes no map. A map of 100001 clients is listed whole, through batch
# lookups (a few dozen bpf syscalls, not one per key), with the right top
# client. A client of a rule that fails xl_rule_check is left out, with a
# warning naming the rule. Bad input is in test_cli.sh's corpus.

set -u
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$CLI_DIR/../lib/lib.sh"

xl_test_init
xl_need bpftool strace timeout

# state SPEC...: bpftool batch lines that write one client each; SPEC is
# ADDRESS,PORT,AGO,COUNT[,COUNT...]: windows opened AGO seconds ago with
# those counts, one per limit of the port's rule.
state() {
	"$PY" - "$XL_PIN" "$@" <<'EOF'
import ipaddress, struct, sys, time
pin = sys.argv[1]
now = time.clock_gettime_ns(6)  # CLOCK_MONOTONIC_COARSE
for spec in sys.argv[2:]:
    a, port, ago, *counts = spec.split(",")
    ip = ipaddress.ip_address(a)
    addr = ip.packed if ip.version == 6 else b"\0" * 10 + b"\xff\xff" + ip.packed
    key = addr + struct.pack("<HH", int(port), 0)
    start = (now - int(ago) * 10**9) >> 20
    words = [start << 24 | int(c) for c in counts] + [0] * (4 - len(counts))
    print("map update pinned %s/xl_state key hex %s value hex %s"
          % (pin, key.hex(" "), struct.pack("<4Q", *words).hex(" ")))
EOF
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
state 198.18.0.1,80,0,3 198.18.0.3,80,0,10 198.18.0.4,443,0,4,1 \
	2001:2::,443,0,1,99 198.18.0.5,81,0,5 198.18.0.6,80,120,9 \
	198.18.0.7,82,30,25 | bpftool batch file - >/dev/null
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
# Aligned: each column's values end where its header ends (numbers) or
# start where it starts (text).
cols=$(awk 'NR == 1 {h = $0; p = index(h, "port"); l = index(h, "limit");
	r = index(h, "remaining") + length("remaining"); next}
	{ if (substr($0, p, 1) == " " || substr($0, p - 1, 1) != " " ||
	      substr($0, l - 1, 1) != " " || substr($0, l, 1) == " " ||
	      substr($0, r - 1, 1) == " " || substr($0, r, 1) != " ") bad++ }
	END {print bad + 0}' <<<"$OUT")
assert_eq "$cols" 0 "top (text): columns aligned under their headers"
assert_eq "$(bpftool map dump pinned "$XL_PIN/xl_state" | sort)" "$before" "top changed nothing in xl_state"

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
