#!/usr/bin/env python3
"""Writes capture/filter/testdata/lt-*.pcap: the same small set of IPv4,
IPv6 and ARP packets wrapped in each link-layer header capture/filter
compiles for (Ethernet with and without VLAN tags, Linux cooked v1 and v2,
BSD NULL in both byte orders, OpenBSD LOOP, raw IP, raw IPv4, raw IPv6).
The shared corpus lacks most of these link types; tcpdump is then the
oracle on these files as on the corpus (scripts/filter-goldens.sh).

Usage: scripts/filter-testdata.py [OUTDIR]
"""
import socket
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(src, dst, proto, payload, ihl=5, frag=0, ident=1):
    opts = b"\x01" * (4 * (ihl - 5))
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), ident, frag, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst)) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 64,
                       socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)) + payload


def tcp(sport, dport, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, 5 << 4, flags, 65535, 0, 0) + data


def udp(sport, dport, data=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def icmp(typ, data=b"ping"):
    return struct.pack("!BBHHH", typ, 0, 0, 1, 1) + data


SYN, ACK, RST, FIN, PSH = 0x02, 0x10, 0x04, 0x01, 0x08

# (network packet, ethertype)
PACKETS = [
    (ip4("10.0.0.1", "192.168.1.4", 6, tcp(40000, 80, SYN)), 0x0800),
    (ip4("192.168.1.4", "10.0.0.1", 6, tcp(80, 40000, SYN | ACK)), 0x0800),
    (ip4("10.0.0.1", "192.168.1.4", 6, tcp(40000, 80, PSH | ACK, b"GET / HTTP/1.1\r\n\r\n")), 0x0800),
    (ip4("10.0.0.1", "192.168.1.4", 6, tcp(40000, 80, RST)), 0x0800),
    (ip4("10.1.2.3", "224.0.0.251", 17, udp(5353, 53, b"\0" * 20)), 0x0800),
    (ip4("172.16.5.4", "8.8.8.8", 1, icmp(8)), 0x0800),
    (ip4("8.8.8.8", "172.16.5.4", 1, icmp(0)), 0x0800),
    (ip4("10.9.9.9", "10.8.8.8", 6, tcp(443, 1024, ACK | FIN), ihl=7), 0x0800),
    (ip4("10.9.9.9", "10.8.8.8", 17, b"\x00\x35" + b"x" * 30, frag=0x00B9), 0x0800),  # not a first fragment
    (ip4("10.9.9.9", "10.8.8.8", 17, udp(53, 3000, b"y" * 1200), frag=0x2000), 0x0800),  # first fragment, MF
    (ip4("192.0.2.1", "192.0.2.2", 47, b"\x00\x00\x08\x00" + b"g" * 20), 0x0800),
    (ip6("::1", "::1", 6, tcp(50000, 6379, PSH | ACK, b"*1\r\n$4\r\nPING\r\n")), 0x86DD),
    (ip6("fe80::1", "ff02::1", 17, udp(546, 53, b"q" * 40)), 0x86DD),
    (ip6("2001:db8::1", "2001:db8::2", 44, struct.pack("!BBHI", 17, 0, 1, 7) + udp(53, 53, b"f" * 16)), 0x86DD),
    (ip6("2001:db8::2", "2001:db8::1", 58, icmp(128)), 0x86DD),
    (ip6("fe80::2", "2001:db8::1", 0, b"\x3a\x00" + b"\x00" * 6 + icmp(135)), 0x86DD),
    (struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, b"\x00\x0c\x29\x9a\x6f\x0a", socket.inet_aton("10.0.0.1"),
                 b"\0" * 6, socket.inet_aton("192.168.1.4")), 0x0806),
    (struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 3, b"\x00\x0c\x29\x9a\x6f\x0a", socket.inet_aton("0.0.0.0"),
                 b"\0" * 6, socket.inet_aton("65.54.95.206")), 0x8035),
]

SRC_MAC = b"\x00\x0c\x29\x9a\x6f\x0a"
DST_MAC = b"\x00\x50\x56\xc0\x00\x08"
FAMILY6 = {24: 24, 28: 28, 30: 30}


def ether(pkt, et, i):
    dst = DST_MAC
    if et in (0x0806, 0x8035):
        dst = b"\xff" * 6
    if i == 12:
        dst = b"\x33\x33\x00\x00\x00\x01"  # IPv6 multicast
    return dst + SRC_MAC + struct.pack("!H", et) + pkt


def vlan(pkt, et, i):
    tags = [(0x8100, 5)] if i % 3 == 0 else [(0x88A8, 1213), (0x8100, 5)] if i % 3 == 1 else [(0x8100, 0)]
    b = DST_MAC + SRC_MAC
    for tpid, vid in tags:
        b += struct.pack("!HH", tpid, vid)
    return b + struct.pack("!H", et) + pkt


def sll(pkt, et, i):
    return struct.pack("!HHH8sH", 4 if i % 2 else 0, 1, 6, SRC_MAC + b"\0\0", et) + pkt


def sll2(pkt, et, i):
    return struct.pack("!HHIHBB8s", et, 0, 2, 1, 4 if i % 2 else 0, 6, SRC_MAC + b"\0\0") + pkt


def family(et, i):
    if et == 0x0800:
        return 2
    return (24, 28, 30)[i % 3]


LINKS = {
    # name: (linktype, wrap, keep(et))
    "ether": (1, ether, lambda et: True),
    "vlan": (1, vlan, lambda et: True),
    "sll": (113, sll, lambda et: True),
    "sll2": (276, sll2, lambda et: True),
    "null-le": (0, lambda p, et, i: struct.pack("<I", family(et, i)) + p, lambda et: et in (0x0800, 0x86DD)),
    "null-be": (0, lambda p, et, i: struct.pack(">I", family(et, i)) + p, lambda et: et in (0x0800, 0x86DD)),
    "loop": (108, lambda p, et, i: struct.pack(">I", family(et, i)) + p, lambda et: et in (0x0800, 0x86DD)),
    "raw": (101, lambda p, et, i: p, lambda et: et in (0x0800, 0x86DD)),
    "ipv4": (228, lambda p, et, i: p, lambda et: et == 0x0800),
    "ipv6": (229, lambda p, et, i: p, lambda et: et == 0x86DD),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "capture/filter/testdata"
    for name, (lt, wrap, keep) in LINKS.items():
        order = ">" if name == "null-be" else "<"
        b = struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, lt)
        n = 0
        for i, (pkt, et) in enumerate(PACKETS):
            if not keep(et):
                continue
            frame = wrap(pkt, et, i)
            caplen = len(frame)
            if i == 9:  # the big first fragment: snaplen-truncated
                caplen = len(frame) - 1100
            n += 1
            b += struct.pack(order + "IIII", 1700000000 + n, n, caplen, len(frame)) + frame[:caplen]
        # A frame cut inside the link or network header.
        pkt, et = PACKETS[0]
        frame = wrap(pkt, et, 0)
        for cut in (3, len(frame) - len(pkt) + 10, len(frame) - 22):
            n += 1
            b += struct.pack(order + "IIII", 1700000000 + n, n, cut, len(frame)) + frame[:cut]
        open("%s/lt-%s.pcap" % (out, name), "wb").write(b)


if __name__ == "__main__":
    main()
