#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Tests of `xlimit apply FILE [--check]` and `xlimit dump` (routes too), through the
# real binary on a private pin directory, with a veth in throwaway
# namespaces to attach to. A good file loads, attaches and fills every
# map (checked through the other commands' --json); applied again it
# changes nothing (not even xl_config's generation: the maps are compared
# through bpftool, with a client's counts in xl_state); `dump > f; apply
# f` changes nothing and `apply f; dump` gives back what f says; a second
# file changes only what differs (ports, lists, settings, the mode) and a
# third without interfaces detaches. Every kind of bad file exits 2,
# names FILE:LINE and what is wrong, prints nothing on stdout and leaves
# the pin directory and every map as they were; so does --check on any
# file. An attach that fails part way (native XDP on loopback)
# exits 1 and takes back what was changed, or, when apply was loading,
# leaves nothing loaded.

set -u
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$CLI_DIR/../lib/lib.sh"

# The maps apply writes (xl_over, 40 MB as JSON, only through its
# clients' state: see snap).
MAPS="xl_rules xl_ports xl_rslots xl_state xl_allow xl_deny xl_stats xl_config xl_vcache xl_routes xl_route_state xl_route_stats"
SRV4=198.18.0.2

xl_test_init
xl_netns_setup
# An interface without native XDP: the server namespace's loopback.
NONATIVE=lo

# What apply may change: the pin directory and the maps' contents.
snap_fast() { xl_snap_maps $MAPS; }

# The same and xl_over, by its digest.
snap() {
	snap_fast
	bpftool -j map dump pinned "$XL_PIN/xl_over" 2>&1 | md5sum
}

# What a rollback must restore: the configuration, the rules with their
# slots, and the clients' counts (not xl_config's generation, which every
# change moves on).
snap_conf() {
	xls dump 2>&1
	bpftool -j map dump pinned "$XL_PIN/xl_rules" 2>&1
	bpftool -j map dump pinned "$XL_PIN/xl_state" 2>&1
}

# conf NAME: writes stdin to $XL_TMP/NAME.conf and prints its path.
conf() {
	cat >"$XL_TMP/$1.conf"
	echo "$XL_TMP/$1.conf"
}

# j COMMAND... -- EXPR: EXPR over the JSON that `xls COMMAND --json` prints.
j() {
	local args=()
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	xls "${args[@]}" --json | jget "$2"
}

# syn PORT: one connection attempt from the client namespace to PORT on
# the server, where nothing listens (a SYN let through is answered by a
# RST at once; a dropped one is given up before it is sent again).
syn() {
	nsenter --net="/run/netns/$NS_CLI" timeout 0.3 \
		bash -c ": </dev/tcp/$SRV4/$1" 2>/dev/null || true
}

G1=$(conf good1 <<EOF
# The first configuration: every kind of setting.
version = 1;
max_sources = 4096;
ipv6_prefix = 56;
interfaces = ( { name = "$VETH_SRV"; mode = "native"; } );
ports = (
  { port = 80;
    limits = ( { limit = "10/second;100 per 2 minutes"; action = "drop"; },
               { limit = "1000/hour"; action = "pass"; } ); },
  { port = 0; limits = ( { limit = "5 per 10 seconds"; } ); }  // drop
);
allow = [ "198.18.0.0/24", "2001:2::/48" ];
deny = ( "198.19.0.7" );
EOF
)

# --- --check and bad files before anything is loaded ---------------------------

assert_rc 0 "apply --check of a good file" -- xls apply "$G1" --check
assert_eq "$OUT" "$G1: valid" "apply --check says the file is valid"
assert_eq "$(test -e "$XL_PIN" && echo present)" "" "apply --check loads nothing"
BAD0=$(conf bad0 <<<'ports = ( { port = 80; limits = ( { limit = "10 per sec"; } ); } );')
assert_rc 2 "apply of a bad file before load" -- xls apply "$BAD0"
assert_match "$ERR" "$BAD0:1: couldn't parse rate limit string '10 per sec'" \
	"the bad file's error names FILE:LINE and what is wrong"
assert_eq "$(test -e "$XL_PIN" && echo present)" "" "a bad file loads nothing"
# (its pin group made one every machine has: make install creates xlimit)
sed "s/\"eth0\"/\"$VETH_SRV\"/; s/^pin_group = .*/pin_group = \"root\";/" \
	"$XL_TOP/docs/xlimit.conf.example" >"$XL_TMP/example.conf"
