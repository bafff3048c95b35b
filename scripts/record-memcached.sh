#!/usr/bin/env bash
# record-memcached.sh: re-record examples/memcached/testdata/memcached.pcap,
# memcached 1.6 (Debian's memcached) on the uncommon port 17111 talking the
# text protocol to real clients, between two network namespaces:
#   - libmemcached-tools: memccp, memccat, memcexist, memctouch, memcrm,
#     memcstat, memcflush, memcslap (set, get and mget runs);
#   - a Python client (below) sending the text protocol by hand: every
#     storage and retrieval command, cas, incr/decr, touch, gat/gats,
#     delete, flush_all, verbosity, version, stats, quit, noreply,
#     pipelining in one segment and split across segments, a multi-get,
#     and errors (unknown command, bad command line, non-numeric incr,
#     object too large: the server runs with -I 4k).
# Run as root; needs memcached, libmemcached-tools, python3, tcpdump,
# tshark, iproute2 and ethtool. Then run scripts/memcached-goldens.sh.
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/examples/memcached/testdata
PORT=17111
for tool in memcached memccp memccat memcslap; do
	command -v "$tool" >/dev/null || { echo "$0: $tool not found (apt-get install memcached libmemcached-tools)" >&2; exit 1; }
done

netns_up
ns_bg "$NS_SRV" memcached -u root -l "$SRV_IP" -p "$PORT" -U 0 -m 16 -t 1 -I 4k -o slab_chunk_max=2048
wait_port "$NS_SRV" "$SRV_IP" "$PORT"

cat >"$MFREC_TMP/client.py" <<'PY'
import socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])

def conn():
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def read_until(s, ends):
    # Read until the reply ends with one of ends (whole lines).
    buf = b""
    while not any(buf.endswith(e) for e in ends):
        b = s.recv(65536)
        if not b:
            break
        buf += b
    return buf

def ask(s, data, ends=(b"\r\n",)):
    s.sendall(data)
    time.sleep(0.01)
    return read_until(s, ends)

END = (b"END\r\n",)

# One request at a time, every command.
s = conn()
ask(s, b"version\r\n")
ask(s, b"set greeting 0 0 5\r\nhello\r\n")
ask(s, b"get greeting\r\n", END)
ask(s, b"add greeting 0 0 3\r\nnew\r\n")
ask(s, b"add fresh 7 0 3\r\nnew\r\n")
ask(s, b"replace greeting 0 0 5\r\nhowdy\r\n")
ask(s, b"replace absent 0 0 1\r\nx\r\n")
ask(s, b"append greeting 0 0 6\r\n world\r\n")
ask(s, b"prepend greeting 0 0 4\r\nwell\r\n")
ask(s, b"gets greeting\r\n", END)
r = ask(s, b"gets fresh\r\n", END)
cas = r.split(b"\r\n")[0].split(b" ")[4]
ask(s, b"cas fresh 0 0 4 " + cas + b"\r\nnext\r\n")
ask(s, b"cas fresh 0 0 4 " + cas + b"\r\nlate\r\n")
ask(s, b"cas absent 0 0 1 1\r\nx\r\n")
ask(s, b"set counter 0 0 2\r\n10\r\n")
ask(s, b"incr counter 5\r\n")
ask(s, b"decr counter 3\r\n")
ask(s, b"incr absent 1\r\n")
ask(s, b"incr greeting 1\r\n")
ask(s, b"touch greeting 100\r\n")
ask(s, b"touch absent 100\r\n")
ask(s, b"gat 200 greeting\r\n", END)
ask(s, b"gats 200 greeting absent fresh\r\n", END)
ask(s, b"get absent\r\n", END)
ask(s, b"get greeting fresh counter absent\r\n", END)
ask(s, b"delete fresh\r\n")
ask(s, b"delete fresh\r\n")
ask(s, b"verbosity 1\r\n")
ask(s, b"stats\r\n", END)
ask(s, b"stats slabs\r\n", END)
ask(s, b"bogus command\r\n")
ask(s, b"set badline 0 0 notanumber\r\n")
ask(s, b"set big 0 0 6000\r\n" + b"x" * 6000 + b"\r\n")
ask(s, b"set binary 0 0 8\r\n\x00\x01\r\n\xff\xfe\r\n\r\n")
ask(s, b"get binary\r\n", END)
ask(s, b"set empty 0 0 0\r\n\r\n")
ask(s, b"get empty\r\n", END)
ask(s, b"set large 0 0 3000\r\n" + b"L" * 3000 + b"\r\n")
ask(s, b"get large\r\n", END)
ask(s, b"flush_all 0\r\n")
ask(s, b"get greeting\r\n", END)
s.sendall(b"quit\r\n")
s.recv(100)
s.close()

