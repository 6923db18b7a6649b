#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Tests of the systemd units (systemd/) as `make install` writes them.
# `make install DESTDIR=D PREFIX=/usr` puts the binaries, man pages, units
# and example configuration where a package would, with the paths filled
# in; `make install PREFIX=P` makes units whose commands exist, which
# `systemd-analyze verify` checks. Then systemd runs them, started and
# stopped with systemctl: the machine's systemd when it is PID 1, else one
# the test boots as PID 1 of namespaces of its own (boot_systemd below),
# which starts nothing but these units. Drop-ins point them at this test's
# pin directory, file, network namespace and addresses. The effect is
# checked: the file applied (interface, rules), applied again on reload, a
# client proxied with X-RateLimit headers by a sidecar bound to port 80 as
# a user of its own with two capabilities, and after stop nothing loaded
# and nothing attached.

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lib.sh
. "$E2E_DIR/../lib/lib.sh"

SRV4=198.18.0.2
APP_PORT=8080 # the application behind the sidecar

xl_test_init
xl_need curl unshare nsenter pgrep redis-server redis-cli
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

# A real install (DESTDIR /) creates the group xlimit when it is missing:
# removed again at the end if the test made it.
getent group xlimit >/dev/null || XL_CLEANUPS+=("groupdel xlimit")
assert_rc 0 "make install PREFIX=... (commands that exist)" -- \
	make -s -C "$XL_TOP" install DESTDIR=/ PREFIX="$PREF" SYSCONFDIR="$PREF/etc"
assert_rc 0 "make install creates the group xlimit" -- getent group xlimit
assert_eq "$(cat "$DEST/usr/lib/sysusers.d/xlimit.conf" | grep -v '^#')" "g xlimit -" \
	"make install puts the group in sysusers.d for packages"
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
pin_group = "xlimit";
interfaces = ( { name = "$VETH_SRV"; mode = "native"; } );
ports = ( { port = 80; limits = ( { limit = "100/minute"; action = "pass"; } ); } );
EOF
in_srv "$PY" -m http.server --bind "$SRV4" "$APP_PORT" >/dev/null 2>&1 &
APP_PID=$!
XL_CLEANUPS+=("kill $APP_PID")

# What a unit says: unit_value FILE KEY (the last one).
unit_value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# curl_headers: a request through the sidecar from the client namespace.
curl_headers() {
	in_cli curl -s -m 5 -o /dev/null -D - "http://$SRV4:80/"
}

# --- a systemd to run them ------------------------------------------------------
# The machine's own when it is PID 1 (the units go in /run/systemd/system).
# Else one of the test's own: systemd booted as PID 1 of a new PID and
# mount namespace, the host's /run under it but a /run/systemd of its own,
# its cgroups under a cgroup of the test's, and for unit path only
# UNITRUN (SYSTEMD_UNIT_PATH), where the test puts the units, an empty
# sysinit.target and the target it boots: it starts nothing else. It
# logs to the kernel's log (dmesg) at notice level and above.

# boot_systemd: starts that systemd; sets SD_PID (its pid here).
boot_systemd() {
	local cg cgs=() i
	for cg in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
		case $(stat -f -c %T "$cg" 2>/dev/null) in
		cgroup2fs) cgs+=("$cg/xlimit-test-$$") ;;
		cgroupfs) [ "${cg##*/}" == systemd ] && cgs+=("$cg/xlimit-test-$$") ;;
		esac
	done
	printf '[Unit]\nDescription=%s\n' "xlimit's test units" >"$UNITRUN/xlimit-test.target"
	printf '[Unit]\nDescription=%s\n' "nothing to initialize" >"$UNITRUN/sysinit.target"
	mkdir -p /run/systemd
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --pid --fork --mount --propagation slave --mount-proc bash -c '
		for cg in "${@:2}"; do
			mkdir -p "$cg" && echo $$ >"$cg/cgroup.procs" || exit 1
		done
		mount --rbind /run /run && mount -t tmpfs tmpfs /run/systemd || exit 1
		exec env -i container=xlimit-test SYSTEMD_UNIT_PATH="$1" \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --system \
			--unit=xlimit-test.target --show-status=false \
			--log-target=kmsg --log-level=notice' \
		boot "$UNITRUN" "${cgs[@]}" >"$XL_TMP/systemd.log" 2>&1 &
	local ushare=$!
	# Killing the namespace's PID 1 kills all in it; then its cgroups go.
	XL_CLEANUPS+=("kill -KILL \$SD_PID; wait $ushare; for cg in ${cgs[*]}; do find \$cg -depth -type d -exec rmdir {} +; done")
	SD_PID=
	for ((i = 0; i < 200; i++)); do
		[ -z "$SD_PID" ] && SD_PID=$(pgrep -P "$ushare")
		[ -n "$SD_PID" ] && [ "$(cat "/proc/$SD_PID/comm" 2>/dev/null)" == systemd ] &&
			[[ "$(sctl is-system-running 2>/dev/null)" == @(running|degraded) ]] && return 0
		kill -0 "$ushare" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

