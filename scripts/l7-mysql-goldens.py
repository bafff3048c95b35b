#!/usr/bin/env python3
"""Derive the MySQL oracle goldens from tshark.

For every capture of the shared corpus (pcaps/mysql) and every recorded
MySQL capture under testdata/l7/ (mysql*.pcap), write
testdata/l7/mysql/<capture file name>.golden with one line per MySQL PDU of
interest that tshark dissects, grouped by connection (client, server) in
frame order:

    req   <client>  <server>  <command name>  <argument>  <statement id>
    err   <client>  <server>  <error code>    <message>
    stmt  <client>  <server>  <statement id>          (COM_STMT_PREPARE_OK)
    rows  <client>  <server>  <rows>                  (end of a result set)

tab separated. <argument> is the SQL of COM_QUERY and COM_STMT_PREPARE, the
schema of COM_INIT_DB, empty otherwise. <rows> counts the row packets
tshark dissects between a result set's column count and its final EOF, OK
or ERR (from a -T pdml pass; no rows line after an ERR). The test l7/mysql TestOracle
compares the parser's messages with these lines. Strings are as tshark
prints them: tab, CR and LF escaped (backslash is not), cut at the first
NUL.

Usage: scripts/l7-mysql-goldens.py [PCAPS_ROOT]   (default ../shared/pcaps)
"""
import glob
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "l7", "mysql")
AGG = "\x1e"
# Server ports of the corpus (see its MANIFEST) that tshark does not
# dissect as MySQL by default.
PORTS = [20130, 2883, 6033, 30130]
FIELDS = ["frame.number", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
          "tcp.dstport", "mysql.command", "mysql.query", "mysql.schema", "mysql.stmt_id",
          "mysql.error_code", "mysql.error.message", "mysql.packet_length"]
NAMES = ["COM_SLEEP", "COM_QUIT", "COM_INIT_DB", "COM_QUERY", "COM_FIELD_LIST",
         "COM_CREATE_DB", "COM_DROP_DB", "COM_REFRESH", "COM_SHUTDOWN",
         "COM_STATISTICS", "COM_PROCESS_INFO", "COM_CONNECT", "COM_PROCESS_KILL",
         "COM_DEBUG", "COM_PING", "COM_TIME", "COM_DELAYED_INSERT",
         "COM_CHANGE_USER", "COM_BINLOG_DUMP", "COM_TABLE_DUMP",
         "COM_CONNECT_OUT", "COM_REGISTER_SLAVE", "COM_STMT_PREPARE",
         "COM_STMT_EXECUTE", "COM_STMT_SEND_LONG_DATA", "COM_STMT_CLOSE",
         "COM_STMT_RESET", "COM_SET_OPTION", "COM_STMT_FETCH", "COM_DAEMON",
         "COM_BINLOG_DUMP_GTID", "COM_RESET_CONNECTION"]


def tshark(path):
    cmd = ["tshark", "-r", path, "-n", "-Y", "mysql && !tcp.analysis.retransmission",
           "-T", "fields", "-E", "aggregator=" + AGG, "-E", "occurrence=a"]
    for p in PORTS:
        cmd += ["-d", "tcp.port==%d,mysql" % p]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    out = out.decode("utf-8", "backslashreplace").rstrip("\n")
    return out.split("\n") if out else []


def pdu_kinds(path):
    """frame number -> the showname suffixes of its MySQL PDUs, in order."""
    cmd = ["tshark", "-r", path, "-n", "-Y", "mysql && !tcp.analysis.retransmission", "-T", "pdml"]
    for p in PORTS:
        cmd += ["-d", "tcp.port==%d,mysql" % p]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    kinds = {}
    for pkt in ET.fromstring(out).iter("packet"):
        frame = None
        seq = []
        for proto in pkt.findall("proto"):
            if proto.get("name") == "frame":
                for f in proto.iter("field"):
                    if f.get("name") == "frame.number":
                        frame = f.get("show")
            elif proto.get("name") == "mysql":
                seq.append(proto.get("showname", "").replace("MySQL Protocol", "").strip(" -"))
        kinds[frame] = seq
    return kinds


def ep(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in ip else ("%s:%s" % (ip, port))


def golden(path):
    conns = {}
    order = []
    kinds = pdu_kinds(path)
    result = {}  # (client, server) -> rows of the result set under way, or None
    for line in tshark(path):
        f = line.split("\t")
        frame, ip4s, ip6s, sport, ip4d, ip6d, dport = f[:7]
        cmds, queries, schemas, stmts, codes, msgs, _ = [x.split(AGG) if x else [] for x in f[7:14]]
        src, dst = ep(ip4s or ip6s, sport), ep(ip4d or ip6d, dport)
        rows = []
        if cmds:
            client, server = src, dst
            qi = si = 0
            for i, c in enumerate(cmds):
                c = int(c)
                name = NAMES[c] if c < len(NAMES) else "COM_%d" % c
                arg, sid = "", ""
                if c in (3, 22) and qi < len(queries):
                    arg = queries[qi]
                    qi += 1
                elif c == 2 and schemas:
                    arg = schemas[0]
                if c in (23, 24, 25, 26, 28) and si < len(stmts):
                    sid = stmts[si]
                    si += 1
                rows.append("req\t%s\t%s\t%s\t%s\t%s" % (client, server, name, arg, sid))
        else:
            client, server = dst, src
            for i, code in enumerate(codes):
                msg = msgs[i] if i < len(msgs) else ""
                rows.append("err\t%s\t%s\t%s\t%s" % (client, server, code, msg))
            if not codes:
                for sid in stmts:
                    rows.append("stmt\t%s\t%s\t%s" % (client, server, sid))
            for k in kinds.get(frame, []):
                n = result.get((client, server))
                if k == "column count":
                    result[(client, server)] = 0
                elif k == "row packet" and n is not None:
                    result[(client, server)] = n + 1
                elif k in ("response EOF", "response OK") and n is not None:
                    rows.append("rows\t%s\t%s\t%d" % (client, server, n))
                    result[(client, server)] = None
                elif k == "response ERROR":
                    result[(client, server)] = None
        key = (client, server)
        if key not in conns:
            conns[key] = []
            order.append(key)
        conns[key].extend(rows)
    out = []
    for k in sorted(order):
        out.extend(conns[k])
    return out


def main():
    pcaps = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(ROOT), "shared", "pcaps")
    files = sorted(glob.glob(os.path.join(pcaps, "mysql", "*.pcap*")))
    files += sorted(glob.glob(os.path.join(ROOT, "testdata", "l7", "mysql*.pcap*")))
    os.makedirs(OUT, exist_ok=True)
    for path in files:
        rows = golden(path)
        with open(os.path.join(OUT, os.path.basename(path) + ".golden"), "w") as w:
            for r in rows:
                w.write(r + "\n")
        print("%-50s %4d lines" % (os.path.basename(path), len(rows)))


if __name__ == "__main__":
    main()
