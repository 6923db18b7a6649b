# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Clients for test_fleet.sh, standard library only.

  spread SRC PORT GAP_MS N DST...   open N connections from SRC, one every
                                    GAP_MS (or later, never sooner),
                                    round-robin over the DSTs; each
                                    counts as admitted if established
                                    within 0.5 s (before the client's SYN
                                    retransmission, so each is one hit);
                                    prints the number admitted per DST, and
                                    the total, as JSON
  http SRC URL N                    N HTTP GETs from SRC, one connection
                                    each; prints the status codes as JSON
"""
import http.client
import json
import selectors
import socket
import sys
import time
import urllib.parse

TIMEOUT = 0.5


def spread(src, port, gap_ms, n, dsts):
    sel = selectors.DefaultSelector()
    started = {}
    admitted = {d: 0 for d in dsts}
    nxt = time.monotonic()
    sent = 0
    while sent < n or started:
        now = time.monotonic()
        if sent < n and now >= nxt:
            dst = dsts[sent % len(dsts)]
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((src, 0))
            s.connect_ex((dst, port))
            sel.register(s, selectors.EVENT_WRITE)
            started[s] = (now, dst)
            sent += 1
            # Never faster than one every GAP_MS: a client that fell
            # behind (a loaded machine) does not catch up in a burst,
            # which would outrun the rate the fleet's slack is made for.
            nxt = max(nxt, now) + gap_ms / 1000.0
        wait = TIMEOUT
        if sent < n:
            wait = max(0.0, min(wait, nxt - now))
        # Timed out below: a connection still not ready when this select
        # looked (one established by then is reported, however late this
        # process got to run).
        now = time.monotonic()
        for key, _ in sel.select(wait):
            s = key.fileobj
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                admitted[started[s][1]] += 1
            sel.unregister(s)
            del started[s]
            s.close()
        for s, (t0, _) in list(started.items()):
            if now - t0 >= TIMEOUT:  # dropped: give up before the retry
                sel.unregister(s)
                del started[s]
                s.close()
    print(json.dumps({"per_node": admitted,
                      "total": sum(admitted.values())}))


class SourceConnection(http.client.HTTPConnection):
    def __init__(self, src, *a, **kw):
        super().__init__(*a, source_address=(src, 0), **kw)


def http_get(src, url, n):
    u = urllib.parse.urlsplit(url)
    codes = []
    for _ in range(n):
        c = SourceConnection(src, u.hostname, u.port, timeout=5)
        c.request("GET", u.path or "/")
        codes.append(c.getresponse().status)
        c.close()
    print(json.dumps(codes))


if __name__ == "__main__":
    if sys.argv[1] == "spread":
        spread(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
               int(sys.argv[5]), sys.argv[6:])
    elif sys.argv[1] == "http":
        http_get(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("unknown command " + sys.argv[1])
