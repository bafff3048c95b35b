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

A capture cut from another (CUTS below: testdata/l7/mysql-compressed-
midstream.pcap is mysql-compressed.pcap from a frame on, see
scripts/record-l7-mysql-messy.sh) gets the lines of the whole capture
from the first frame it keeps: requests and errors in kept frames, and
row counts of result sets whose column count is in a kept frame. tshark
needs the handshake to follow the compressed protocol, which the cut
capture lacks.

For the captures of CONTEXT, a second golden <capture>.context.golden
lists every request with its database and endpoint:

    ctx   <client>  <server>  <command name>  <database>  <endpoint>

The database is followed here from tshark's fields: the login request's
schema, then a COM_INIT_DB or a COM_QUERY "USE db" (also first of several
statements) whose response is not an ERR; a COM_INIT_DB request carries
the schema it asks for. In a cut capture, or one started mid-connection,
the database is unknown (empty) until a switch. Where tshark dissects no
response to a switch (it lost track of a connection joined mid-response),
the database is "?" (any) until the next switch. The endpoint is derived
from the SQL of COM_QUERY and COM_STMT_PREPARE by the rule of RECORDS.md
(endpoint() below, written apart from the decoder's).

Usage: scripts/l7-mysql-goldens.py [PCAPS_ROOT]   (default ../shared/pcaps)
"""
import glob
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "l7", "mysql")
AGG = "\x1e"
# Server ports of the corpus (see its MANIFEST) that tshark does not
# dissect as MySQL by default.
PORTS = [20130, 2883, 6033, 30130, 17706]
# Captures cut from another: name -> the capture they were cut from.
CUTS = {"mysql-compressed-midstream.pcap": "mysql-compressed.pcap"}
CONTEXT = ["mysql-switch.pcap", "mysql-midstream.pcap", "mysql-compressed.pcap",
           "mysql-compressed-midstream.pcap"]
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


def first_frame(cut, whole):
    """The frame number in whole of the first frame of cut (by time)."""
    t = subprocess.run(["tshark", "-r", cut, "-n", "-c", "1", "-T", "fields", "-e", "frame.time_epoch"],
                       check=True, capture_output=True).stdout.decode().strip()
    out = subprocess.run(["tshark", "-r", whole, "-n", "-T", "fields", "-e", "frame.number",
                          "-e", "frame.time_epoch"], check=True, capture_output=True).stdout.decode()
    for l in out.splitlines():
        n, te = l.split("\t")
        if te == t:
            return int(n)
    raise SystemExit("%s: no frame of %s at %s" % (cut, whole, t))


def golden(path, first=1):
    conns = {}
    order = []
    kinds = pdu_kinds(path)
    result = {}  # (client, server) -> rows of the result set under way, or None
    for line in tshark(path):
        f = line.split("\t")
        frame, ip4s, ip6s, sport, ip4d, ip6d, dport = f[:7]
        if int(frame) < first:
            continue
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
        name = os.path.basename(path)
        src, first = path, 1
        if name in CUTS:
            src = os.path.join(os.path.dirname(path), CUTS[name])
            first = first_frame(path, src)
        rows = golden(src, first)
        write(name + ".golden", rows)
        if name in CONTEXT:
            write(name + ".context.golden", context(src, first))


def write(name, rows):
    with open(os.path.join(OUT, name), "w") as w:
        for r in rows:
            w.write(r + "\n")
    print("%-50s %4d lines" % (name, len(rows)))


def unquote(name):
    return name.replace("`", "").replace('"', "")


TOKEN = re.compile(r"""\s+|/\*.*?(?:\*/|$)|(?:#|--[ \t])[^\n]*|'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?|`(?:[^`]|``)*`?|[A-Za-z0-9_$\x80-\uffff]+|.""", re.S)
IDENT = re.compile(r"""(?:`(?:[^`]|``)*`|"(?:[^"]|"")*"|[A-Za-z0-9_$\x80-\uffff]+)(?:\s*\.\s*(?:`(?:[^`]|``)*`|"(?:[^"]|"")*"|[A-Za-z0-9_$\x80-\uffff]+))*""")
MODIFIERS = {"TABLE", "IF", "NOT", "EXISTS", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE",
             "QUICK", "ONLY", "LATERAL"}
NOT_TABLES = {"OUTFILE", "DUMPFILE", "SELECT", "DUAL"}


def endpoint(sql):
    """RECORDS.md: "<OP> <table>" of the first statement."""
    toks = [(m.start(), m.group()) for m in TOKEN.finditer(sql)
            if not (m.group()[0].isspace() or m.group().startswith(("/*", "#", "-- ", "--\t")))]
    words = lambda t: re.fullmatch(r"[A-Za-z0-9_$\x80-\uffff]+", t) is not None
    i = 0
    while i < len(toks) and toks[i][1] == "(":
        i += 1
    if i == len(toks) or not words(toks[i][1]):
        return ""
    kw = toks[i][1].upper()
    i += 1
    if kw == "WITH":  # skip the definitions: name [(cols)] AS (query), ...
        depth, closed = 0, False
        while i < len(toks):
            t = toks[i][1]
            i += 1
            if t == "(":
                depth += 1
            elif t == ")":
                depth = max(depth - 1, 0)
                closed = depth == 0
                continue
            elif t == "," and depth == 0:
                closed = False
            elif words(t) and depth == 0 and closed:
                if t.upper() != "AS":
                    kw = t.upper()
                    break
                closed = False
        else:
            return ""
    kw = kw[:32]
    table_kws = {"FROM", "INTO", "UPDATE", "TABLE", "JOIN"}
    j = i - 1 if kw in table_kws else i
    while j < len(toks):
        t = toks[j][1]
        if t == ";":
            break
        j += 1
        if not (words(t) and t.upper() in table_kws):
            continue
        k = j
        while k < len(toks) and words(toks[k][1]) and toks[k][1].upper() in MODIFIERS:
            k += 1
        if k == len(toks) or (words(toks[k][1]) and toks[k][1].upper() in NOT_TABLES):
            continue
        m = IDENT.match(sql, toks[k][0])
        if not m:
            continue
        return (kw + " " + unquote(m.group()))[:160]
    return kw


def use_db(sql):
    """The database of a leading "USE db" statement, or None."""
    m = re.match(r"""(?:\s|/\*.*?\*/)*use\s+(`[^`]+`|"[^"]+"|[A-Za-z0-9_$\x80-\uffff]+)\s*(?:;|$)""",
                 sql, re.I | re.S)
    return unquote(m.group(1)) if m else None


def context(path, first=1):
    """ctx lines: every request with its database and endpoint."""
    out = {}
    db = {}  # (client, server) -> current database
    pending = {}  # (client, server) -> database a switch asks for
    for line in tshark(path):
        f = line.split("\t")
        frame, ip4s, ip6s, sport, ip4d, ip6d, dport = f[:7]
        cmds, queries, schemas, _, codes, _, _ = [x.split(AGG) if x else [] for x in f[7:14]]
        if int(frame) < first:
            continue
        src, dst = ep(ip4s or ip6s, sport), ep(ip4d or ip6d, dport)
        if cmds:
            key = (src, dst)
            qi = 0
            for c in map(int, cmds):
                name = NAMES[c] if c < len(NAMES) else "COM_%d" % c
                if pending.pop(key, None) is not None:
                    db[key] = "?"  # tshark did not dissect the switch's response
                cur, e = db.get(key, ""), ""
                if c in (3, 22) and qi < len(queries):
                    sql = queries[qi]
                    qi += 1
                    e = endpoint(sql)
                    if c == 3 and use_db(sql) is not None:
                        pending[key] = use_db(sql)
                elif c == 2 and schemas:
                    cur = pending[key] = schemas[0]
                out.setdefault(key, []).append("ctx\t%s\t%s\t%s\t%s\t%s" % (src, dst, name, cur, e))
        elif schemas:  # the login request
            db[(src, dst)] = schemas[0]
        else:
            key = (dst, src)
            if key in pending:
                d = pending.pop(key)
                if not codes:
                    db[key] = d
    rows = []
    for k in sorted(out):
        rows.extend(out[k])
    return rows


if __name__ == "__main__":
    main()