if [ "$(cat /proc/1/comm 2>/dev/null)" == systemd ]; then
	UNITRUN=/run/systemd/system
	sctl() { systemctl "$@"; }
	for u in xlimit xlimit-sidecar xlimit-sync; do
		if systemctl cat "$u.service" >/dev/null 2>&1; then
			fail "$u.service exists on this machine: not replaced by the test's"
			summary
			exit 1
		fi
	done
	XL_CLEANUPS+=("systemctl stop xlimit-sidecar.service xlimit.service; systemctl stop xlimit-sync.service; rm -rf $UNITRUN/xlimit*.service $UNITRUN/xlimit*.service.d; systemctl daemon-reload")
else
	UNITRUN=$XL_TMP/units
	mkdir -p "$UNITRUN"
	sctl() { nsenter -t "$SD_PID" -m -p systemctl "$@"; }
	if ! boot_systemd; then
		fail "a systemd of the test's own boots (log: $(cat "$XL_TMP/systemd.log"); dmesg: $(dmesg 2>/dev/null | grep 'systemd\[1\]' | tail -n 5))"
		summary
		exit 1
	fi
	ok "a systemd of the test's own boots, as PID 1 of its own namespaces"
fi

# The units as `make install` wrote them, with drop-ins that point them at
# this test's pin directory, file, namespace and addresses, and send their
# output to files here.
for u in xlimit xlimit-sidecar xlimit-sync; do
	cp "$PREF/lib/systemd/system/$u.service" "$UNITRUN/"
	mkdir -p "$UNITRUN/$u.service.d"
done
cat >"$UNITRUN/xlimit.service.d/test.conf" <<EOF
[Unit]
ConditionPathExists=
[Service]
NetworkNamespacePath=/run/netns/$NS_SRV
Environment=XLIMIT_OPTS=--pin-dir=$XL_PIN XLIMIT_CONF=$CONF
StandardOutput=append:$XL_TMP/xlimit.log
StandardError=append:$XL_TMP/xlimit.log
EOF
cat >"$UNITRUN/xlimit-sidecar.service.d/test.conf" <<EOF
[Service]
NetworkNamespacePath=/run/netns/$NS_SRV
Environment="XLIMIT_SIDECAR_ARGS=--pin-dir $XL_PIN --listen $SRV4:80 --upstream $SRV4:$APP_PORT"
# The test's install is under /tmp, which PrivateTmp= hides.
BindReadOnlyPaths=$PREF
StandardOutput=append:$XL_TMP/sidecar.log
StandardError=append:$XL_TMP/sidecar.log
EOF
sctl daemon-reload
assert_rc 0 "systemctl start xlimit.service" -- sctl start xlimit.service
assert_rc 0 "systemctl start xlimit-sidecar.service" -- sctl start xlimit-sidecar.service
assert_eq "$(sctl is-active xlimit.service xlimit-sidecar.service | tr '\n' ' ')" "active active " \
	"both units are active"

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
SPID=$(pgrep -f "xlimit-sidecar --pin-dir $XL_PIN" | head -n 1)
if [ -n "$SPID" ]; then
	assert_match "$(stat -c %u "/proc/$SPID")" "^[1-9][0-9]*$" "the sidecar does not run as root"
	assert_eq "$(stat -c %u "/proc/$SPID")" "$(stat -c %g "/proc/$SPID")" \
		"the sidecar runs as a user of its own (DynamicUser=): its uid is its gid"
	# CAP_NET_BIND_SERVICE (10), nothing else: the pins open through
	# the group xlimit.
	assert_eq "$(awk '/^CapEff/ {print $2}' "/proc/$SPID/status")" 0000000000000400 \
		"the sidecar holds only CAP_NET_BIND_SERVICE"
	assert_match " $(awk '/^Groups:/ {$1 = ""; print}' "/proc/$SPID/status") " " $(getent group xlimit | cut -d: -f3) " \
		"the sidecar runs in the group xlimit"
