#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Tests of the systemd units (systemd/) as `make install` writes them.
# `make install DESTDIR=D PREFIX=/usr` puts the binaries, man pages, units
# and example configuration where a package would, with the paths filled
# in; `make install PREFIX=P` makes units whose commands exist, which
# `systemd-analyze verify` checks. Then the units run: with systemd as
# PID 1, started with systemctl (as xlimit.service and
# xlimit-sidecar.service in /run/systemd/system, with drop-ins that point
# them at this test's pin directory, file and addresses); without it, as
# systemd would run them: their ExecStart, ExecReload and ExecStop lines,
# read from the unit files, with the environment expanded as systemd does
# ($VAR split into words, ${VAR} one word), under the unit's
# CapabilityBoundingSet, and for the sidecar as a user of its own with
# only its AmbientCapabilities (setpriv), in the server's network
# namespace. The effect is checked: the file applied (interface, rules),
# applied again on reload, a client proxied with X-RateLimit headers by a
# sidecar bound to port 80 as that user, and after stop nothing loaded
# and nothing attached.

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"

SRV4=198.18.0.2
APP_PORT=8080 # the application behind the sidecar
NOBODY=65534  # the sidecar's user, as DynamicUser= would give one

xl_test_init
xl_need setpriv curl
xl_netns_setup


# --- make install --------------------------------------------------------------

DEST=$XL_TMP/dest
PREF=$XL_TMP/prefix
assert_rc 0 "make install DESTDIR=... PREFIX=/usr" -- \
	make -s -C "$XL_TOP" install DESTDIR="$DEST" PREFIX=/usr
UNITDIR=$DEST/usr/lib/systemd/system
for f in usr/sbin/xlimit usr/sbin/xlimit-sidecar usr/share/man/man8/xlimit.8 \
	usr/lib/systemd/system/xlimit.service \
	usr/lib/systemd/system/xlimit-sidecar.service \
	usr/lib/systemd/system/xlimit-sync.service \
	etc/xlimit/xlimit.conf.example; do
	assert_eq "$(test -f "$DEST/$f" && echo yes)" yes "make install puts $f under DESTDIR"
done
assert_eq "$(grep -h '^Exec' "$UNITDIR"/xlimit*.service | grep -cv '=/usr/sbin/xlimit')" 0 \
	"the units' commands are in SBINDIR (/usr/sbin)"
assert_eq "$(grep -l '@[A-Z]*@' "$UNITDIR"/*.service)" "" "no placeholder is left in the units"
assert_match "$(grep '^ConditionPathExists' "$UNITDIR/xlimit.service")" "=/etc/xlimit/xlimit.conf$" \
	"xlimit.service applies /etc/xlimit/xlimit.conf"

assert_rc 0 "make install PREFIX=... (commands that exist)" -- \
	make -s -C "$XL_TOP" install DESTDIR=/ PREFIX="$PREF" SYSCONFDIR="$PREF/etc"
UNITS="$PREF/lib/systemd/system/xlimit.service $PREF/lib/systemd/system/xlimit-sidecar.service
	$PREF/lib/systemd/system/xlimit-sync.service"
if command -v systemd-analyze >/dev/null; then
	# shellcheck disable=SC2086 # one word per unit
	assert_rc 0 "systemd-analyze verify passes the units" -- \
		systemd-analyze verify --man=no $UNITS
else
	fail "systemd-analyze is missing (make deps installs systemd)"
fi

# --- a configuration, an application ---------------------------------------------

CONF=$XL_TMP/xlimit.conf
cat >"$CONF" <<EOF
interfaces = ( { name = "$VETH_SRV"; mode = "native"; } );
ports = ( { port = 80; limits = ( { limit = "100/minute"; action = "pass"; } ); } );
EOF
in_srv "$PY" -m http.server --bind "$SRV4" "$APP_PORT" >/dev/null 2>&1 &
APP_PID=$!
XL_CLEANUPS+=("kill $APP_PID")