assert_rc 0 "apply --check of docs/xlimit.conf.example (its interface renamed)" -- \
	xls apply "$XL_TMP/example.conf" --check
assert_rc 2 "dump before load" -- xls dump
assert_match "$ERR" "xlimit is not loaded" "dump before load says xlimit is not loaded"

# A failure while loading: nothing stays loaded.
FAILLOAD=$(conf failload <<EOF
interfaces = ( { name = "$VETH_SRV"; }, { name = "$NONATIVE"; mode = "native"; } );
ports = ( { port = 80; limits = ( { limit = "1/second"; } ); } );
EOF
)
assert_rc 1 "apply that cannot attach while loading fails" -- xls apply "$FAILLOAD"
assert_match "$ERR" "native XDP is not supported" "it says which attach failed"
assert_eq "$(test -e "$XL_PIN" && echo present)" "" "a failed apply leaves nothing loaded"
assert_eq "$(ip -n "$NS_SRV" -d link show dev "$VETH_SRV" | grep -c 'prog/xdp')" 0 \
	"a failed apply leaves nothing attached"

# --- the first apply: load, attach, fill -----------------------------------------

assert_rc 0 "apply a good file" -- xls apply "$G1"
assert_match "$OUT" "loaded" "apply says it loaded xlimit"
assert_eq "$(j status -- "[(i['name'], i['mode']) for i in d['interfaces']]")" \
	"[[\"$VETH_SRV\",\"native\"]]" "apply attached the interface in native mode"
assert_eq "$(j status -- "d['max_sources']")" 4096 "apply sized the state map (max_sources)"
assert_eq "$(j limit list -- "[(r['port'], [(l['limit'], l['action']) for l in r['limits']]) for r in d]")" \
	'[[0,[["5 per 10 second","drop"]]],[80,[["10 per 1 second","drop"],["100 per 2 minute","drop"],["1000 per 1 hour","pass"]]]]' \
	"apply set the rules, each limit with its action"
assert_eq "$(j allow list -- d)" '["198.18.0.0/24","2001:2::/48"]' "apply filled the allow list"
assert_eq "$(j deny list -- d)" '["198.19.0.7/32"]' "apply filled the deny list"
assert_eq "$(j config show -- "d['ipv6_prefix']")" 56 "apply set the ipv6 prefix"

# Counts that a second apply must keep.
syn 80
syn 80
syn 8080
assert_eq "$(xls query 198.18.0.1 80 --json | jget "d['limits'][1]['remaining']")" 100 \
	"the client is allowed (allow list): not counted on 80"
xls allow del 198.18.0.0/24 >/dev/null
syn 80
syn 8080
assert_eq "$(xls query 198.18.0.1 80 --json | jget "d['limits'][1]['remaining']")" 99 \
	"the client is counted once the allow list no longer holds it"
assert_rc 0 "apply puts the allow-list entry back" -- xls apply "$G1"
assert_eq "$OUT" "allow: 198.18.0.0/24 added" "apply says what it changed, and only that"

# --- idempotence and round trip -----------------------------------------------------

snap >"$XL_TMP/before"
run_unchanged 0 "" snap -- xls apply "$G1"
assert_eq "$WHY" "" "apply of the same file again changes no map (counts and generation kept)"
assert_eq "$OUT" "$G1: no change" "apply of the same file again says no change"
assert_rc 0 "dump" -- xls dump
printf '%s\n' "$OUT" >"$XL_TMP/dump1.conf"
run_unchanged 0 "" snap -- xls apply "$XL_TMP/dump1.conf"
assert_eq "$WHY" "" "dump > f; apply f changes nothing"
assert_eq "$(xls dump)" "$(cat "$XL_TMP/dump1.conf")" "dump after applying the dump is the same"
assert_eq "$(xls dump --json | jget "(d['version'], d['max_sources'], d['ipv6_prefix'], d['interfaces'], d['allow'], d['deny'])")" \
	"[1,4096,56,[{\"name\":\"$VETH_SRV\",\"mode\":\"native\"}],[\"198.18.0.0/24\",\"2001:2::/48\"],[\"198.19.0.7/32\"]]" \
	"dump --json: the settings, interfaces and lists of the file"
assert_eq "$(xls dump --json | jget "[(p['port'], p['limits']) for p in d['ports']]")" \
	'[[0,[{"limit":"5 per 10 second","action":"drop"}]],[80,[{"limit":"10 per 1 second","action":"drop"},{"limit":"100 per 2 minute","action":"drop"},{"limit":"1000 per 1 hour","action":"pass"}]]]' \
	"dump --json: the rules of the file, one limit per member"