else
	fail "the sidecar runs (log: $(cat "$XL_TMP/sidecar.log" 2>/dev/null))"
fi

# xlimit-sync.service pushes the node's counts to a Redis (here one in the
# server's namespace), configured in SYSCONFDIR/default/xlimit-sync.
in_srv redis-server --bind "$SRV4" --port 6379 --dir "$XL_TMP" --save '' --appendonly no \
	--protected-mode no --daemonize no --loglevel warning >"$XL_TMP/redis.log" 2>&1 &
XL_CLEANUPS+=("kill $!")
for ((i = 0; i < 100; i++)); do
	in_srv redis-cli -h "$SRV4" ping 2>/dev/null | grep -q PONG && break
	sleep 0.05
done
mkdir -p "$PREF/etc/default"
echo "XLIMIT_SYNC_ARGS=\"--redis redis://$SRV4:6379 --interval 100ms\"" >"$PREF/etc/default/xlimit-sync"
cat >"$UNITRUN/xlimit-sync.service.d/test.conf" <<EOF
[Service]
NetworkNamespacePath=/run/netns/$NS_SRV
Environment=XLIMIT_OPTS=--pin-dir=$XL_PIN
StandardOutput=append:$XL_TMP/sync.log
StandardError=append:$XL_TMP/sync.log
EOF
sctl daemon-reload
assert_rc 0 "systemctl start xlimit-sync.service" -- sctl start xlimit-sync.service
assert_eq "$(sctl is-active xlimit-sync.service)" active "xlimit-sync.service is active"
curl_headers >/dev/null
for ((i = 0; i < 100; i++)); do
	KEYS=$(in_srv redis-cli -h "$SRV4" --scan --pattern 'LIMITER/198.18.0.1/*')
	[ -n "$KEYS" ] && break
	sleep 0.05
done
assert_match "$KEYS" "^LIMITER/198\.18\.0\.1/" \
	"xlimit-sync.service pushes the client's count to Redis"

# Reload applies the file again: only what changed.
cat >"$CONF" <<EOF
pin_group = "xlimit";
interfaces = ( { name = "$VETH_SRV"; mode = "native"; } );
ports = ( { port = 80; limits = ( { limit = "50/minute"; action = "pass"; } ); } );
deny = [ "198.19.0.0/16" ];
EOF
: >"$XL_TMP/xlimit.log"
assert_rc 0 "systemctl reload xlimit.service" -- sctl reload xlimit.service
assert_eq "$(sort "$XL_TMP/xlimit.log" | tr '\n' ' ')" "deny: 198.19.0.0/16 added port 80: rule set " \
	"reload changes only what the file changed"
assert_match "$(curl_headers)" "X-RateLimit-Limit: 50" "after reload the sidecar shows the new limit"

# Stop: the sidecar gets SIGTERM (no ExecStop of its own), xlimit unloads.
assert_eq "$(unit_value "$PREF/lib/systemd/system/xlimit-sidecar.service" ExecStop)" "" \
	"the sidecar unit stops with SIGTERM"
assert_rc 0 "systemctl stop xlimit-sidecar.service" -- sctl stop xlimit-sidecar.service
assert_eq "$(pgrep -f "xlimit-sidecar --pin-dir $XL_PIN")" "" "the sidecar exited"
assert_rc 0 "systemctl stop xlimit.service" -- sctl stop xlimit.service
assert_eq "$(sctl is-active xlimit-sync.service)" inactive \
	"stopping xlimit.service stops xlimit-sync.service (Requires=)"
assert_eq "$(test -e "$XL_PIN" && echo present)" "" "after stop nothing is loaded"
assert_eq "$(ip -n "$NS_SRV" -d link show dev "$VETH_SRV" | grep -c 'prog/xdp')" 0 \
	"after stop nothing is attached"

summary
