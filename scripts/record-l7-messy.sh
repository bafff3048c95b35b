#!/usr/bin/env bash
# record-l7-messy.sh: re-record the HTTP and Redis captures of the messy
# cases between two network namespaces (see lib-netns.sh):
#
#   testdata/l7/http-post-cut.pcap     POSTs whose bodies the capture does not
#       hold whole: a 400 KB upload sent slowly, the capture stopped in the
#       middle of its body; and uploads nginx refuses with 413 as soon as it
#       has the head (client_max_body_size 1k), its response arriving before
#       the body.
#   testdata/l7/http-midstream.pcap    tcpdump started after three keep-alive
#       clients connected and while they send a request every 20 ms.
#   testdata/l7/http-cut-head.pcap     the capture ends in the middle of a
#       response head: a server sends "HTTP/1.0 200 OK\r\nServer: slow\r\n",
#       then the rest 3 s later, after tcpdump stopped.
#   testdata/l7/redis-midstream.pcap   tcpdump started after two clients
#       connected and while they send a command every 20 ms.
#   testdata/l7/redis-pipeline.pcap   redis-benchmark -P 1000 (SET and GET,
#       one client, 3000 each) and redis-cli --pipe loading 2000 SETs written
#       in RESP.
#
# Run as root; needs nginx, redis-server, redis-cli, redis-benchmark, curl,
# python3, tcpdump, tshark, iproute2 and ethtool. Then
# scripts/l7-http1-goldens.py and scripts/l7-redis-goldens.py.
#
# usage: scripts/record-l7-messy.sh [http-post-cut|http-midstream|http-cut-head|redis-midstream|redis-pipeline ...]
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/testdata/l7
HTTP_PORT=30080
SLOW_PORT=30081
REDIS_PORT=6379

netns_up

# keepalive.py HOST PORT N PERIOD KIND: N connections opened at once, then
# one request (or Redis command) per connection every PERIOD seconds until
# killed; each reply is read whole before the next request.
cat >"$MFREC_TMP/keepalive.py" <<'PY'
import socket, sys, threading, time

host, port, n, period, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]

def http(s, f, i):
    path = "/page%d.txt?i=%d" % (i % 3, i)
    s.sendall(("GET %s HTTP/1.1\r\nHost: messy\r\nUser-Agent: keepalive.py\r\n\r\n" % path).encode())
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    f.read(length)

def redis(s, f, i):
    args = [b"SET", b"key%d" % (i % 5), b"v%d" % i] if i % 2 else [b"GET", b"key%d" % (i % 5)]
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    line = f.readline()
    if line[:1] == b"$" and int(line[1:]) >= 0:
        f.read(int(line[1:]) + 2)

def run():
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    i = 0
    while True:
        (http if kind == "http" else redis)(s, f, i)
        i += 1
        time.sleep(period)

for _ in range(n):
    threading.Thread(target=run, daemon=True).start()
while True:
    time.sleep(1)
PY

# slowhead.py PORT: an HTTP/1.0 server that sends the status line and one
# header, then the rest of its head and body 3 s later.
cat >"$MFREC_TMP/slowhead.py" <<'PY'
import socket, sys, time