# --- a second file: only what differs changes -----------------------------------

G2=$(conf good2 <<EOF
interfaces = ( { name = "$VETH_SRV"; mode = "tc"; } );
ports = (
  { port = 80;
    limits = ( { limit = "10/second;100 per 2 minutes"; action = "drop"; },
               { limit = "1000/hour"; action = "pass"; } ); },
  { port = 443; limits = ( { limit = "3/minute"; action = "reject"; } ); }
);
allow = [ "2001:2::/48" ];
deny = [ "198.19.0.7/32", "2001:2:0:bad::/64" ];
EOF
)
assert_rc 0 "apply a second file" -- xls apply "$G2"
assert_eq "$(LC_ALL=C sort <<<"$OUT" | tr '\n' ' ')" \
	"allow: 198.18.0.0/24 removed deny: 2001:2:0:bad::/64 added ipv6_prefix: 64 port 0: rule removed port 443: rule set $VETH_SRV: attached (tc) $VETH_SRV: detached (native) " \
	"the second apply changes exactly what differs"
assert_eq "$(xls query 198.18.0.1 80 --json | jget "d['limits'][1]['remaining']")" 99 \
	"a rule the file leaves as it was keeps its clients' counts"
assert_eq "$(xls dump --json | jget "(d['interfaces'], [p['port'] for p in d['ports']], d['allow'], d['deny'], d['ipv6_prefix'], d['max_sources'])")" \
	"[[{\"name\":\"$VETH_SRV\",\"mode\":\"tc\"}],[80,443],[\"2001:2::/48\"],[\"198.19.0.7/32\",\"2001:2:0:bad::/64\"],64,4096]" \
	"apply f; dump gives back what f says (absent settings at their defaults)"

# --- pin_group: the group xlimit-sidecar opens the pins through -------------------

GRP=xlt$$g
groupadd --system "$GRP" || fail "groupadd $GRP"
XL_CLEANUPS+=("groupdel $GRP")
sed "1i pin_group = \"$GRP\";" "$G2" >"$XL_TMP/group.conf"
assert_rc 0 "apply a file with pin_group" -- xls apply "$XL_TMP/group.conf"
assert_eq "$OUT" "pin_group: $GRP" "apply changes only the pin group"
assert_eq "$(stat -c '%G %a' "$XL_PIN" "$XL_PIN/xl_rules" "$XL_PIN/xl_state" | tr '\n' ' ')" \
	"$GRP 750 $GRP 640 root 600 " "the pin directory and the sidecar's maps have the group"
assert_eq "$(j status -- "d['pin_group']")" "$GRP" "status names the pin group"
assert_eq "$(xls dump --json | jget "d['pin_group']")" "$GRP" "dump writes pin_group"
assert_rc 0 "apply the same file again" -- xls apply "$XL_TMP/group.conf"
assert_eq "$OUT" "$XL_TMP/group.conf: no change" "... no change"
assert_rc 0 "apply the file without pin_group" -- xls apply "$G2"
assert_eq "$OUT" "pin_group: none" "a file without pin_group makes the pins root's only"
assert_eq "$(stat -c '%G %a' "$XL_PIN" "$XL_PIN/xl_rules" | tr '\n' ' ')" "root 700 root 600 " \
	"... every pin root's, 0600, the directory 0700"

# --- strategies: a port's strategy, a limit's burst ------------------------------

G3=$(conf good3 <<EOF
interfaces = ( { name = "$VETH_SRV"; mode = "tc"; } );
ports = (
  { port = 80;
    limits = ( { limit = "10/second;100 per 2 minutes"; action = "drop"; },
               { limit = "1000/hour"; action = "pass"; } ); },
  { port = 443; strategy = "token-bucket";
    limits = ( { limit = "3/minute"; action = "reject"; burst = 2; },
               { limit = "100/day"; } ); },
  { port = 8443; strategy = "sliding-window"; limits = ( { limit = "5/second"; } ); }
);
allow = [ "2001:2::/48" ];
deny = [ "198.19.0.7/32", "2001:2:0:bad::/64" ];
EOF
)
assert_rc 0 "apply a file with strategies" -- xls apply "$G3"
assert_eq "$(LC_ALL=C sort <<<"$OUT" | tr '\n' ' ')" "port 443: rule set port 8443: rule set " \
	"a change of strategy is a change of the rule"
