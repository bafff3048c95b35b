#!/usr/bin/env python3
"""Derive the DNS oracle goldens from tshark.

For every capture of the shared corpus (pcaps/dns) and every recorded DNS
capture under testdata/l7/ (dns*.pcap), write
testdata/l7/dns/<capture file name>.golden with one line per DNS message
that tshark dissects, in frame order (several messages of one TCP segment
in stream order):

    <frame> <udp|tcp> <src ip:port> <dst ip:port> <id> <qr> <qname> <qtype> <rcode> <ancount> <answers>

tab separated; id in decimal; qname as tshark shows it ("<Root>" for the
root); qtype numeric; rcode empty for queries. <answers> lists the answer
records of a response, ';' separated, as "<type>" or, for A, AAAA, CNAME,
NS, PTR and MX, "<type> <value>" (type numeric, names without the trailing
dot, MX as its exchange); tshark's per-type value fields hold the records
of every section in order, so the answers are the first of them. Frames that tshark marks as
retransmissions of a TCP segment are left out (their bytes are delivered
once). The test l7/dns TestOracle compares parsed messages with these lines.

Usage: scripts/l7-dns-goldens.py [PCAPS_ROOT]   (default ../shared/pcaps)
"""
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "l7", "dns")
AGG = "\x1e"
# Server ports tshark does not dissect as DNS by default.
PORTS = [8053]
FIELDS = ["frame.number", "udp.srcport", "tcp.srcport", "ip.src", "ipv6.src",
          "ip.dst", "ipv6.dst", "udp.dstport", "tcp.dstport", "dns.id",
          "dns.flags.response", "dns.qry.name", "dns.qry.type",
          "dns.flags.rcode", "dns.count.answers", "dns.count.queries",
          "dns.count.auth_rr", "dns.count.add_rr", "dns.resp.type",
          "dns.a", "dns.aaaa", "dns.cname", "dns.ns", "dns.ptr.domain_name",
          "dns.mx.mail_exchange"]
# Record types whose value the golden carries, by the index of their field
# in FIELDS after dns.resp.type.
VALUES = {1: 0, 28: 1, 5: 2, 2: 3, 12: 4, 15: 5}


def tshark(path):
    cmd = ["tshark", "-r", path, "-n", "-Y", "dns && !tcp.analysis.retransmission",
           "-T", "fields", "-E", "aggregator=" + AGG, "-E", "occurrence=a"]
    for p in PORTS:
        cmd += ["-d", "tcp.port==%d,dns" % p, "-d", "udp.port==%d,dns" % p]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return out.decode("utf-8", "backslashreplace").rstrip("\n").split("\n") if out else []


def ep(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in ip else ("%s:%s" % (ip, port))


def golden(path):
    rows = []
    for line in tshark(path):
        f = line.split("\t")
        frame, usp, tsp, ip4s, ip6s, ip4d, ip6d, udp_, tdp = f[:9]
        ids, qrs, names, types, rcodes, ans, qds, nss, ars, rtypes = [x.split(AGG) if x else [] for x in f[9:19]]
        vals = [x.split(AGG) if x else [] for x in f[19:25]]
        vpos = [0] * len(vals)
        ri = 0
        proto = "udp" if usp else "tcp"
        src = ep(ip4s.split(AGG)[-1] or ip6s.split(AGG)[-1], usp or tsp)
        dst = ep(ip4d.split(AGG)[-1] or ip6d.split(AGG)[-1], udp_ or tdp)
        # Questions are aggregated across messages: walk them by qdcount.
        qi = 0
        for i, mid in enumerate(ids):
            qd = int(qds[i]) if i < len(qds) and qds[i] else 0
            qname = names[qi] if qd and qi < len(names) else ""
            qtype = types[qi] if qd and qi < len(types) else ""
            qi += qd
            qr = qrs[i] if i < len(qrs) else ""
            rcode = rcodes[i] if qr == "1" and i < len(rcodes) else ""
            an = ans[i] if i < len(ans) else ""
            nrr = sum(int(c[i]) for c in (ans, nss, ars) if i < len(c) and c[i])
            answers = []
            for j, t in enumerate(rtypes[ri:ri + nrr]):
                t = int(t)
                item = str(t)
                if t in VALUES:
                    k = VALUES[t]
                    v = vals[k][vpos[k]] if vpos[k] < len(vals[k]) else "?"
                    vpos[k] += 1
                    if j < int(an or 0):
                        item += " " + v
                if j < int(an or 0) and qr == "1":
                    answers.append(item)
            ri += nrr
            rows.append("\t".join([frame, proto, src, dst, str(int(mid, 16)), qr,
                                   qname, qtype, rcode, an, ";".join(answers)]))
    return rows


def main():
    pcaps = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(ROOT), "shared", "pcaps")
    files = sorted(glob.glob(os.path.join(pcaps, "dns", "*.pcap*")))
    files += sorted(glob.glob(os.path.join(ROOT, "testdata", "l7", "dns*.pcap*")))
    os.makedirs(OUT, exist_ok=True)
    for path in files:
        rows = golden(path)
        with open(os.path.join(OUT, os.path.basename(path) + ".golden"), "w") as w:
            for r in rows:
                w.write(r + "\n")
        print("%-50s %4d messages" % (os.path.basename(path), len(rows)))


if __name__ == "__main__":
    main()
