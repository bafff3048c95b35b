#!/usr/bin/env bash
# record-http2.sh: re-record the HTTP/2 and gRPC captures of l7/http2/testdata
# on the loopback interface, then re-derive their goldens from tshark
# (scripts/http2-goldens.sh). Run as root; needs go, curl (with nghttp2),
# tcpdump, tshark and nginx. Ports 17200 (Go h2c server, Upgrade), 17201
# (gRPC) and 17202 (nginx, prior knowledge).
#
#   h2c-prior-knowledge.pcap  against nginx: curl --http2-prior-knowledge
#                             (200 with traceparent, 404, a POST answered
#                             500), then scripts/http2-recorder -client
#                             multiplexing 6 requests with sw8 and b3 on one
#                             connection (200, a 200 KiB body, 404, 500)
#   h2c-upgrade.pcap          curl --http2: HTTP/1.1 Upgrade: h2c, 101, then
#                             HTTP/2 on the same connection
#   grpc.pcap                 scripts/grpc-recorder: unary OK / NotFound /
#                             Internal with a message, server, client and
#                             bidirectional streaming, a cancelled call, a
#                             health check
#
# usage: scripts/record-http2.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/l7/http2/testdata
TMP=$(mktemp -d)
chmod 755 "$TMP" # nginx workers read its www
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$OUT"

(cd "$REPO/scripts/http2-recorder" && go build -o "$TMP/http2-recorder" .)
(cd "$REPO/scripts/grpc-recorder" && go build -o "$TMP/grpc-recorder" .)

# capture FILE PORT CMD...: run CMD with tcpdump recording PORT on lo.
capture() {
	local file=$1 port=$2
	shift 2
	tcpdump -i lo -U -s 0 -w "$TMP/$file" "tcp port $port" 2>/dev/null &
	local tp=$!
	PIDS+=("$tp")
	# tcpdump -U writes the file header once it listens.
	for _ in $(seq 50); do [ -s "$TMP/$file" ] && break; sleep 0.1; done
	sleep 0.5
	"$@"
	sleep 1
	kill -INT "$tp"
	wait "$tp" || true
	[ -s "$TMP/$file" ] || { echo "$file: nothing captured" >&2; exit 1; }
	cp "$TMP/$file" "$OUT/$file"
	echo "$file: $(tshark -r "$OUT/$file" 2>/dev/null | wc -l) packets"
}

# Prior knowledge: nginx (listen ... http2 without ssl is h2c). The Go h2c
# handler fails curl's second request on a prior-knowledge connection.
mkdir -p "$TMP/www"
head -c $((200 << 10)) /dev/zero | tr '\0' 'x' >"$TMP/www/big"
cat >"$TMP/nginx.conf" <<NGINX
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/error.log;
events {}
http {
	access_log off;
	client_body_temp_path $TMP/body;
	proxy_temp_path $TMP/proxy;
	fastcgi_temp_path $TMP/fastcgi;
	uwsgi_temp_path $TMP/uwsgi;
	scgi_temp_path $TMP/scgi;
	server {
		listen 127.0.0.1:17202 http2;
		root $TMP/www;
		location = /hello { add_header x-request-id \$http_x_request_id; return 200 "hello\n"; }
		location = /error { return 500; }
	}
}
NGINX
nginx -c "$TMP/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
# Upgrade: the Go h2c server.
"$TMP/http2-recorder" -addr 127.0.0.1:17200 &
PIDS+=($!)
sleep 1
U=http://127.0.0.1:17202
prior() {
	# curl 7.88 fails a second request on a prior-knowledge connection
	# (sequential or multiplexed), so curl makes one connection per URL and
	# the Go client multiplexes several URLs on one connection.
	curl -sS --http2-prior-knowledge \
		-H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
		-H 'x-request-id: curl-1' "$U/hello?name=h2&x=1" >/dev/null
	curl -sS --http2-prior-knowledge "$U/missing" >/dev/null
	curl -sS --http2-prior-knowledge -X POST -d 'name=value' "$U/hello?post=1" >/dev/null || true
	"$TMP/http2-recorder" -client \
		-H 'sw8: 1-MTIzNDU2Nzg5MA==-c2VnbWVudDE=-3-c3Zj-aW5zdA==-L2VuZHBvaW50-aG9zdDo4MA==' \
		-H 'b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90' \
		"$U/hello?p=0" "$U/big" "$U/hello?p=1" "$U/hello?p=2" "$U/missing?p=3" "$U/error?p=4"
}
upgrade() {
	curl -sS -o /dev/null --http2 -H 'x-request-id: up-1' \
		"http://127.0.0.1:17200/hello?via=upgrade" "http://127.0.0.1:17200/missing"
}
capture h2c-prior-knowledge.pcap 17202 prior
capture h2c-upgrade.pcap 17200 upgrade
capture grpc.pcap 17201 "$TMP/grpc-recorder" -addr 127.0.0.1:17201

"$REPO/scripts/http2-goldens.sh"