l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1])))
l.listen(8)
while True:
    c, _ = l.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = c.makefile("rb")
    while f.readline() not in (b"\r\n", b""):
        pass
    c.sendall(b"HTTP/1.0 200 OK\r\nServer: slow\r\n")
    time.sleep(3)
    c.sendall(b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
    c.close()
PY

http_server() {
	nginx_start "
	server {
		listen $SRV_IP:$HTTP_PORT;
		keepalive_requests 100000;
		location /upload { client_max_body_size 100m; return 200 \"stored\n\"; }
		location /small { client_max_body_size 1k; return 200 \"stored\n\"; }
	}"
	wait_port "$NS_SRV" "$SRV_IP" "$HTTP_PORT"
	for i in 0 1 2; do
		seq -f "line %g of page $i" 1 $((20 + 30 * i)) >"$MFREC_TMP/nginx/html/page$i.txt"
	done
}

redis_server() {
	mkdir -p "$MFREC_TMP/redis"
	ns_bg "$NS_SRV" redis-server --bind "$SRV_IP" --port "$REDIS_PORT" --dir "$MFREC_TMP/redis" \
		--save "" --appendonly no --protected-mode no --daemonize no --logfile ""
	wait_port "$NS_SRV" "$SRV_IP" "$REDIS_PORT"
}

rec_http_post_cut() {
	head -c 409600 /dev/zero | tr '\0' 'x' >"$MFREC_TMP/body.bin"
	cap_start "$OUT/http-post-cut.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$HTTP_PORT"
	# Refused at once: 413 before the 8 KB body (curl sends it without
	# waiting: no Expect: 100-continue).
	head -c 8192 "$MFREC_TMP/body.bin" >"$MFREC_TMP/body8k.bin"
	in_cli curl -s -o /dev/null -H 'Expect:' --data-binary @"$MFREC_TMP/body8k.bin" "http://$SRV_IP:$HTTP_PORT/small" || true
	in_cli curl -s -o /dev/null -H 'Expect:' --data-binary @"$MFREC_TMP/body8k.bin" "http://$SRV_IP:$HTTP_PORT/small?again=1" || true
	# A slow 400 KB upload (100 KB/s): the capture stops after about 1.5 s,
	# in the middle of the body.
	in_cli curl -s -o /dev/null -H 'Expect:' --limit-rate 100k --data-binary @"$MFREC_TMP/body.bin" \
		"http://$SRV_IP:$HTTP_PORT/upload?name=big.bin" &
	local c=$!
	sleep 1.5
	cap_stop
	wait "$c" || true
}

rec_http_midstream() {
	ns_bg "$NS_CLI" python3 "$MFREC_TMP/keepalive.py" "$SRV_IP" "$HTTP_PORT" 3 0.02 http
	sleep 1
	cap_start "$OUT/http-midstream.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$HTTP_PORT"
	sleep 1
	cap_stop
	kill "${MFREC_PIDS[-1]}"
}

rec_http_cut_head() {
	ns_bg "$NS_SRV" python3 "$MFREC_TMP/slowhead.py" "$SLOW_PORT"
	wait_port "$NS_SRV" "$SRV_IP" "$SLOW_PORT"
	cap_start "$OUT/http-cut-head.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$SLOW_PORT"
	in_cli curl -s -o /dev/null "http://$SRV_IP:$SLOW_PORT/cut" &
	local c=$!
	sleep 1.5
	cap_stop
	wait "$c" || true
}

rec_redis_midstream() {
	ns_bg "$NS_CLI" python3 "$MFREC_TMP/keepalive.py" "$SRV_IP" "$REDIS_PORT" 2 0.02 redis
	sleep 1
	cap_start "$OUT/redis-midstream.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$REDIS_PORT"
	sleep 1
	cap_stop
	kill "${MFREC_PIDS[-1]}"
}

rec_redis_pipeline() {
	python3 - >"$MFREC_TMP/load.resp" <<'PY'
import sys
out = sys.stdout.buffer
for i in range(2000):
    args = [b"SET", b"bulk:%d" % i, b"value-%d" % i]
    out.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
PY
	cap_start "$OUT/redis-pipeline.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$REDIS_PORT"
	in_cli redis-benchmark -h "$SRV_IP" -p "$REDIS_PORT" -c 1 -P 1000 -n 3000 -t set,get -q >/dev/null
	in_cli redis-cli -h "$SRV_IP" -p "$REDIS_PORT" --pipe <"$MFREC_TMP/load.resp" >/dev/null
	cap_stop
}

all=(http-post-cut http-midstream http-cut-head redis-midstream redis-pipeline)
[ $# -gt 0 ] && all=("$@")
for c in "${all[@]}"; do
	fn=rec_${c//-/_}
	declare -F "$fn" >/dev/null || { echo "unknown capture $c" >&2; exit 2; }
	case $c in
	http-post-cut | http-midstream) [ -f "$MFREC_TMP/nginx/nginx.conf" ] || http_server ;;
	redis-*) [ -d "$MFREC_TMP/redis" ] || redis_server ;;
	esac
	"$fn"
	summarize "$OUT/$c.pcap"
done
