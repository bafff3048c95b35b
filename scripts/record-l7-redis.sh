#!/usr/bin/env bash
# record-l7-redis.sh: re-record testdata/l7/redis.pcap (redis-cli and nc
# against redis-server) and testdata/l7/redis-bench.pcap (redis-benchmark,
# pipelined), between two network namespaces. Run as root; needs
# redis-server, redis-cli, redis-benchmark, nc (netcat-openbsd), tcpdump,
# tshark, iproute2 and ethtool. See testdata/README.md.
#
# usage: scripts/record-l7-redis.sh [redis|redis-bench ...]   (default: both)
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/testdata/l7
PORT=6379

netns_up
mkdir -p "$MFREC_TMP/redis"
ns_bg "$NS_SRV" redis-server --bind "$SRV_IP" --port "$PORT" --dir "$MFREC_TMP/redis" \
	--save "" --appendonly no --protected-mode no --daemonize no --logfile ""
wait_port "$NS_SRV" "$SRV_IP" "$PORT"

cli() { in_cli redis-cli -h "$SRV_IP" -p "$PORT" "$@"; }

# session.py: one connection, one command per stdin line (shell-style
# quoting), each sent as a RESP array of bulk strings, as redis-cli does, and
# its reply read in full before the next. (redis-cli reading commands from
# stdin first downloads COMMAND DOCS, ~180 KB, which would swamp the capture.)
cat >"$MFREC_TMP/session.py" <<'PY'
import shlex, socket, sys

s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
f = s.makefile("rb")

def reply():
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in b"$=!":  # bulk string, verbatim string, bulk error
        n = int(rest)
        if n >= 0:
            f.read(n + 2)
    elif t in b"*~>":  # array, set, push
        for _ in range(max(int(rest), 0)):
            reply()
    elif t == b"%":  # map
        for _ in range(2 * int(rest)):
            reply()
    elif t == b"|":  # attribute, then the reply it annotates
        for _ in range(2 * int(rest)):
            reply()
        reply()

for line in sys.stdin:
    args = shlex.split(line)
    if not args:
        continue
    cmd = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        cmd += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(cmd)
    reply()
s.close()
PY
session() { in_cli python3 "$MFREC_TMP/session.py" "$SRV_IP" "$PORT"; }

# 50 KB of printable bytes for the big value.
seq -w 1 5000 | sed 's/$/-value/' | head -c 51200 >"$MFREC_TMP/big.txt"

rec_redis() {
	cap_start "$OUT/redis.pcap" "$NS_CLI" "$VETH_CLI" ip
	# 1. One RESP2 session: every command waits for its reply.
	session <<'CMDS'
SET user:1 alice
GET user:1
GET missing
DEL user:1
INCR counter
INCRBY counter 41
SET name bob
INCR name
RPUSH list a b c
GET list
LRANGE list 0 -1
HSET h f1 v1 f2 v2
HGETALL h
MGET name counter missing
XADD stream 1-1 k v
XADD stream 2-1 k w n 2
XRANGE stream - +
NOSUCHCOMMAND arg
EXISTS name list missing
CMDS
	# 2. A 50 KB value: SET from stdin (-x), then GET on another connection.
	cli -x SET big <"$MFREC_TMP/big.txt" >/dev/null
	cli GET big >/dev/null
	# 3. RESP2, then HELLO 3 switches the connection to RESP3: map, set,
	#    null, double and boolean replies.
	session <<'CMDS'
PING
HELLO 3
HGETALL h
SADD tags red green
SMEMBERS tags
GET missing
INCRBYFLOAT score 1.5
SISMEMBER tags red
ZADD board 1.5 alice 2 bob
ZSCORE board alice
ZRANGE board 0 -1 WITHSCORES
EVAL "redis.setresp(3) return true" 0
XRANGE stream - +
CMDS
	# 4. Inline commands (no RESP framing), as telnet users type them.
	printf 'PING\r\nSET inline "two words"\r\nGET inline\r\nQUIT\r\n' | in_cli nc -w 2 "$SRV_IP" "$PORT" >/dev/null
	cap_stop
}

# Pipelined load: 2 clients, 8 commands per round trip, 200 SETs, 200 GETs.
rec_redis_bench() {
	cap_start "$OUT/redis-bench.pcap" "$NS_CLI" "$VETH_CLI" ip
	in_cli redis-benchmark -h "$SRV_IP" -p "$PORT" -c 2 -P 8 -n 200 -t set,get -q
	cap_stop
}

all=(redis redis-bench)
[ $# -gt 0 ] && all=("$@")
for c in "${all[@]}"; do
	fn=rec_${c//-/_}
	declare -F "$fn" >/dev/null || { echo "unknown capture $c (know: redis redis-bench)" >&2; exit 2; }
	"$fn"
	summarize "$OUT/$c.pcap"
done
