# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Network helpers for test_e2e.sh, standard library only.

  serve PORT...                     accept and close TCP connections on
                                    [::]:PORT (IPv4 too), until killed or
                                    its parent (the test) exits
  connect SRC DST PORT N TIMEOUT    open N connections at once from SRC,
                                    print how many were established
  syn IFACE DSTMAC SRC DST PORT N TAGS
                                    send N TCP SYNs (source ports 40000+)
                                    as raw Ethernet frames on IFACE, behind
                                    the VLAN tags TAGS ("-" for none, else
                                    "TPID:VID[,TPID:VID]", outermost first)
  json EXPR                         print EXPR over the JSON on stdin (d)
"""
import ctypes
import errno
import ipaddress
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

PR_SET_PDEATHSIG = 1


def serve(ports):
    # Die with the test, even when it is killed without its cleanup.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:
        sys.exit("the test that started this server is gone")
    sel = selectors.DefaultSelector()
    for port in ports:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
        s.listen(128)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            try:
                c, _ = key.fileobj.accept()
                c.close()
            except BlockingIOError:
                pass


def connect(src, dst, port, n, timeout):
    """All N SYNs leave at once; whatever is not established when TIMEOUT
    runs out counts as refused. Returns the number established."""
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    pending = []
    for _ in range(n):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((src, 0))
        s.connect_ex((dst, port))
        pending.append(s)
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    for s in pending:
        sel.register(s, selectors.EVENT_WRITE)
    done = 0
    while pending:
        # What is ready is taken even past the deadline: this process may
        # have been descheduled through it (a loaded machine), and the
        # kernel established those connections meanwhile. The deadline
        # only says how long to wait for more.
        events = sel.select(max(0.0, deadline - time.monotonic()))
        if not events:
            break
        for key, _ in events:
            s = key.fileobj
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                done += 1
            sel.unregister(s)
            pending.remove(s)
            s.close()
    # Closing a socket still in SYN-SENT sends nothing.
    for s in pending:
        s.close()
    return done


def connect1(src, dst, port, timeout):
    """One blocking connect(): prints how it ended (ok, or the errno's
    name; timeout if TIMEOUT ran out) and the seconds it took."""
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    start = time.monotonic()
    try:
        s.connect((dst, port))
        how = "ok"
    except socket.timeout:
        how = "timeout"
    except OSError as e:
        how = errno.errorcode.get(e.errno, str(e.errno))
    took = time.monotonic() - start
    s.close()
    print("%s %.3f" % (how, took))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn_frame(smac, dmac, src, dst, sport, dport, tags):
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000 + sport, 0,
                      5 << 4, 0x02, 64240, 0, 0)
    if s.version == 4:
        pseudo = s.packed + d.packed + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0,
                         64, 6, 0, s.packed, d.packed)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        etype = 0x0800
    else:
        pseudo = s.packed + d.packed + struct.pack("!I3xB", len(tcp), 6)
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64,
                         s.packed, d.packed)
        etype = 0x86DD
    hdr = dmac + smac
    for tpid, vid in tags:
        hdr += struct.pack("!HH", tpid, vid)
    return hdr + struct.pack("!H", etype) + ip + tcp


def syn(iface, dmac, src, dst, port, n, tags):
    vlans = []
    for tag in [] if tags == "-" else tags.split(","):
        tpid, vid = tag.split(":")
        vlans.append((int(tpid, 16), int(vid)))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    smac = s.getsockname()[4]
    dmac = bytes.fromhex(dmac.replace(":", ""))
    for i in range(n):
        s.send(syn_frame(smac, dmac, src, dst, 40000 + i, port, vlans))
    s.close()


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "serve":
        serve([int(p) for p in args])
    elif cmd == "connect":
        print(connect(args[0], args[1], int(args[2]), int(args[3]),
                      float(args[4])))
    elif cmd == "connect1":
        connect1(args[0], args[1], int(args[2]), float(args[3]))
    elif cmd == "syn":
        syn(args[0], args[1], args[2], args[3], int(args[4]), int(args[5]),
            args[6])
    elif cmd == "json":
        d = json.load(sys.stdin)
        v = eval(args[0], {}, {"d": d})  # the test's own expression
        print(json.dumps(v) if isinstance(v, (bool, list, tuple, dict)) else v)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
