#!/usr/bin/env bash
# record-flow.sh: re-record testdata/flow/*.pcap, the L4 scenarios for the flow
# table (connection refused, silent server, resets, zero windows, loss,
# reordering, clean and half closes, UDP and ICMP), between two network
# namespaces. Run as root from anywhere; needs nginx, curl, python3, nft,
# ping, tcpdump, tshark, iproute2 and ethtool. See testdata/README.md.
#
# usage: scripts/record-flow.sh [SCENARIO...]   (default: all of them)
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/testdata/flow
PEER=$MFREC_TMP/peer.py

# peer.py: the small TCP/UDP servers and clients the scenarios need.
cat >"$PEER" <<'PY'
import socket, struct, sys, time

LINGER0 = struct.pack("ii", 1, 0)

def listen(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4)
    return s

def read_until(c, mark):
    buf = b""
    while mark not in buf:
        d = c.recv(4096)
        if not d:
            break
        buf += d
    return buf

def reset_server(host, port):
    # Answers one HTTP request with a 1 MB Content-Length, sends 24 KB of
    # it and aborts the connection (SO_LINGER 0: close sends RST).
    s = listen(host, port)
    c, _ = s.accept()
    read_until(c, b"\r\n\r\n")
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Length: 1048576\r\n\r\n")
    for i in range(6):
        c.sendall(bytes([0x41 + i]) * 4096)
        time.sleep(0.05)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    c.close()

def echo_server(host, port):
    # Echoes every line back until the peer goes away.
    s = listen(host, port)
    c, _ = s.accept()
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(d)
    except ConnectionResetError:
        pass
    c.close()

def reset_client(host, port):
    # Two request/reply rounds on an established connection, then an abort.
    c = socket.create_connection((host, port))
    for msg in (b"hello\n", b"second line\n"):
        c.sendall(msg)
        read_until(c, b"\n")
        time.sleep(0.1)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    c.close()

