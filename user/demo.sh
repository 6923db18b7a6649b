#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# `make demo`: xlimit's main job on a built-in topology. Two throwaway
# network namespaces joined by a veth pair (addresses from 198.18.0.0/15,
# no route out), an HTTP server in one, xlimit attached in native XDP mode
# in front of it with "5 per 10 seconds" on port 8080, and clients in the
# other that open connections faster than that. It prints what each client
# got, then what the kernel holds: `xlimit stats`, `xlimit query`, and the
# pinned maps through bpftool. Then xlimit-sidecar in front of the same
# server on port 80, where the kernel counts and passes ("--action pass"):
# each response carries X-RateLimit-* headers from the kernel's state, and
# over the limit the client gets 429 with Retry-After. Everything is
# removed at the end.
set -eu
. "$(dirname "$0")/../tests/lib/lib.sh"

LIMIT=${LIMIT:-5 per 10 seconds}
SIDECAR_LIMIT="3 per minute"
PORT=8080
SIDECAR_BIN=$XL_TOP/build/xlimit-sidecar

[ "$(id -u)" = 0 ] || { echo "xlimit demo: run as root (sudo make demo)" >&2; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
XL_TMP=$(mktemp -d)
XL_PIN=/sys/fs/bpf/xltest_$$
trap on_exit EXIT
xl_reap_leftovers
XL_CLEANUPS+=("'$XLIMIT_BIN' --pin-dir '$XL_PIN' unload")

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# xlimit, shown as the operator would type it, run in the server's netns.
xlimit() { printf '$ xlimit %s\n' "$*"; xls "$@"; }

say "Topology: client namespace (198.18.0.1, .3) --veth-- server namespace (198.18.0.2)"
xl_netns_setup
echo "client ns: $NS_CLI   server ns: $NS_SRV   server NIC: $VETH_SRV"

ip netns exec "$NS_SRV" "$PY" -m http.server "$PORT" --bind 198.18.0.2 \
	>/dev/null 2>&1 &
XL_CLEANUPS+=("kill $!")
for _ in $(seq 50); do
	ip netns exec "$NS_SRV" ss -Hltn "sport = :$PORT" | grep -q . && break
	sleep 0.1
done

say "Attach xlimit to the server's NIC and set a limit"
xlimit attach "$VETH_SRV" --mode native
xlimit limit set "$PORT" "$LIMIT"
xlimit allow add 198.18.0.3/32
xlimit status

# Opens N connections from SRC, one every 0.2 s, each given 0.5 s to
# connect (less than the 1 s SYN retransmit, so a dropped SYN is one hit).
clients() {
	ip netns exec "$NS_CLI" "$PY" - "$1" "$2" "$PORT" <<'PY'
import socket, sys, time
src, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok = 0
for i in range(n):
    s = socket.socket()
    s.settimeout(0.5)
    s.bind((src, 0))
    t = time.monotonic()
    try:
        s.connect(("198.18.0.2", port))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        status = s.recv(64).split(b"\r\n")[0].decode()
        ok += 1
        print(f"  {src} connection {i + 1}: {status}")
    except OSError:
        print(f"  {src} connection {i + 1}: no answer (SYN dropped by xlimit)")
    s.close()
    time.sleep(max(0, 0.2 - (time.monotonic() - t)))
print(f"  {src}: {ok} of {n} connections got through")
PY
}

say "A client opens 8 connections in under 2 seconds ($LIMIT allowed)"
clients 198.18.0.1 8
say "An allow-listed client does the same"
clients 198.18.0.3 8

say "What the kernel counted"
xlimit stats
xlimit query 198.18.0.1 "$PORT"
xlimit query 198.18.0.1 "$PORT" --json
say "The same state through bpftool (the maps carry BTF)"
run bpftool map dump pinned "$XL_PIN/xl_rules"
run bpftool map dump pinned "$XL_PIN/xl_state" | head -n 24

say "xlimit-sidecar: the same kernel state as HTTP headers, and 429 over the limit"
xlimit limit set 80 "$SIDECAR_LIMIT" --action pass
printf '$ xlimit-sidecar --listen 198.18.0.2:80 --upstream 198.18.0.2:%s &\n' "$PORT"
nsenter --net="/run/netns/$NS_SRV" "$SIDECAR_BIN" --pin-dir "$XL_PIN" \
	--listen 198.18.0.2:80 --upstream "198.18.0.2:$PORT" >"$XL_TMP/sidecar.log" 2>&1 &
XL_CLEANUPS+=("kill $!")
xl_wait_up sidecar http://198.18.0.2:80/ "$NS_SRV" >/dev/null # over lo: not counted
for i in 1 2 3 4; do
	echo "  198.18.0.1 request $i:"
	ip netns exec "$NS_CLI" curl -s -m 5 -o /dev/null -D - http://198.18.0.2:80/ |
		grep -E '^HTTP/|^X-RateLimit|^Retry-After' | tr -d '\r' | sed 's/^/    /'
done

say "Detach: full access again"
xlimit detach "$VETH_SRV"
clients 198.18.0.1 3
xlimit unload
echo
echo "Demo done: the limit held at the kernel's edge, and everything is removed."