assert_eq "$(j limit list -- "[(r['port'], r['strategy'], [l.get('burst') for l in r['limits']]) for r in d]")" \
	'[[80,"fixed-window",[null,null,null]],[443,"token-bucket",[2,100]],[8443,"sliding-window",[null]]]' \
	"apply: each port's strategy, a bucket's burst (the amount by default)"
assert_eq "$(xls dump --json | jget "[(p['port'], p.get('strategy'), p['limits']) for p in d['ports'] if p['port'] != 80]")" \
	'[[443,"token-bucket",[{"limit":"3 per 1 minute","action":"reject","burst":2},{"limit":"100 per 1 day","action":"drop","burst":100}]],[8443,"sliding-window",[{"limit":"5 per 1 second","action":"drop"}]]]' \
	"dump --json: strategy and burst"
assert_rc 0 "dump" -- xls dump
printf '%s\n' "$OUT" >"$XL_TMP/dump3.conf"
snap >"$XL_TMP/before"
run_unchanged 0 "" snap -- xls apply "$XL_TMP/dump3.conf"
assert_eq "$WHY" "" "with strategies: dump > f; apply f changes nothing"

# --- a port's ceiling: total and admit_known ---------------------------------------

G4=$(conf good4 <<EOF
interfaces = ( { name = "$VETH_SRV"; mode = "tc"; } );
ports = (
  { port = 80;
    limits = ( { limit = "10/second;100 per 2 minutes"; action = "drop"; },
               { limit = "1000/hour"; action = "pass"; } );
    total = "500/second; 10000/hour"; admit_known = true; },
  { port = 443; limits = ( { limit = "3/minute"; action = "reject"; } );
    total = "50/second"; admit_known = false; }
);
allow = [ "2001:2::/48" ];
deny = [ "198.19.0.7/32", "2001:2:0:bad::/64" ];
EOF
)
assert_rc 0 "apply a file with ceilings" -- xls apply "$G4"
assert_eq "$(LC_ALL=C sort <<<"$OUT" | tr '\n' ' ')" "port 443: rule set port 80: rule set port 8443: rule removed " \
	"apply of the ceilings changes the rules that differ only"
assert_eq "$(j limit list -- "[(r['port'], [t['limit'] for t in r['total']], r['admit_known']) for r in d]")" \
	'[[80,["500 per 1 second","10000 per 1 hour"],true],[443,["50 per 1 second"],false]]' \
	"apply set the ceilings and admit_known"
assert_eq "$(xls query 198.18.0.1 80 --json | jget "d['limits'][1]['remaining']")" 99 \
	"a ceiling added by apply keeps the port's clients' counts"
assert_eq "$(xls dump --json | jget "[(p['port'], p.get('total'), p.get('admit_known')) for p in d['ports']]")" \
	'[[80,"500 per 1 second; 10000 per 1 hour",true],[443,"50 per 1 second",null]]' \
	"dump --json: total as a limit string, admit_known when set"
assert_rc 0 "apply of the same file with ceilings" -- xls apply "$G4"
assert_eq "$OUT" "$G4: no change" "apply of the same ceilings again says no change"
xls dump >"$XL_TMP/dump4.conf"
assert_rc 0 "apply of the dump with ceilings" -- xls apply "$XL_TMP/dump4.conf"
assert_eq "$OUT" "$XL_TMP/dump4.conf: no change" "dump > f; apply f keeps the ceilings as they are"
assert_rc 0 "apply the file with strategies again: the ceilings go" -- xls apply "$G3"
assert_eq "$(j limit list -- "[(r['port'], r['total'], r['admit_known']) for r in d]")" \
	'[[80,[],false],[443,[],false],[8443,[],false]]' "a file without total removes the ceilings"

# --- a failure part way through: everything taken back ----------------------------

FAIL=$(conf fail <<EOF
interfaces = ( { name = "$VETH_SRV"; mode = "native"; }, { name = "$NONATIVE"; mode = "native"; } );
ports = (
  { port = 80;
    limits = ( { limit = "10/second;100 per 2 minutes"; action = "drop"; },
               { limit = "1000/hour"; action = "pass"; } ); },
  { port = 443; limits = ( { limit = "3/minute"; action = "reject"; } ); },
  { port = 8443; limits = ( { limit = "7/minute"; } ); }
);
allow = [ "2001:2::/48", "198.18.5.0/24" ];
deny = [ "198.19.0.7/32" ];
ipv6_prefix = 48;
EOF
)
snap_conf >"$XL_TMP/before"
run_unchanged 1 "native XDP is not supported" snap_conf -- xls apply "$FAIL"
assert_eq "$WHY" "" "an apply whose attach fails takes back every change it made (the mode too)"
assert_match "$OUT" "$VETH_SRV: attached \(native\)" "it had moved the interface to native mode before"
assert_match "$ERR" "nothing changed" "a failed apply says nothing changed"

