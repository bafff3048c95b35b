#!/usr/bin/env bash
# record-l7-http.sh: re-record testdata/l7/http-nginx.pcap (curl and nc
# against nginx, with a python3 backend behind proxy_pass), http-ipv6.pcap
# and http-vlan.pcap, between network namespaces. Run as root; needs nginx,
# curl, nc (netcat-openbsd), python3, tcpdump, tshark, iproute2 and ethtool.
# See testdata/README.md.
#
# usage: scripts/record-l7-http.sh [nginx|ipv6|vlan ...]   (default: all)
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/testdata/l7
URL=http://$SRV_IP
HTML=$MFREC_TMP/nginx/html

# backend.py: HTTP/1.1 backend on the server namespace's own loopback, for
# a chunked response and for request bodies (nginx reads them, answering
# "Expect: 100-continue" with "100 Continue", and passes them on).
cat >"$MFREC_TMP/backend.py" <<'PY'
import http.server, json

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path != "/api/chunked":
            return self.send_error(404)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(3):
            data = b"chunk %d of a chunked response\n" % i
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self):
        n = len(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        body = json.dumps({"path": self.path, "received": n}).encode() + b"\n"
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", 8090), H).serve_forever()
PY

web_start() {
	nginx_start "
	server {
		listen $SRV_IP:80;
		listen [$SRV_IP6]:80;
		server_name mfrec.test;
		add_header X-Request-ID \$http_x_request_id always;
		location / { }
		location = /error { return 500; }
		location /ssi/ { ssi on; }
		location /gz/ { gzip on; gzip_types text/plain; gzip_min_length 0; }
		location /api/ {
			proxy_pass http://127.0.0.1:8090;
			proxy_http_version 1.1;
			proxy_set_header Connection \"\";
		}
	}"
	mkdir -p "$HTML/ssi" "$HTML/gz"
	echo "<html><body>hello from nginx</body></html>" >"$HTML/index.html"
	echo '{"name":"metaflow","items":[1,2,3]}' >"$HTML/a.json"
	echo "part of a page included twice" >"$HTML/ssi/part.html"
	printf '<html>\n<!--# include virtual="/ssi/part.html" -->\n<!--# include virtual="/ssi/part.html" -->\n</html>\n' >"$HTML/ssi/page.html"
	seq 1 400 | sed 's/$/ a line of text that gzip will shrink/' >"$HTML/gz/text.txt"
	# ~100 KB of printable text: readable in the capture.
	seq -w 1 2000 | sed 's/$/ large body line of fifty bytes........./' | head -c 102400 >"$HTML/large.txt"
	ns_bg "$NS_SRV" python3 "$MFREC_TMP/backend.py"
	wait_port "$NS_SRV" 127.0.0.1 8090
	wait_port "$NS_SRV" "$SRV_IP" 80
}

# Tracing headers: W3C traceparent and SkyWalking sw8 (service "mfrec-cli",
# instance "cli-1", endpoint "/a.json", target "10.201.0.2:80").
TRACE_ID=4bf92f3577b34da6a3ce929d0e0e4736
TRACEPARENT=00-$TRACE_ID-00f067aa0ba902b7-01
b64() { printf %s "$1" | base64 -w0; }
SW8="1-$(b64 "$TRACE_ID")-$(b64 5f0e5d8c2b1a4e3f9a8b7c6d5e4f3a2b)-3-$(b64 mfrec-cli)-$(b64 cli-1)-$(b64 /a.json)-$(b64 "$SRV_IP:80")"

# curl_q ARGS: curl discarding bodies, failing only on transport errors.
curl_q() { in_cli curl -sS -o /dev/null "$@"; }

record_http() {
	# 1. Keep-alive: five requests on one connection (curl reuses it across
	#    --next), each with its own X-Request-ID; the second also carries
	#    traceparent and sw8; a 404, and last nginx's own 500 page, after
	#    which nginx closes the connection.
	curl_q -H "X-Request-ID: req-0001" "$URL/" \
		--next -o /dev/null -H "X-Request-ID: req-0002" -H "traceparent: $TRACEPARENT" -H "sw8: $SW8" "$URL/a.json" \
		--next -o /dev/null -H "X-Request-ID: req-0003" "$URL/missing.html" \
		--next -o /dev/null -H "X-Request-ID: req-0004" "$URL/a.json?page=2&sort=name" \
		--next -o /dev/null -H "X-Request-ID: req-0005" "$URL/error"
	# 2. Pipelining: three requests in one segment before any response.
	(
		printf 'GET /index.html HTTP/1.1\r\nHost: mfrec.test\r\nUser-Agent: nc-pipeline\r\n\r\n'
		printf 'GET /a.json HTTP/1.1\r\nHost: mfrec.test\r\nUser-Agent: nc-pipeline\r\n\r\n'
		printf 'GET /missing HTTP/1.1\r\nHost: mfrec.test\r\nUser-Agent: nc-pipeline\r\nConnection: close\r\n\r\n'
		sleep 1
	) | in_cli nc -w 3 "$SRV_IP" 80 >/dev/null
	# 3. Chunked: SSI (nginx does not know the length), gzip, and a chunked
	#    response from the backend re-chunked by nginx.
	curl_q --compressed "$URL/gz/text.txt" \
		--next -o /dev/null "$URL/ssi/page.html" \
		--next -o /dev/null "$URL/api/chunked"
	# 4. A ~100 KB body, then HEAD of the same resource on a new connection.
	curl_q "$URL/large.txt"
	curl_q -I "$URL/large.txt"
	# 5. POST: a 20 KB body behind "Expect: 100-continue", then a small JSON
	#    body on the same connection.
	head -c 20480 "$HTML/large.txt" >"$MFREC_TMP/upload.txt"
	curl_q -H "Expect: 100-continue" -H "Content-Type: text/plain" --data-binary "@$MFREC_TMP/upload.txt" "$URL/api/upload" \
		--next -o /dev/null -H "Content-Type: application/json" --data '{"k":"v"}' "$URL/api/items"
}

rec_nginx() {
	netns_up
	web_start
	cap_start "$OUT/http-nginx.pcap" "$NS_CLI" "$VETH_CLI" ip
	record_http
	cap_stop
}

# IPv6: the keep-alive connection with the tracing headers, and a POST.
rec_ipv6() {
	netns_up
	web_start
	cap_start "$OUT/http-ipv6.pcap" "$NS_CLI" "$VETH_CLI" ip6 and tcp
	curl_q -g -H "X-Request-ID: req-v6-1" "http://[$SRV_IP6]/" \
		--next -o /dev/null -g -H "X-Request-ID: req-v6-2" -H "traceparent: $TRACEPARENT" -H "sw8: $SW8" "http://[$SRV_IP6]/a.json" \
		--next -o /dev/null -g "http://[$SRV_IP6]/missing.html"
	curl_q -g -H "Content-Type: application/json" --data '{"v6":true}' "http://[$SRV_IP6]/api/items"
	cap_stop
}

# VLAN 100: the same server and client with the wire relay between them,
# captured on its mirror port, where every frame carries an 802.1Q tag.
rec_vlan() {
	netns_up wire --vlan 100
	web_start
	cap_start "$OUT/http-vlan.pcap" "$NS_WIRE" "$WIRE_TAP"
	curl_q -H "X-Request-ID: req-vlan-1" "$URL/" \
		--next -o /dev/null -H "X-Request-ID: req-vlan-2" -H "traceparent: $TRACEPARENT" "$URL/a.json" \
		--next -o /dev/null "$URL/missing.html"
	cap_stop
}

all=(nginx ipv6 vlan)
[ $# -gt 0 ] && all=("$@")
for sc in "${all[@]}"; do
	declare -F "rec_$sc" >/dev/null || { echo "unknown capture $sc (know: nginx ipv6 vlan)" >&2; exit 2; }
	echo "### http-$sc"
	"rec_$sc"
	ns_stop_all
	summarize "$OUT/http-$sc.pcap"
done
