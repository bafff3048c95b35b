#!/usr/bin/env bash
# memcached-goldens.sh: derive examples/memcached/testdata/<capture>.golden
# from tshark, for every examples/memcached/testdata/*.pcap.
#
# tshark is the oracle for the bytes: its TCP reassembly ("-z follow,tcp,raw"
# per stream: retransmissions and overlaps removed, each direction in
# order) and which side is the client (the SYN's sender). Its memcache
# dissector ("-d tcp.port==17111,memcache") is the oracle for the messages
# it dissects, but it dissects at most the first message of a segment and
# knows neither touch, gat, gats, verbosity, incr/decr results nor the
# error replies, so it cannot list the messages alone. The reassembled
# streams are therefore split into commands and replies below by the
# grammar of memcached's doc/protocol.txt (written apart from the Go
# decoder, never from its output), and the split is checked against the
# dissector: every command and reply tshark dissects must appear, in order,
# in the split of its stream, or the script fails.
#
# Golden lines (tab-separated, escaped as \\ and \xNN), per stream in
# order, a direction's messages in stream order:
#   req  <client> <server> <command> <command line> <noreply 0|1>
#   resp <client> <server> <ok|client|server> <first line>
# A reply's first line is its VALUE or STAT line for a listing, else the
# line itself. quit and "noreply" commands (storage, incr, decr, delete,
# touch, flush_all, verbosity) have noreply 1: they take no reply.
#
# usage: scripts/memcached-goldens.sh   (needs tshark and python3, not root)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=$REPO/examples/memcached/testdata
PORT=17111

for pcap in "$DIR"/*.pcap; do
	golden=${pcap%.pcap}.golden
	tmp=$(mktemp -d)
	tshark -n -r "$pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -E separator=/t \
		-e tcp.stream -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport 2>/dev/null | sort -un >"$tmp/streams"
	while IFS=$'\t' read -r s _; do
		tshark -n -r "$pcap" -q -z "follow,tcp,raw,$s" 2>/dev/null >"$tmp/follow.$s"
	done <"$tmp/streams"
	tshark -n -r "$pcap" -d "tcp.port==$PORT,memcache" -Y memcache -T fields -E separator=/t -E occurrence=a -E aggregator=, \
		-e tcp.stream -e tcp.srcport -e memcache.command -e memcache.response 2>/dev/null >"$tmp/dissected"
	python3 - "$tmp" "$PORT" >"$golden" <<'PY'
import os, sys

tmp, port = sys.argv[1], sys.argv[2]

def esc(b):
    out = []
    for c in b:
        if c == 0x5c:
            out.append("\\\\")
        elif 0x20 <= c < 0x7f:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)

def follow(path):
    # Node 0 is the first packet's sender; its data lines are not indented.
    node0, data = b"", [b"", b""]
    first = None
    for line in open(path):
        if line.startswith("Node 0:"):
            first = line.split()[2]
        if not line.strip() or line.startswith(("=", "Follow:", "Filter:", "Node ")):
            continue
        side = 1 if line.startswith("\t") else 0
        data[side] += bytes.fromhex(line.strip())
    return first, data

STORAGE = {b"set": 5, b"add": 5, b"replace": 5, b"append": 5, b"prepend": 5, b"cas": 6}
NOREPLY = set(STORAGE) | {b"incr", b"decr", b"delete", b"touch", b"flush_all", b"verbosity"}

def lines(b):
    i = 0
    while i < len(b):
        j = b.find(b"\n", i)
        if j < 0:
            return
        yield i, j + 1, b[i:j].rstrip(b"\r")
        i = j + 1

def requests(b):
    out, i = [], 0
    while True:
        j = b.find(b"\n", i)
        if j < 0:
            return out
        line = b[i:j].rstrip(b"\r")
        i = j + 1
        words = line.split()
        cmd = words[0] if words else b""
        noreply = len(words) > 1 and words[-1] == b"noreply" and cmd in NOREPLY
        if cmd in STORAGE:
            n = len(words) - (1 if noreply else 0)
            if n == STORAGE[cmd] and words[4].isdigit():
                i += int(words[4]) + 2  # the data block the server reads
        out.append((cmd, line, noreply or cmd == b"quit"))

def responses(b):
    out, i, first = [], 0, None
    while True:
        j = b.find(b"\n", i)
        if j < 0:
            return out
        line = b[i:j].rstrip(b"\r")
        i = j + 1
        words = line.split()
        w = words[0] if words else b""
        if w == b"VALUE":
            first = first or line
            i += int(words[3]) + 2
        elif w in (b"STAT", b"ITEM", b"PREFIX"):
            first = first or line
        elif w == b"END":
            out.append(("ok", first or line))
            first = None
        elif w == b"ERROR" or w == b"CLIENT_ERROR":
            out.append(("client", line)); first = None
        elif w == b"SERVER_ERROR":
            out.append(("server", line)); first = None
        else:
            out.append(("ok", line)); first = None

def subsequence(want, got, what, stream):
    k = 0
    for x in want:
        while k < len(got) and got[k] != x:
            k += 1
        if k == len(got):
            sys.exit("stream %s: tshark's %s %r not in the split, in order" % (stream, what, x))
        k += 1

dissected = {}
for l in open(os.path.join(tmp, "dissected")):
    f = l.rstrip("\n").split("\t")
    d = dissected.setdefault(f[0], ([], []))
    if f[1] != port:
        d[0].extend(x.encode() for x in f[2].split(",") if x)
    else:
        d[1].extend(x.encode() for x in f[3].split(",") if x)

checked = [0, 0]
for l in open(os.path.join(tmp, "streams")):
    s, csrc, cport, sdst, sport = l.split()
    client, server = "%s:%s" % (csrc, cport), "%s:%s" % (sdst, sport)
    first, data = follow(os.path.join(tmp, "follow." + s))
    if first != client:
        data.reverse()
    reqs, resps = requests(data[0]), responses(data[1])
    dq, dr = dissected.get(s, ([], []))
    subsequence(dq, [r[0] for r in reqs], "command", s)
    # tshark names a listing's END, not its VALUE or STAT lines.
    subsequence([x for x in dr if x != b"STAT"],
                [b"END" if r[1].startswith((b"VALUE ", b"STAT ", b"ITEM ", b"PREFIX ")) else r[1].split(b" ")[0] for r in resps],
                "reply", s)
    checked[0] += len(dq)
    checked[1] += len([x for x in dr if x != b"STAT"])
    for cmd, line, nr in reqs:
        print("req\t%s\t%s\t%s\t%s\t%d" % (client, server, esc(cmd), esc(line), nr))
    for st, line in resps:
        print("resp\t%s\t%s\t%s\t%s" % (client, server, st, esc(line)))
print("tshark's dissector: %d commands and %d replies, all found in order" % tuple(checked), file=sys.stderr)
PY
	rm -rf "$tmp"
	echo "$golden: $(grep -c '^req' "$golden") requests, $(grep -c '^resp' "$golden") responses" >&2
done
