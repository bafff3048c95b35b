#!/usr/bin/env python3
"""Derive the Redis oracle goldens from tshark's reassembled TCP streams.

tshark 4.0's RESP dissector knows RESP2 only and reports pipelined or
inline commands as "fragments", so it cannot count messages. This script
takes the stream bytes from `tshark -z follow,tcp,raw,N` (tshark's own TCP
reassembly) and parses them with a small RESP2/RESP3 reader written here,
independent of the Go decoder. It writes testdata/l7/redis/<file>.golden:

    req  <client ip>:<port>  <server ip>:<port>  <COMMAND>  <command line>  <noreply 0|1>
    resp <client ip>:<port>  <server ip>:<port>  <ok|err>  <streaming 0|1>  <error text>

(tab separated, bytes outside printable ASCII as \\xNN). The command line
is the arguments joined by spaces, cut at 256 bytes; error text is cut at
256 bytes. Pub/sub rules: "message"/"pmessage"/"smessage" arrays and RESP3
pushes are streaming; a SUBSCRIBE-family command with k channels is
confirmed k times, the first answering it and the others streaming. CLIENT REPLY OFF/SKIP mark
commands that get no reply.

Usage: scripts/l7-redis-goldens.py [PCAPS_ROOT]   (default ../shared/pcaps)
"""
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "l7", "redis")
SERVER_PORTS = {6379, 10625, 36379, 30379}


class Incomplete(Exception):
    pass


class Bad(Exception):
    pass


def readline(b, i):
    j = b.find(b"\n", i)
    if j < 0:
        raise Incomplete()
    line = b[i:j]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line, j + 1


def value(b, i):
    """Parse one RESP value at b[i:]. Returns (end, type, payload) where
    payload is the bytes of a scalar or the list of element tuples."""
    line, i = readline(b, i)
    if not line:
        raise Bad()
    t, rest = chr(line[0]), line[1:]
    if t in "+-:_,#(":
        return i, t, rest
    if t in "$!=":
        n = int(rest)
        if n < 0:
            return i, t, None
        if len(b) < i + n + 2:
            raise Incomplete()
        return i + n + 2, t, b[i:i + n]
    if t in "*~>%|":
        n = int(rest)
        if t in "%|":
            n *= 2
        elems = []
        for _ in range(max(n, 0)):
            i, et, ep = value(b, i)
            elems.append((et, ep))
        if t == "|":  # attribute: the annotated value follows
            return value(b, i)
        return i, t, elems
    raise Bad()


def commands(b):
    i = 0
    while i < len(b):
        try:
            if b[i:i + 1] == b"*":
                end, t, elems = value(b, i)
                args = [p if isinstance(p, bytes) else b"" for _, p in elems]
            else:
                line, end = readline(b, i)
                args = line.split()
                if not args:
                    i = end
                    continue
        except (Incomplete, Bad, ValueError):
            return
        i = end
        yield args


def replies(b):
    i = 0
    while i < len(b):
        if b[i:i + 2] == b"\r\n":
            i += 2
            continue
        try:
            end, t, p = value(b, i)
        except (Incomplete, Bad, ValueError):
            return
        i = end
        yield t, p


def esc(v):
    out = []
    for c in v:
        if c == 0x5c:
            out.append("\\\\")
        elif 0x20 <= c < 0x7f:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def streams(path):
    out = subprocess.run(["tshark", "-r", path, "-n", "-T", "fields", "-e", "tcp.stream"],
                         check=True, capture_output=True).stdout.decode()
    return sorted({int(x) for x in out.split() if x})


def follow_all(path, ns):
    """Reassembled bytes of every stream in ns, from one tshark run."""
    cmd = ["tshark", "-r", path, "-n", "-q"]
    for n in ns:
        cmd += ["-z", "follow,tcp,raw,%d" % n]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout.decode()
    res, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"Filter: tcp.stream eq (\d+)$", line)
        if m:
            cur = ({}, {0: bytearray(), 1: bytearray()})
            res[int(m.group(1))] = cur
            continue
        if cur is None:
            continue
        m = re.match(r"Node (\d): (.*):(\d+)$", line)
        if m:
            cur[0][int(m.group(1))] = (m.group(2), int(m.group(3)))
            continue
        if re.fullmatch(r"\t?[0-9a-f]+", line):
            cur[1][1 if line.startswith("\t") else 0] += bytes.fromhex(line.strip())
    return res


def ep(a):
    return "%s:%d" % a


def golden(path):
    lines = []
    ns = streams(path)
    all_streams = follow_all(path, ns) if ns else {}
    for n in ns:
        nodes, data = all_streams.get(n, ({}, {}))
        if len(nodes) < 2:
            continue
        srv = 1
        if nodes[0][1] in SERVER_PORTS and nodes[1][1] not in SERVER_PORTS:
            srv = 0
        elif nodes[1][1] not in SERVER_PORTS and nodes[0][1] < nodes[1][1]:
            srv = 0
        cli = 1 - srv
        conn = ep(nodes[cli]) + "\t" + ep(nodes[srv])
        reply_off, skip_next, sub_wait = False, False, []
        for args in commands(bytes(data[cli])):
            cmd = args[0].upper()[:32]
            res = b" ".join(args)[:256]
            noreply = False
            if cmd == b"CLIENT" and len(args) == 3 and args[1].lower() == b"reply":
                mode = args[2].lower()
                if mode == b"off":
                    reply_off, noreply = True, True
                elif mode == b"on":
                    reply_off, skip_next = False, False
                elif mode == b"skip":
                    skip_next, noreply = True, True
            elif reply_off:
                noreply = True
            elif skip_next:
                skip_next, noreply = False, True
            if cmd in (b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE", b"UNSUBSCRIBE",
                       b"PUNSUBSCRIBE", b"SUNSUBSCRIBE") and len(args) > 1:
                sub_wait.append([len(args) - 1, len(args) - 1])
            lines.append("req\t%s\t%s\t%s\t%d" % (conn, esc(cmd), esc(res), noreply))
        for t, p in replies(bytes(data[srv])):
            status, exc, streaming = "ok", b"", False
            if t in "-!":
                status, exc = "err", (p or b"")[:256]
            if t in "*>" and isinstance(p, list):
                first = p[0][1] if p and isinstance(p[0][1], bytes) else b""
                first = first.lower()
                if first in (b"message", b"pmessage", b"smessage"):
                    streaming = True
                elif first in (b"subscribe", b"psubscribe", b"ssubscribe", b"unsubscribe",
                               b"punsubscribe", b"sunsubscribe"):
                    if sub_wait:
                        left, total = sub_wait[0]
                        streaming = left != total
                        sub_wait[0][0] -= 1
                        if sub_wait[0][0] == 0:
                            sub_wait.pop(0)
                else:
                    streaming = t == ">"
            lines.append("resp\t%s\t%s\t%d\t%s" % (conn, status, streaming, esc(exc)))
    return lines


def main():
    pcaps = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(ROOT), "shared", "pcaps")
    files = sorted(glob.glob(os.path.join(pcaps, "redis", "*.pcap*")))
    files += sorted(glob.glob(os.path.join(ROOT, "testdata", "l7", "redis*.pcap*")))
    os.makedirs(OUT, exist_ok=True)
    for path in files:
        lines = golden(path)
        name = os.path.basename(path) + ".golden"
        with open(os.path.join(OUT, name), "w") as w:
            for l in lines:
                w.write(l + "\n")
        print("%-42s %4d req %4d resp" % (name,
              sum(l.startswith("req\t") for l in lines),
              sum(l.startswith("resp\t") for l in lines)))


if __name__ == "__main__":
    main()