# --- bad files: exit 2, FILE:LINE, nothing changed ------------------------------

snap_fast >"$XL_TMP/before"
# bad_file NAME LINE TEXT: the file on stdin must be refused with exit 2,
# "FILE:LINE:" and TEXT on stderr, nothing on stdout, and no change; so
# must --check on it.
bad_file() {
	local name=$1 line=$2 text=$3 f
	f=$(conf "bad_$RANDOM")
	run_unchanged 2 "$f:$line: $text" snap_fast -- xls apply "$f"
	[ -z "$OUT" ] || WHY+="; printed on stdout: $OUT"
	assert_eq "$WHY" "" "bad file: $name"
	run_unchanged 2 "$f:$line: $text" snap_fast -- xls apply "$f" --check
	assert_eq "$WHY" "" "bad file, --check: $name"
}

bad_file "syntax error" 2 "syntax error" <<'EOF'
version = 1;
ports = ( { port = 80; limits = ( { limit = "1/second"; } ); ) };
deny = ( );
EOF
bad_file "unknown top-level setting" 2 "unknown setting 'limits'; expected version" <<'EOF'
version = 1;
limits = ( );
EOF
bad_file "unknown member of a port" 3 "unknown setting 'algorithm'; expected port, strategy, limits, total or admit_known" <<'EOF'
ports = (
  { port = 80; limits = ( { limit = "1/second"; } );
    algorithm = "sliding-window"; }
);
EOF
bad_file "admit_known without a ceiling" 2 "admit_known lets known clients past the port's ceiling, and there is none" <<'EOF'
ports = ( { port = 80; limits = ( { limit = "1/second"; } );
            admit_known = true; } );
EOF
bad_file "a bad ceiling" 2 "couldn't parse rate limit string '1 per sec'" <<'EOF'
ports = ( { port = 80; limits = ( { limit = "1/second"; } );
            total = "1 per sec"; } );
EOF
bad_file "admit_known not a boolean" 2 "admit_known must be true or false" <<'EOF'
ports = ( { port = 80; limits = ( { limit = "1/second"; } );
            total = "10/second"; admit_known = "yes"; } );
EOF
bad_file "unknown member of a limit" 2 "unknown setting 'tokens'; expected limit, action or burst" <<'EOF'
ports = ( { port = 80;
  limits = ( { limit = "1/second"; tokens = 5; } ); } );
EOF
bad_file "unknown strategy" 1 "unknown strategy 'leaky-bucket'; expected fixed-window, sliding-window or token-bucket" <<'EOF'
ports = ( { port = 80; strategy = "leaky-bucket"; limits = ( { limit = "1/second"; } ); } );
EOF
bad_file "a burst without token-bucket" 2 'burst applies to strategy "token-bucket" only, not "sliding-window"' <<'EOF'
ports = ( { port = 80; strategy = "sliding-window";
  limits = ( { limit = "1/second"; burst = 5; } ); } );
EOF
bad_file "a burst of 0" 2 "burst 0 is out of range; expected 1 to 4294967295" <<'EOF'
ports = ( { port = 80; strategy = "token-bucket";
  limits = ( { limit = "1/second"; burst = 0; } ); } );
EOF
bad_file "a sliding window's amount" 1 "'2000000/second' with strategy \"sliding-window\": amount 2000000 is over 1048575" <<'EOF'
ports = ( { port = 80; strategy = "sliding-window"; limits = ( { limit = "2000000/second"; } ); } );
EOF
bad_file "unknown member of an interface" 1 "unknown setting 'ifname'; expected name or mode" <<'EOF'
interfaces = ( { ifname = "lo"; } );
EOF
bad_file "bad limit string" 3 "couldn't parse rate limit string '10 per 2'" <<'EOF'
ports = (
  { port = 80;
    limits = ( { limit = "10 per 2"; } ); } );
