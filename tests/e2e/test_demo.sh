#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# `make demo` (user/demo.sh), the README's first command, does what it
# says: with "5 per 10 seconds" a client gets 5 of 8 connections and an
# allow-listed one 8 of 8; behind xlimit-sidecar with "3 per minute" the
# requests show X-RateLimit-Remaining 2, 1, 0 and the fourth gets 429 with
# Retry-After; after detach the client gets everything; and it leaves no
# namespace, pin directory or process behind.

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"

xl_test_init
xl_need curl "$XL_TOP/build/xlimit-sidecar"

# The demo names its namespaces and pin directory after its pid.
"$XL_TOP/user/demo.sh" >"$XL_TMP/demo.out" 2>&1 &
DPID=$!
(sleep 120 && kill "$DPID") 2>/dev/null &
WATCHDOG=$!
wait $DPID
assert_eq "$?" 0 "the demo runs to its end, within 2 minutes"
pkill -P "$WATCHDOG" sleep; kill "$WATCHDOG" 2>/dev/null
DEMO=$(cat "$XL_TMP/demo.out")
assert_match "$DEMO" "198\.18\.0\.1: 5 of 8 connections got through" \
	"5 per 10 seconds: 5 of a client's 8 connections get through"
assert_match "$DEMO" "198\.18\.0\.3: 8 of 8 connections got through" \
	"an allow-listed client gets all 8"
assert_match "$DEMO" "198\.18\.0\.1: 3 of 3 connections got through" \
	"after detach the client gets everything again"
# The sidecar's four requests, one line each.
SC=$(sed -n '/request 1:/,/== Detach/p' <<<"$DEMO" | tr -d ' ' |
	awk '/^198/ {if (r) print r; r=""; next} /^HTTP|^X-RateLimit-Remaining|^Retry-After/ {r = r $0 " "} END {print r}')
assert_eq "$(sed -n 1p <<<"$SC")" "HTTP/1.1200OK X-RateLimit-Remaining:2 " "sidecar request 1: 200, remaining 2"
assert_eq "$(sed -n 3p <<<"$SC")" "HTTP/1.1200OK X-RateLimit-Remaining:0 " "sidecar request 3: 200, remaining 0"
assert_match "$(sed -n 4p <<<"$SC")" "^HTTP/1.1429TooManyRequests X-RateLimit-Remaining:0 Retry-After:[1-9][0-9]* $" \
	"sidecar request 4: 429 with Retry-After"
LEFT=$({
	ip netns list | grep "^xlt$DPID-"
	ls -d "/sys/fs/bpf/xltest_$DPID" 2>/dev/null
	pgrep -af "xlimit-sidecar --pin-dir /sys/fs/bpf/xltest_$DPID "
})
assert_eq "$LEFT" "" "the demo leaves no namespace, pin directory or sidecar behind"
summary
