#!/usr/bin/env python3
"""Derive the HTTP/2 and gRPC oracle goldens from tshark.

For every capture of the shared corpus (pcaps/http2, pcaps/grpc) and every
capture recorded under l7/http2/testdata/ (*.pcap), write
l7/http2/testdata/golden/<capture file name>.golden with one line per
stream that tshark decodes, tab separated:

    req   <client ip:port>  <server ip:port>  <stream id>  <:method>  <:authority>  <:path>
    resp  <client ip:port>  <server ip:port>  <stream id>  <code>  <grpc-message>

From the HEADERS and PUSH_PROMISE frames whose header fields tshark
decoded (http2.header.name / http2.header.value, after its own HPACK
decoding): a block with :method is a request (a PUSH_PROMISE's, of the
promised stream); a response's code is the grpc-status of the stream's
trailers (or of trailers-only headers) when it has one, else its final
:status (1xx are skipped); grpc-message is percent-decoded, as gRPC
defines it (tshark shows it raw). The client is the side that sent the request
(for a response, the side that received it). The test TestOracle in
l7/http2 compares the decoder's messages with these lines.

Usage: scripts/http2-goldens.py [PCAPS_ROOT]   (default ../shared/pcaps)
A capture in which tshark finds no HEADERS frame by itself is dissected
again with its server ports (the SYN's destination, else the lower port
of each connection) forced to HTTP/2 with -d.
"""
import glob
import json
import os
import subprocess
import sys
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "l7", "http2", "testdata")
OUT = os.path.join(TESTDATA, "golden")


def pairs(items):
    """json object hook keeping repeated keys (tshark repeats them)."""
    d = {}
    for k, v in items:
        d.setdefault(k, []).append(v)
    return d


def one(d, k, default=""):
    v = d.get(k)
    return v[0] if v else default


def server_ports(path):
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport",
         "-e", "tcp.flags.syn", "-e", "tcp.flags.ack"],
        capture_output=True, text=True, check=True).stdout
    syn, low = set(), set()
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 4 or not f[0]:
            continue
        s, d = int(f[0]), int(f[1])
        if f[2] in ("1", "True") and f[3] in ("0", "False"):
            syn.add(d)
        low.add(min(s, d))
    ports = syn or low
    return sorted(ports)


def addr(layers, which):
    for ip in ("ip", "ipv6"):
        if ip in layers:
            l = layers[ip][0]
            a = one(l, ip + "." + which)
            if ip == "ipv6":
                a = "[" + a + "]"
            return a
    return "?"


def streams(obj):
    """Every http2.stream object under obj (a frame may hold several)."""
    if isinstance(obj, dict):
        for k, vs in obj.items():
            for v in vs:
                if k == "http2.stream" and isinstance(v, dict):
                    yield v
                else:
                    yield from streams(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from streams(v)


def headers(s):
    out = []
    for h in s.get("http2.header", []):
        if isinstance(h, dict):
            out.append((one(h, "http2.header.name"), one(h, "http2.header.value")))
    return out


def dissect(path, force):
    args = ["tshark", "-r", path, "-T", "json", "-J", "ip ipv6 tcp http http2"]
    if force:
        for p in server_ports(path):
            args += ["-d", "tcp.port==%d,http2" % p]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return json.loads(out, object_pairs_hook=pairs)


def golden(path):
    # An h2c upgrade is dissected by tshark's HTTP dissector, which hands
    # the connection to HTTP/2 after the 101; other captures need -d: the
    # run that finds more messages is the golden.
    a = lines(dissect(path, False))
    b = lines(dissect(path, True))
    return a if len(a) > len(b) else b


def lines(data):
    reqs, resp = [], {}
    order = []
    for pkt in data:
        layers = one(pkt, "_source")
        layers = one(layers, "layers")
        if ("http2" not in layers and "http" not in layers) or "tcp" not in layers:
            continue
        tcp = layers["tcp"][0]
        src = "%s:%s" % (addr(layers, "src"), one(tcp, "tcp.srcport"))
        dst = "%s:%s" % (addr(layers, "dst"), one(tcp, "tcp.dstport"))
        for h in layers.get("http", []):
            # The HTTP/1.1 request of an h2c upgrade is stream 1's.
            if isinstance(h, dict) and one(h, "http.upgrade").lower() == "h2c":
                req = {}
                for v in h.values():
                    for x in v:
                        if isinstance(x, dict) and "http.request.method" in x:
                            req = x
                if req:
                    reqs.append("\t".join(["req", src, dst, "1", one(req, "http.request.method"),
                                           one(h, "http.host"), one(req, "http.request.uri")]))
        for s in streams(layers.get("http2", [])):
            typ = one(s, "http2.type")
            if typ not in ("1", "5"):
                continue
            sid = one(s, "http2.streamid")
            if typ == "5":
                sid = one(s, "http2.push_promise.promised_stream_id", sid)
            h = headers(s)
            names = dict(h)
            if ":method" in names or typ == "5":
                cli, srv = (dst, src) if typ == "5" else (src, dst)
                reqs.append("\t".join(["req", cli, srv, sid, names.get(":method", ""),
                                       names.get(":authority", names.get("host", "")),
                                       names.get(":path", "")]))
                continue
            key = (dst, src, sid)
            r = resp.get(key)
            if r is None:
                r = resp[key] = {}
                order.append(key)
            if ":status" in names:
                st = names[":status"]
                if st.isdigit() and 100 <= int(st) < 200:
                    continue
                r.setdefault("status", st)
            if "grpc-status" in names:
                r.setdefault("grpc", names["grpc-status"])
                # gRPC percent-encodes grpc-message; tshark shows it raw.
                r.setdefault("msg", urllib.parse.unquote(names.get("grpc-message", ""), errors="replace"))
    lines = list(reqs)
    for key in order:
        r = resp[key]
        code = r.get("grpc", r.get("status"))
        if code is None:
            continue
        lines.append("\t".join(["resp", key[0], key[1], key[2], code, r.get("msg", "")]))
    return lines


def main():
    pcaps = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(ROOT), "shared", "pcaps")
    files = []
    for proto in ("http2", "grpc"):
        files += sorted(glob.glob(os.path.join(pcaps, proto, "*.pcap*")))
    files += sorted(glob.glob(os.path.join(TESTDATA, "*.pcap")))
    os.makedirs(OUT, exist_ok=True)
    for f in files:
        lines = golden(f)
        with open(os.path.join(OUT, os.path.basename(f) + ".golden"), "w") as w:
            for l in lines:
                w.write(l + "\n")
        print("%s: %d lines" % (os.path.basename(f), len(lines)))


if __name__ == "__main__":
    main()