EOF
bad_file "amount over the rule's maximum" 1 "'16711680/second': " <<'EOF'
ports = ( { port = 80; limits = ( { limit = "16711680/second"; } ); } );
EOF
bad_file "more than 4 limits on a port" 3 "port 80 has more than 4 limits" <<'EOF'
ports = ( { port = 80; limits = (
  { limit = "1/second;2/minute;3/hour"; },
  { limit = "4/day;5/month"; action = "pass"; } ); } );
EOF
bad_file "unknown action" 1 "unknown action 'block'; expected drop, reject or pass" <<'EOF'
ports = ( { port = 80; limits = ( { limit = "1/second"; action = "block"; } ); } );
EOF
bad_file "port out of range" 1 "port 65536 is out of range; expected 0 to 65535" <<'EOF'
ports = ( { port = 65536; limits = ( { limit = "1/second"; } ); } );
EOF
bad_file "port given twice" 3 "port 80 is given twice" <<'EOF'
ports = (
  { port = 80; limits = ( { limit = "1/second"; } ); },
  { port = 80; limits = ( { limit = "2/second"; } ); } );
EOF
bad_file "a rule without a port" 1 "a rule needs its port" <<'EOF'
ports = ( { limits = ( { limit = "1/second"; } ); } );
EOF
bad_file "a rule without limits" 1 "port 80 needs limits" <<'EOF'
ports = ( { port = 80; } );
EOF
bad_file "ports not a list of groups" 1 "ports must be a list of groups" <<'EOF'
ports = [ 80, 443 ];
EOF
bad_file "a pin group that does not exist" 1 "pin_group 'no-such-group-xl': no such group; create it" <<'EOF'
pin_group = "no-such-group-xl";
EOF
bad_file "a pin group as a number" 1 "pin_group: expected a group's name in quotes" <<'EOF'
pin_group = 0;
EOF
bad_file "ipv6 prefix out of range" 1 "ipv6_prefix 129 is out of range; expected 1 to 128" <<'EOF'
ipv6_prefix = 129;
EOF
bad_file "ipv6 prefix as a string" 1 "ipv6_prefix must be a whole number from 1 to 128" <<'EOF'
ipv6_prefix = "64";
EOF
bad_file "not an address" 2 "allow: '198.18.0.300' is not an IPv4 or IPv6 address" <<'EOF'
allow = [ "198.18.0.0/24",
          "198.18.0.300" ];
EOF
bad_file "host bits past the prefix" 1 "deny: '198.18.0.1/24' has host bits set past the prefix; did you mean 198.18.0.0/24?" <<'EOF'
deny = [ "198.18.0.1/24" ];
EOF
bad_file "an address given twice" 1 "deny: '2001:2::0/48' is given twice" <<'EOF'
deny = [ "2001:2::/48", "2001:2::0/48" ];
EOF
bad_file "a list of numbers" 1 "element 1 of allow must be a string" <<'EOF'
allow = [ 1, 2 ];
EOF
bad_file "no such interface" 1 "no interface named 'xlnosuch0' (see 'ip link')" <<'EOF'
interfaces = ( { name = "xlnosuch0"; } );
EOF
bad_file "interface given twice" 3 "interface '$VETH_SRV' is given twice (also on line 2)" <<EOF
interfaces = (
  { name = "$VETH_SRV"; },
  { name = "$VETH_SRV"; mode = "tc"; } );
EOF
bad_file "unknown mode" 1 "unknown mode 'xdp'; expected auto, native, generic or tc" <<EOF
interfaces = ( { name = "$VETH_SRV"; mode = "xdp"; } );
EOF
bad_file "a newer version" 1 "version 2 is newer than this xlimit reads (1)" <<'EOF'
version = 2;
EOF
bad_file "another max_sources than the loaded state map" 2 "max_sources 8192: the state map exists with 4096 entries; run 'xlimit unload' first" <<'EOF'
version = 1;
max_sources = 8192;
EOF

# bad_use NAME TEXT -- ARGS...: a bad command line, refused alike.
bad_use() {
	local name=$1 text=$2
	shift 3
	run_unchanged 2 "$text" snap_fast -- xls "$@"
	[ -z "$OUT" ] || WHY+="; printed on stdout: $OUT"
	assert_eq "$WHY" "" "bad use: $name"
}
bad_use "no such file" "read $XL_TMP/nosuch.conf: No such file or directory" -- \
	apply "$XL_TMP/nosuch.conf"
bad_use "no file" "expected one FILE" -- apply
bad_use "two files" "expected one FILE" -- apply "$G1" "$G2"
bad_use "unknown option" "unrecognized option" -- apply "$G1" --force
bad_use "dump with an argument" "unexpected argument 'x'" -- dump x