# What a unit says: unit_value FILE KEY (the last one).
unit_value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# expand LINE: the words of an Exec line with the environment put in as
# systemd does: ${VAR} is one word, $VAR is split at blanks. Sets WORDS.
expand() {
	local line=$1 w
	WORDS=()
	for w in $line; do
		case $w in
		'${'*'}') WORDS+=("$(printenv "${w:2:${#w}-3}")") ;;
		'$'*) read -ra more <<<"$(printenv "${w:1}")" && WORDS+=("${more[@]}") ;;
		*) WORDS+=("$w") ;;
		esac
	done
}

# caps LIST: "CAP_A CAP_B" as setpriv's "-all,+a,+b".
caps() {
	local c out=-all
	for c in $1; do
		c=${c#CAP_}
		out+=",+${c,,}"
	done
	echo "$out"
}

# run_exec UNIT KEY: runs the unit's KEY line (ExecStart...) in the
# server's namespace, under its capability bounding set and no new
# privileges, as systemd would.
run_exec() {
	local u=$PREF/lib/systemd/system/$1
	expand "$(unit_value "$u" "$2")"
	in_srv setpriv --no-new-privs \
		--bounding-set "$(caps "$(unit_value "$u" CapabilityBoundingSet)")" \
		"${WORDS[@]}"
}

# curl_headers: a request through the sidecar from the client namespace.
curl_headers() {
	in_cli curl -s -m 5 -o /dev/null -D - "http://$SRV4:80/"
}

SYSTEMD=0
[ "$(cat /proc/1/comm 2>/dev/null)" == systemd ] && SYSTEMD=1

if [ "$SYSTEMD" == 1 ]; then
	# --- systemd is PID 1: start them with systemctl ---------------------------
	RUNDIR=/run/systemd/system
	for u in xlimit xlimit-sidecar; do
		if systemctl cat "$u.service" >/dev/null 2>&1; then
			fail "$u.service exists on this machine: not replaced by the test's"
			summary
			exit 1
		fi
	done
	XL_CLEANUPS+=("systemctl stop xlimit-sidecar.service xlimit.service; rm -rf $RUNDIR/xlimit.service $RUNDIR/xlimit-sidecar.service $RUNDIR/xlimit.service.d $RUNDIR/xlimit-sidecar.service.d; systemctl daemon-reload")
	for u in xlimit xlimit-sidecar; do
		cp "$PREF/lib/systemd/system/$u.service" "$RUNDIR/"
		mkdir -p "$RUNDIR/$u.service.d"
	done
	cat >"$RUNDIR/xlimit.service.d/test.conf" <<EOF
[Unit]
ConditionPathExists=
[Service]
NetworkNamespacePath=/run/netns/$NS_SRV
Environment=XLIMIT_OPTS=--pin-dir=$XL_PIN XLIMIT_CONF=$CONF
EOF
	cat >"$RUNDIR/xlimit-sidecar.service.d/test.conf" <<EOF
[Service]
NetworkNamespacePath=/run/netns/$NS_SRV
Environment="XLIMIT_SIDECAR_ARGS=--pin-dir $XL_PIN --listen $SRV4:80 --upstream $SRV4:$APP_PORT"
EOF
	systemctl daemon-reload
	assert_rc 0 "systemctl start xlimit.service" -- systemctl start xlimit.service
	assert_rc 0 "systemctl start xlimit-sidecar.service" -- systemctl start xlimit-sidecar.service
else
	# --- no systemd: their Exec lines, as systemd runs them --------------------
	export XLIMIT_OPTS="--pin-dir $XL_PIN" XLIMIT_CONF=$CONF
	assert_rc 0 "xlimit.service ExecStart (apply)" -- run_exec xlimit.service ExecStart
	SU=$PREF/lib/systemd/system/xlimit-sidecar.service
	assert_eq "$(unit_value "$SU" DynamicUser)" yes "the sidecar runs as a user of its own"
	export XLIMIT_SIDECAR_ARGS="--pin-dir $XL_PIN --listen $SRV4:80 --upstream $SRV4:$APP_PORT"
	expand "$(unit_value "$SU" ExecStart)"
	AMBIENT=$(caps "$(unit_value "$SU" AmbientCapabilities)")
	in_srv setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups \
		--no-new-privs --inh-caps="$AMBIENT" --ambient-caps="$AMBIENT" \
		--bounding-set "$(caps "$(unit_value "$SU" CapabilityBoundingSet)")" \
		"${WORDS[@]}" >"$XL_TMP/sidecar.log" 2>&1 &
	SIDECAR_PID=$!
	XL_CLEANUPS+=("kill $SIDECAR_PID")
fi

# --- the effect ---------------------------------------------------------------------

assert_eq "$(xls status --json | jget "[(i['name'], i['mode']) for i in d['interfaces']]")" \
	"[[\"$VETH_SRV\",\"native\"]]" "xlimit.service attached the file's interface"
assert_eq "$(xls limit list --json | jget "[(r['port'], r['limits'][0]['limit']) for r in d]")" \
	'[[80,"100 per 1 minute"]]' "xlimit.service set the file's rules"

# The sidecar listens once it has opened the pins.
for ((i = 0; i < 100; i++)); do
	in_srv ss -Hltn "sport = :80" | grep -q . && break
	sleep 0.05
done
HDRS=$(curl_headers)
assert_match "$HDRS" "^HTTP/1\.[01] 200" "the sidecar, bound to port 80, proxies a client to the application"
assert_match "$HDRS" "X-RateLimit-Limit: 100" "the sidecar reads the kernel's state (X-RateLimit-Limit)"
SPID=$(in_srv ss -Hltnp "sport = :80" | grep -oE 'pid=[0-9]+' | head -n 1 | cut -d= -f2)
if [ -n "$SPID" ]; then
	if [ "$SYSTEMD" == 1 ]; then
		assert_match "$(stat -c %u "/proc/$SPID")" "^[1-9][0-9]*$" "the sidecar does not run as root"
	else
		assert_eq "$(stat -c %u "/proc/$SPID")" "$NOBODY" "the sidecar runs as its own user"
	fi
	# CAP_NET_BIND_SERVICE (10) and CAP_DAC_OVERRIDE (1), nothing else.
	assert_eq "$(awk '/^CapEff/ {print $2}' "/proc/$SPID/status")" 0000000000000402 \
		"the sidecar holds only CAP_NET_BIND_SERVICE and CAP_DAC_OVERRIDE"
else
	fail "the sidecar listens on port 80 (log: $(cat "$XL_TMP/sidecar.log" 2>/dev/null))"
fi

# Reload applies the file again: only what changed.
cat >"$CONF" <<EOF
interfaces = ( { name = "$VETH_SRV"; mode = "native"; } );
ports = ( { port = 80; limits = ( { limit = "50/minute"; action = "pass"; } ); } );
deny = [ "198.19.0.0/16" ];
EOF
if [ "$SYSTEMD" == 1 ]; then
	assert_rc 0 "systemctl reload xlimit.service" -- systemctl reload xlimit.service
else
	assert_rc 0 "xlimit.service ExecReload (apply again)" -- run_exec xlimit.service ExecReload
	assert_eq "$(sort <<<"$OUT" | tr '\n' ' ')" "deny: 198.19.0.0/16 added port 80: rule set " \
		"reload changes only what the file changed"
fi
assert_match "$(curl_headers)" "X-RateLimit-Limit: 50" "after reload the sidecar shows the new limit"

# Stop: the sidecar gets SIGTERM (no ExecStop of its own), xlimit unloads.
if [ "$SYSTEMD" == 1 ]; then
	assert_rc 0 "systemctl stop xlimit-sidecar.service" -- systemctl stop xlimit-sidecar.service
	assert_rc 0 "systemctl stop xlimit.service" -- systemctl stop xlimit.service
else
	assert_eq "$(unit_value "$SU" ExecStop)" "" "the sidecar unit stops with SIGTERM"
	kill -TERM "$SIDECAR_PID"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$SIDECAR_PID" 2>/dev/null || break
		sleep 0.05
	done
	assert_eq "$(kill -0 "$SIDECAR_PID" 2>/dev/null && echo running)" "" "the sidecar exits on SIGTERM"
	assert_rc 0 "xlimit.service ExecStop (unload)" -- run_exec xlimit.service ExecStop
fi
assert_eq "$(test -e "$XL_PIN" && echo present)" "" "after stop nothing is loaded"
assert_eq "$(ip -n "$NS_SRV" -d link show dev "$VETH_SRV" | grep -c 'prog/xdp')" 0 \
	"after stop nothing is attached"

summary
