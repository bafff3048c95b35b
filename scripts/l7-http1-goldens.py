#!/usr/bin/env python3
"""Derive the HTTP/1.x oracle goldens from tshark.

For every capture of the shared corpus (pcaps/http1) and every recorded
HTTP capture under testdata/l7/ (http*.pcap), write
testdata/l7/http1/<capture file name>.golden with one line per HTTP message
that tshark dissects, ordered by connection and frame:

    req  <client ip>:<port>  <server ip>:<port>  <method>  <uri>  <host>  <user-agent>  <x-request-id>  <trace id>  <span id>
    resp <client ip>:<port>  <server ip>:<port>  <code>  <phrase>  <x-request-id>

(tab separated; the client is the side that sent the request). The last
columns come from tshark's header lines (http.request.line,
http.response.line): X-Request-ID; the trace id and parent id of a W3C
traceparent, or else the base64-decoded trace id and "segment-span" of a
SkyWalking sw8. Where a frame holds several messages tshark's header lines
cannot be told apart, and those columns are "?". The test
l7/http1 TestOracle compares the parser's messages with these lines.

Usage: scripts/l7-http1-goldens.py [PCAPS_ROOT]   (default ../shared/pcaps)
Extra ports are dissected as HTTP with -d when a capture's server port is
not one tshark knows (see PORTS).
"""
import base64
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "l7", "http1")
AGG = "\x1e"  # tshark -E aggregator: separates several messages of a frame
# Server ports of recorded captures that tshark does not dissect as HTTP
# by default.
PORTS = [30080, 30081, 30082, 38080, 18080]

FIELDS = [
    "frame.number", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
    "tcp.dstport", "http.request.method", "http.request.uri", "http.host",
    "http.user_agent", "http.response.code", "http.response.phrase",
    "http.request.line", "http.response.line",
]


def header(lines, name):
    """The first value of header name among tshark's header lines."""
    for l in lines:
        if l.endswith("\\r\\n"):
            l = l[:-4]
        k, sep, v = l.partition(":")
        if sep and k.strip().lower() == name:
            return v.strip()
    return ""


def b64(v):
    try:
        return base64.b64decode(v, validate=True).decode("latin-1")
    except Exception:
        return None


def tracing(lines):
    """(trace id, span id) from traceparent, else from sw8."""
    tp = header(lines, "traceparent").split("-")
    hexd = lambda x: all(c in "0123456789abcdefABCDEF" for c in x)
    if len(tp) == 4 and len(tp[1]) == 32 and len(tp[2]) == 16 and hexd(tp[1]) and hexd(tp[2]):
        return tp[1], tp[2]
    sw = header(lines, "sw8").split("-")
    if len(sw) >= 4:
        trace = b64(sw[1])
        if trace:
            seg = b64(sw[2])
            if seg and sw[3].isdigit():
                return trace, seg + "-" + sw[3]
            return trace, ""
    return "", ""



def tshark(path):
    cmd = ["tshark", "-r", path, "-n", "-Y", "http.request || http.response",
           "-T", "fields", "-E", "aggregator=" + AGG, "-E", "occurrence=a"]
    for p in PORTS:
        cmd += ["-d", "tcp.port==%d,http" % p]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return [l for l in out.decode("utf-8", "backslashreplace").split("\n") if l]


def ep(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in ip else ("%s:%s" % (ip, port))


def clean(v):
    return v.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def golden(path):
    rows = []
    for line in tshark(path):
        f = line.split("\t")
        f += [""] * (len(FIELDS) - len(f))
        frame = int(f[0])
        src = f[1] or f[2]
        dst = f[4] or f[5]
        sport, dport = f[3], f[6]
        split = lambda v: v.split(AGG) if v else []
        methods, uris, hosts, uas = (split(f[i]) for i in (7, 8, 9, 10))
        codes, phrases = split(f[11]), split(f[12])
        reqlines, resplines = split(f[13]), split(f[14])
        # tshark lists the fields of every message in a frame; requests and
        # responses of one frame travel the same way, so a frame holds one
        # kind only.
        for i, m in enumerate(methods):
            g = lambda l: l[i] if i < len(l) else (l[0] if len(l) == 1 else "")
            if len(methods) == 1:
                xrid = header(reqlines, "x-request-id")
                trace, span = tracing(reqlines)
            else:
                xrid = trace = span = "?"
            rows.append((ep(src, sport), ep(dst, dport), frame, i,
                         "req", m, g(uris), g(hosts), g(uas), xrid, trace, span))
        for i, c in enumerate(codes):
            g = lambda l: l[i] if i < len(l) else ""
            xrid = header(resplines, "x-request-id") if len(codes) == 1 else "?"
            rows.append((ep(dst, dport), ep(src, sport), frame, i,
                         "resp", c, g(phrases), xrid))
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    out = []
    for r in rows:
        out.append("\t".join([r[4], r[0], r[1]] + [clean(x) for x in r[5:]]))
    return out


def main():
    pcaps = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(ROOT), "shared", "pcaps")
    files = sorted(glob.glob(os.path.join(pcaps, "http1", "*.pcap*")))
    files += sorted(glob.glob(os.path.join(ROOT, "testdata", "l7", "http*.pcap*")))
    os.makedirs(OUT, exist_ok=True)
    for path in files:
        lines = golden(path)
        name = os.path.basename(path) + ".golden"
        with open(os.path.join(OUT, name), "w") as w:
            for l in lines:
                w.write(l + "\n")
        print("%-45s %3d req %3d resp" % (name,
              sum(l.startswith("req\t") for l in lines),
              sum(l.startswith("resp\t") for l in lines)))


if __name__ == "__main__":
    main()
