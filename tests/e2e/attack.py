# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Crafted SYNs for test_attack.sh, standard library only.

  send KIND IFACE DSTMAC SRC DST DPORT SPORT WAIT
      sends the frames of attack KIND as raw Ethernet frames on IFACE (in
      the client's namespace), from SRC:SPORT to DST:DPORT, then listens on
      IFACE for WAIT seconds and prints "synack" if the server answered
      with a SYN-ACK to SPORT (the kernel took it for a new connection),
      else "none".

Each KIND is a way to hand the kernel a SYN that a datapath reading only
whole, shallow, linear headers would not see:

  plain        a plain SYN (the control)
  frag4-8      IPv4 SYN in two fragments, 8 bytes of TCP in the first
  frag4-16     the same with 16 bytes
  frag4-ovl    an IPv4 first fragment holding a whole TCP header with ACK
               set, then a fragment at offset 8 bytes that rewrites the
               flags to SYN (RFC 1858's overlap attack)
  frag6-8      IPv6 SYN in two fragments, 8 bytes of TCP in the first
  chain6-7     IPv6 SYN behind 7 extension headers (hop-by-hop, 6 dest)
  vlan3        IPv4 SYN behind three priority tags (VLAN 0)
  tfo          IPv4 SYN carrying 6000 bytes of data (as a TCP Fast Open
               SYN may): sent through AF_PACKET it leaves a socket buffer
               whose linear part ends with the Ethernet header (the link
               needs an MTU above 6054)
"""
import ipaddress
import select
import socket
import struct
import sys
import time

from netutil import csum

SYN, ACK = 0x02, 0x10


def tcp_header(src, dst, sport, dport, flags, payload=b""):
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 7000 + sport, 0,
                      5 << 4, flags, 64240, 0, 0) + payload
    if s.version == 4:
        pseudo = s.packed + d.packed + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        pseudo = s.packed + d.packed + struct.pack("!I3xB", len(tcp), 6)
    return tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]


def ipv4(src, dst, payload, frag_off=0, more=False, ident=0x4242):
    flags = (0x2000 if more else 0) | frag_off
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident,
                     flags, 64, 6, 0, ipaddress.ip_address(src).packed,
                     ipaddress.ip_address(dst).packed)
    return ip[:10] + struct.pack("!H", csum(ip)) + ip[12:] + payload


def ipv6(src, dst, nexthdr, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nexthdr, 64,
                       ipaddress.ip_address(src).packed,
                       ipaddress.ip_address(dst).packed) + payload


def frag6_hdr(nexthdr, offset, more, ident=0x4242):
    return struct.pack("!BBHI", nexthdr, 0, offset << 3 | (1 if more else 0),
                       ident)


def ether(dmac, smac, etype, payload, tags=()):
    hdr = dmac + smac
    for tpid, vid in tags:
        hdr += struct.pack("!HH", tpid, vid)
    return hdr + struct.pack("!H", etype) + payload


def frames(kind, smac, dmac, src, dst, sport, dport):
    """The Ethernet frames of one attack, in the order they are sent. The
    source port doubles as the fragments' identification: an attack's
    fragments must not join an earlier one's."""
    e4 = lambda p, tags=(): ether(dmac, smac, 0x0800, p, tags)
    e6 = lambda p: ether(dmac, smac, 0x86DD, p)
    syn = tcp_header(src, dst, sport, dport, SYN)
    if kind == "plain":
        if ":" in src:
            return [e6(ipv6(src, dst, 6, syn))]
        return [e4(ipv4(src, dst, syn))]
    if kind in ("frag4-8", "frag4-16"):
        n = int(kind.split("-")[1])
        return [e4(ipv4(src, dst, syn[:n], 0, True, sport)),
                e4(ipv4(src, dst, syn[n:], n // 8, False, sport))]
    if kind == "frag4-ovl":
        # The first fragment is a whole TCP header (and 4 more bytes) that
        # says ACK; the second, at offset 1 (8 bytes), carries bytes 8..27
        # of a header that says SYN, with the checksum of the SYN version.
        data = b"\0" * 4
        syn_d = tcp_header(src, dst, sport, dport, SYN, data)
        ack_d = syn_d[:13] + bytes([ACK]) + syn_d[14:]
        return [e4(ipv4(src, dst, ack_d[:24], 0, True, sport)),
                e4(ipv4(src, dst, syn_d[8:], 1, False, sport))]
    if kind == "frag6-8":
        return [e6(ipv6(src, dst, 44, frag6_hdr(6, 0, True, sport) + syn[:8])),
                e6(ipv6(src, dst, 44, frag6_hdr(6, 1, False, sport) + syn[8:]))]
    if kind == "chain6-7":
        # hop-by-hop, then six destination options headers, each 8 bytes
        # of PadN; then TCP.
        chain = struct.pack("!BBBB4x", 60, 0, 1, 4)
        for i in range(6):
            chain += struct.pack("!BBBB4x", 60 if i < 5 else 6, 0, 1, 4)
        return [e6(ipv6(src, dst, 0, chain + syn))]
    if kind == "vlan3":
        return [e4(ipv4(src, dst, syn), ((0x8100, 0),) * 3)]
    if kind == "tfo":
        return [e4(ipv4(src, dst, tcp_header(src, dst, sport, dport, SYN,
                                             b"x" * 6000)))]
    sys.exit("unknown attack " + kind)


def is_synack(frame, sport):
    """Whether an Ethernet frame is a TCP SYN-ACK to port sport."""
    off = 12
    etype = struct.unpack_from("!H", frame, off)[0]
    while etype in (0x8100, 0x88A8):
        off += 4
        etype = struct.unpack_from("!H", frame, off)[0]
    off += 2
    if etype == 0x0800 and len(frame) >= off + 20 and frame[off + 9] == 6:
        off += (frame[off] & 0xF) * 4
    elif etype == 0x86DD and len(frame) >= off + 40 and frame[off + 6] == 6:
        off += 40
    else:
        return False
    if len(frame) < off + 14:
        return False
    dport = struct.unpack_from("!H", frame, off + 2)[0]
    return dport == sport and frame[off + 13] & (SYN | ACK) == SYN | ACK


def send(kind, iface, dmac, src, dst, dport, sport, wait):
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    rx.bind((iface, 0))
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((iface, 0))
    smac = tx.getsockname()[4]
    dmac = bytes.fromhex(dmac.replace(":", ""))
    for f in frames(kind, smac, dmac, src, dst, sport, dport):
        tx.send(f)
    deadline = time.monotonic() + wait
    seen = False
    while not seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([rx], [], [], left)[0]:
            break
        frame, addr = rx.recvfrom(65536)
        seen = addr[2] != socket.PACKET_OUTGOING and is_synack(frame, sport)
    print("synack" if seen else "none")


if __name__ == "__main__":
    if len(sys.argv) != 10 or sys.argv[1] != "send":
        sys.exit(__doc__)
    a = sys.argv[2:]
    send(a[0], a[1], a[2], a[3], a[4], int(a[5]), int(a[6]), float(a[7]))