# --- routes ---------------------------------------------------------------------

R1=$(conf routes1 <<'EOF'
ports = ( { port = 80; limits = ( { limit = "10/second"; } ); } );
routes = (
  { port = 8080; path = "*"; limits = "5 per 10 seconds"; },
  { port = 8080; path = "/limited"; limits = "3 per 10 seconds"; message = "slow <down>"; },
  { port = 8080; path = "/get-only"; methods = [ "GET", "post" ]; limits = "2/minute"; },
  { port = 8080; path = "/api/*"; limits = "4 per 10 seconds"; },
  { port = 8080; path = "/tb"; strategy = "token-bucket"; limits = "10/second"; burst = 3; },
  { port = 8080; path = "/free"; exempt = true; },
  { port = 0; path = "/plain"; }
);
EOF
)
assert_rc 0 "apply a file with routes" -- xls apply "$R1"
assert_match "$OUT" "route port 8080 path /get-only \[GET,POST\]: set" "apply says which routes it set"
assert_eq "$(j route list -- '[(r["port"], r["path"], r["methods"], [l["limit"] for l in r["limits"]], r["exempt"], r["message"]) for r in d]')" \
	'[[0,"/plain",[],[],false,""],[8080,"*",[],["5 per 10 second"],false,""],[8080,"/api/*",[],["4 per 10 second"],false,""],[8080,"/free",[],[],true,""],[8080,"/get-only",["GET","POST"],["2 per 1 minute"],false,""],[8080,"/limited",[],["3 per 10 second"],false,"slow <down>"],[8080,"/tb",[],["10 per 1 second"],false,""]]' \
	"apply: the routes as the file says"
assert_eq "$(j route list -- '[(r["strategy"], r["limits"][0]["burst"]) for r in d if r["path"] == "/tb"]')" '[["token-bucket",3]]' \
	"apply: a route's strategy and burst"
assert_eq "$(xls dump --json | jget '[r for r in d["routes"] if r["path"] in ("/tb", "/get-only", "/free", "/limited")]')" \
	'[{"port":8080,"path":"/free","exempt":true},{"port":8080,"path":"/get-only","methods":["GET","POST"],"limits":"2 per 1 minute"},{"port":8080,"path":"/limited","limits":"3 per 10 second","message":"slow <down>"},{"port":8080,"path":"/tb","strategy":"token-bucket","limits":"10 per 1 second","burst":3}]' \
	"dump --json: routes with their members"
xls dump >"$XL_TMP/dumpr.conf"
snap_fast >"$XL_TMP/before"
run_unchanged 0 "" snap_fast -- xls apply "$XL_TMP/dumpr.conf"
assert_eq "$WHY" "" "with routes: dump > f; apply f changes nothing"
assert_eq "$OUT" "$XL_TMP/dumpr.conf: no change" "with routes: apply of the dump says no change"
id=$(j route list -- '[r["id"] for r in d if r["path"] == "/limited"][0]')
sed -e 's|path = "/limited"; limits = "3 per 10 seconds"|path = "/limited"; limits = "9 per 10 seconds"|' \
	-e '/"\/api\/\*"/d' -e 's|{ port = 0; path = "/plain"; }|{ port = 0; path = "/plain"; },\n  { port = 8080; path = "/new"; limits = "1/second"; }|' \
	"$R1" >"$XL_TMP/routes2.conf"
assert_rc 0 "apply changed routes" -- xls apply "$XL_TMP/routes2.conf"
assert_eq "$(grep route <<<"$OUT" | sort | tr '\n' '|')" \
	"route port 8080 path /api/*: removed|route port 8080 path /limited: set|route port 8080 path /new: set|" \
	"apply: only the routes that differ change"
assert_eq "$(j route list -- '[(r["id"], r["limits"][0]["limit"]) for r in d if r["path"] == "/limited"]')" \
	"[[$id,\"9 per 10 second\"]]" "apply: a changed route keeps its id"