def bulk_server(host, port, size):
    # Waits for "GO\n", writes size bytes as fast as the window allows, closes.
    s = listen(host, port)
    c, _ = s.accept()
    read_until(c, b"\n")
    c.sendall(bytes(range(256)) * (size // 256))
    c.shutdown(socket.SHUT_WR)
    read_until(c, b"never")
    c.close()

def slow_reader(host, port, pause):
    # A small receive buffer and a reader that stalls: the window closes,
    # the sender probes it, and reopens when the reader drains the buffer.
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect((host, port))
    c.sendall(b"GO\n")
    time.sleep(pause)
    total = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        total += len(d)
    c.close()
    print("slow reader got", total, "bytes")

def halfclose_server(host, port):
    # Reads the request to EOF (the client's FIN), then answers and closes.
    s = listen(host, port)
    c, _ = s.accept()
    n = len(read_until(c, b"never"))
    time.sleep(0.1)
    for i in range(3):
        c.sendall(b"line %d after your FIN, you sent %d bytes\n" % (i, n))
        time.sleep(0.05)
    c.close()

def halfclose_client(host, port):
    c = socket.create_connection((host, port))
    c.sendall(b"request body, then FIN\n" * 4)
    c.shutdown(socket.SHUT_WR)
    while c.recv(4096):
        pass
    c.close()

def udp_echo(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    while True:
        d, a = s.recvfrom(65535)
        s.sendto(b"echo:" + d, a)

def udp_client(host, echo, closed, dropped):
    # Three exchanges on one socket, one on another, one datagram to a closed
    # port (ICMP port unreachable) and one to a port whose packets are
    # silently dropped (no reply at all).
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.settimeout(1)
    for i in range(3):
        a.sendto(b"ping %d" % i, (host, echo))
        a.recvfrom(65535)
        time.sleep(0.05)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.settimeout(1)
    b.sendto(b"x" * 1000, (host, echo))
    b.recvfrom(65535)
    for port in (closed, dropped):
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.sendto(b"anyone there?", (host, port))
        time.sleep(0.3)
        c.close()

cmd, host = sys.argv[1], sys.argv[2]
args = [int(x) for x in sys.argv[3:]]
globals()[cmd.replace("-", "_")](host, *args)
PY

# nft_drop PORT PROTO: silently drop PROTO packets to PORT in the server ns.
nft_drop() {
	in_srv nft add table inet mfrec
	in_srv nft "add chain inet mfrec input { type filter hook input priority 0; policy accept; }"
	in_srv nft add rule inet mfrec input "$2" dport "$1" drop
}

# peer_srv MODE PORT [ARGS]: start a peer.py server and wait for its socket.
peer_srv() {
	local mode=$1 port=$2 proto=tcp
	shift 2
	[ "$mode" = udp-echo ] && proto=udp
	ns_bg "$NS_SRV" python3 "$PEER" "$mode" "$SRV_IP" "$port" "$@"
	wait_port "$NS_SRV" "$SRV_IP" "$port" "$proto"
}

peer_cli() { in_cli python3 "$PEER" "$@"; }

# A capture per scenario, each in fresh namespaces.
rec_refused() {
	cap_start "$OUT/refused.pcap" "$NS_CLI" "$VETH_CLI" ip
	in_cli curl -sS --max-time 3 "http://$SRV_IP:9/" || true
	cap_stop
}

rec_silent() {
	nft_drop 81 tcp
	cap_start "$OUT/silent.pcap" "$NS_CLI" "$VETH_CLI" ip
	in_cli curl -sS --connect-timeout 4 "http://$SRV_IP:81/" || true
	cap_stop
}

rec_reset_mid() {
	peer_srv reset-server 8081
	cap_start "$OUT/reset-mid.pcap" "$NS_CLI" "$VETH_CLI" ip
	in_cli curl -sS -o /dev/null "http://$SRV_IP:8081/download" || true
	cap_stop
}

rec_client_reset() {
	peer_srv echo-server 8082
	cap_start "$OUT/client-reset.pcap" "$NS_CLI" "$VETH_CLI" ip
	peer_cli reset-client "$SRV_IP" 8082
	cap_stop
}

rec_zero_window() {
	peer_srv bulk-server 8083 65536
	cap_start "$OUT/zero-window.pcap" "$NS_CLI" "$VETH_CLI" ip
	peer_cli slow-reader "$SRV_IP" 8083 3
	cap_stop
}

# web_start: nginx with a 300 KB file for the loss and reorder downloads and
# a small one for the clean close.
web_start() {
	nginx_start "server { listen $SRV_IP:80; }"
	head -c 307200 /dev/urandom >"$MFREC_TMP/nginx/html/big.bin"
	echo "hello from nginx" >"$MFREC_TMP/nginx/html/index.html"
	wait_port "$NS_SRV" "$SRV_IP" 80
}

# Lossy and reordered downloads run through the relay in mfrec-wire (see
# netns_up in lib-netns.sh). 300 KB of payload does not fit in 200 KB, so
# these two keep the first 256 bytes of each packet (all headers, and the
# whole HTTP request and response head).
#
# Loss: like "netem loss 5% delay 5ms" on the server's side: the client-side
# capture shows the gaps, the duplicate ACKs with SACK blocks and the
# server's retransmissions.
rec_loss() {
	netns_up wire --delay 5 --loss 0.05
	web_start
	SNAP=256 cap_start "$OUT/loss.pcap" "$NS_CLI" "$VETH_CLI" ip
	in_cli curl -sS -o /dev/null "http://$SRV_IP/big.bin"
	cap_stop
}

# Reorder: like "netem delay 10ms reorder 10%": one in ten of the server's
# packets overtake the others.
rec_reorder() {
	netns_up wire --delay 10 --reorder 0.1
	web_start
	SNAP=256 cap_start "$OUT/reorder.pcap" "$NS_CLI" "$VETH_CLI" ip
	in_cli curl -sS -o /dev/null "http://$SRV_IP/big.bin"
	cap_stop
}

rec_fin_normal() {
	web_start
	cap_start "$OUT/fin-normal.pcap" "$NS_CLI" "$VETH_CLI" ip
	in_cli curl -sS -o /dev/null "http://$SRV_IP/index.html"
	cap_stop
}

rec_half_close() {
	peer_srv halfclose-server 8084
	cap_start "$OUT/half-close.pcap" "$NS_CLI" "$VETH_CLI" ip
	peer_cli halfclose-client "$SRV_IP" 8084
	cap_stop
}

rec_udp_mixed() {
	peer_srv udp-echo 7001
	nft_drop 7003 udp
	cap_start "$OUT/udp-mixed.pcap" "$NS_CLI" "$VETH_CLI" ip
	peer_cli udp-client "$SRV_IP" 7001 7002 7003
	cap_stop
}

rec_icmp_ping() {
	cap_start "$OUT/icmp-ping.pcap" "$NS_CLI" "$VETH_CLI" ip
	in_cli ping -n -c 3 -i 0.2 "$SRV_IP"
	cap_stop
}

all=(refused silent reset-mid client-reset zero-window loss reorder fin-normal half-close udp-mixed icmp-ping)
[ $# -gt 0 ] && all=("$@")
for sc in "${all[@]}"; do
	fn=rec_${sc//-/_}
	declare -F "$fn" >/dev/null || { echo "unknown scenario $sc (know: ${all[*]})" >&2; exit 2; }
	echo "### $sc"
	netns_up # rec_loss and rec_reorder rebuild them with a wire in between
	"$fn"
	# Stop this scenario's servers before the next one rebuilds the namespaces.
	ns_stop_all
	summarize "$OUT/$sc.pcap"
done