# noreply: the server answers nothing, the next reply is the next command's.
s = conn()
s.sendall(b"set q1 0 0 1 noreply\r\na\r\n")
s.sendall(b"add q2 0 0 1 noreply\r\nb\r\n")
s.sendall(b"incr q3 1 noreply\r\n")
s.sendall(b"delete q1 noreply\r\n")
s.sendall(b"touch q2 10 noreply\r\n")
s.sendall(b"flush_all noreply\r\n")
s.sendall(b"verbosity 0 noreply\r\n")
time.sleep(0.02)
ask(s, b"get q1 q2\r\n", END)
s.sendall(b"quit\r\n")
s.close()

# Pipelining: many commands in one segment, replies read at once.
s = conn()
batch = b"".join(b"set p%d 0 0 %d\r\n%s\r\n" % (i, len(str(i)), str(i).encode()) for i in range(20))
s.sendall(batch)
got = b""
while got.count(b"STORED\r\n") < 20:
    got += s.recv(65536)
mixed = (b"get p1 p2 p3\r\nincr p5 100\r\ndelete p6\r\nget p6\r\nbogus\r\n"
         b"touch p7 1\r\nversion\r\ngets p8\r\nappend p9 0 0 1 noreply\r\nZ\r\nget p9\r\n")
s.sendall(mixed)
time.sleep(0.05)
read_until(s, END)
# A pipelined batch split in the middle of a command and of a data block.
part = b"set split 0 0 10\r\n0123456789\r\nget split\r\nget p1\r\n"
s.sendall(part[:7]); time.sleep(0.02)
s.sendall(part[7:25]); time.sleep(0.02)
s.sendall(part[25:])
time.sleep(0.05)
got = b""
while got.count(b"END\r\n") < 2:
    got += s.recv(65536)
s.close()
PY

pcap=$OUT/memcached.pcap
cap_start "$pcap" "$NS_CLI" "$VETH_CLI" tcp port "$PORT"
S=--servers=$SRV_IP:$PORT
echo "payload from memccp" >"$MFREC_TMP/memccp-file.txt"
(cd "$MFREC_TMP" && in_cli memccp "$S" memccp-file.txt)
in_cli memccat "$S" memccp-file.txt >/dev/null
in_cli memccat "$S" no-such-key >/dev/null 2>&1 || true
in_cli memcexist "$S" memccp-file.txt || true
in_cli memctouch "$S" --expire=100 memccp-file.txt || true
in_cli memcrm "$S" memccp-file.txt
in_cli memcstat "$S" >/dev/null
in_cli memcslap "$S" --test=set --execute-number=30 --concurrency=1 >/dev/null
in_cli memcslap "$S" --test=get --execute-number=30 --concurrency=1 >/dev/null
in_cli memcslap "$S" --test=mget --execute-number=3 --concurrency=1 >/dev/null
in_cli python3 "$MFREC_TMP/client.py" "$SRV_IP" "$PORT"
in_cli memcflush "$S"
cap_stop
summarize "$pcap"