assert_eq "$(j route list -- '[r["path"] for r in d if r["path"] in ("/api/*", "/new")]')" '["/new"]' \
	"apply: a route the file no longer has is removed, a new one added"

snap_fast >"$XL_TMP/before"
bad_file "a route with a bad path" 1 "bad path 'api': a path starts with '/'" <<'EOF'
routes = ( { port = 8080; path = "api"; limits = "1/second"; } );
EOF
bad_file "a route with an unknown method" 2 "methods: unknown method 'FETCH'" <<'EOF'
routes = ( { port = 8080; path = "/a"; limits = "1/second";
             methods = [ "GET", "FETCH" ]; } );
EOF
bad_file "a route with a bad limit" 1 "couldn't parse rate limit string '1 per sec'" <<'EOF'
routes = ( { port = 8080; path = "/a"; limits = "1 per sec"; } );
EOF
bad_file "a route message too long" 1 "message: it is 300 bytes long; at most 255" <<EOF
routes = ( { port = 8080; path = "/a"; limits = "1/second"; message = "$(printf 'x%.0s' {1..300})"; } );
EOF
bad_file "an exempt route with limits" 1 "port 8080 path /a: an exempt route takes no limits" <<'EOF'
routes = ( { port = 8080; path = "/a"; limits = "1/second"; exempt = true; } );
EOF
bad_file "a default route without limits" 1 "port 8080 path *: the default route '*' takes limits" <<'EOF'
routes = ( { port = 8080; path = "*"; } );
EOF
bad_file "a route given twice" 3 "port 8080 path /a [GET] is given twice" <<'EOF'
routes = (
  { port = 8080; path = "/a"; limits = "1/second"; methods = [ "GET" ]; },
  { port = 8080; path = "/a"; limits = "2/second"; methods = [ "get" ]; } );
EOF
bad_file "an unknown member of a route" 1 "unknown setting 'method'; expected port, path, limits" <<'EOF'
routes = ( { port = 8080; path = "/a"; method = "GET"; } );
EOF
bad_file "a route port out of range" 1 "port 70000 is out of range" <<'EOF'
routes = ( { port = 70000; path = "/a"; } );
EOF
bad_file "a route with a good rule beside it: nothing applied" 2 "bad path '/a b'" <<'EOF'
ports = ( { port = 81; limits = ( { limit = "1/second"; } ); } );
routes = ( { port = 8080; path = "/a b"; } );
EOF
{
	printf 'routes = (\n'
	for m in GET HEAD POST PUT DELETE OPTIONS PATCH TRACE; do
		printf '  { port = 8080; path = "/m"; methods = [ "%s" ]; limits = "1/second"; },\n' $m
	done
	printf '  { port = 8080; path = "/m"; methods = [ "CONNECT" ]; limits = "1/second"; } );\n'
} | bad_file "a ninth route of one path" 10 "port 8080 path '/m' has 8 routes already"
{
	printf 'routes = (\n'
	for ((i = 0; i < 1024; i++)); do
		printf '  { port = 9000; path = "/r%d"; limits = "1/second"; },\n' $i
	done
	printf '  { port = 9000; path = "/one-more"; limits = "1/second"; } );\n'
} | bad_file "1025 routes" 1026 "too many routes: the map holds 1024"

# --- a long list -----------------------------------------------------------------

BIG=$XL_TMP/big.conf
{
	echo "interfaces = ( { name = \"$VETH_SRV\"; mode = \"tc\"; } );"
	echo "ports = ( { port = 80; limits = ( { limit = \"10/second;100 per 2 minutes\"; }, { limit = \"1000/hour\"; action = \"pass\"; } ); } );"
	printf 'allow = [ '
	printf '"2001:2:%x::/48", ' $(seq 0 19998)
	echo '"2001:2:4e1f::/48" ];'
} >"$BIG"
assert_rc 0 "apply a list of 20000 entries" -- xls apply "$BIG"
assert_eq "$(xls allow list --json | jget 'len(d)')" 20000 "the allow list holds the 20000 entries"
assert_rc 0 "apply the list of 20000 entries again" -- xls apply "$BIG"
assert_eq "$OUT" "$BIG: no change" "applied again, the long list changes nothing"

# --- a file without interfaces detaches; unload ---------------------------------

G3=$(conf good3 <<'EOF'
ports = ( { port = 80; limits = ( { limit = "10/second"; } ); } );
EOF
)
assert_rc 0 "apply a file without interfaces" -- xls apply "$G3"
assert_match "$OUT" "$VETH_SRV: detached \(tc\)" "apply detaches the interfaces the file does not name"
assert_eq "$(j status -- "d['interfaces']")" "[]" "nothing is attached after it"
assert_rc 0 "unload" -- xls unload
assert_eq "$(test -e "$XL_PIN" && echo present)" "" "unload after apply leaves nothing"

summary
