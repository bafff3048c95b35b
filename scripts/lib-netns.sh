# shellcheck shell=bash
# lib-netns.sh: shared plumbing for scripts/record-*.sh, which re-record the
# captures under testdata/ from real servers and clients.
#
# Sourcing it (as root) takes a lock, so two recorders never share the
# namespaces, and installs an EXIT trap that kills only the processes started
# with ns_bg, deletes the namespaces and removes the temporary directory.
#
# Topology, rebuilt from scratch by netns_up:
#
#   mfrec-cli: mfrec-c0 10.201.0.1/24 fd00:201::1/64 02:00:00:c9:00:01
#        |  veth pair (or, with "netns_up wire", a relay in mfrec-wire)
#   mfrec-srv: mfrec-s0 10.201.0.2/24 fd00:201::2/64 02:00:00:c9:00:02
#
# Captures are taken on mfrec-c0 (the client's view) unless a script says
# otherwise. Checksum and segmentation offloads are turned off on both ends
# so that the capture holds wire-sized packets with correct checksums.

set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "$0: must run as root (network namespaces)" >&2
	exit 1
fi
for tool in ip tcpdump tshark capinfos ethtool; do
	command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 1; }
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# summarize FILE, tcp_flags FILE
. "$REPO/scripts/record-summary.sh"
NS_CLI=mfrec-cli
NS_SRV=mfrec-srv
NS_WIRE=mfrec-wire
WIRE_CLI=mfrec-wc
WIRE_SRV=mfrec-ws
WIRE_MIRROR=mfrec-wm
WIRE_TAP=mfrec-wt
VETH_CLI=mfrec-c0
VETH_SRV=mfrec-s0
MAC_CLI=02:00:00:c9:00:01
MAC_SRV=02:00:00:c9:00:02
CLI_IP=10.201.0.1
SRV_IP=10.201.0.2
CLI_IP6=fd00:201::1
SRV_IP6=fd00:201::2

exec 9>/run/mfrec.lock
flock -w 600 9 || { echo "$0: another recorder holds /run/mfrec.lock" >&2; exit 1; }

MFREC_TMP=$(mktemp -d /tmp/mfrec.XXXXXX)
chmod 755 "$MFREC_TMP"
MFREC_PIDS=()
MFREC_TCPDUMP=

mfrec_cleanup() {
	local rc=$?
	set +e
	if [ -n "$MFREC_TCPDUMP" ]; then
		kill -INT "$MFREC_TCPDUMP" 2>/dev/null
		wait "$MFREC_TCPDUMP" 2>/dev/null
	fi
	ns_stop_all
	netns_down
	rm -rf "$MFREC_TMP"
	exit "$rc"
}
trap mfrec_cleanup EXIT
trap 'exit 130' INT TERM

# netns_down deletes the namespaces (and with them the veth pairs) if present.
netns_down() {
	local ns
	for ns in "$NS_CLI" "$NS_WIRE" "$NS_SRV"; do
		ip netns del "$ns" 2>/dev/null || true
	done
}

# netns_up [wire ARGS...]: build the two namespaces and the veth pair
# between them. With "wire", the pair is cut in two by a third namespace,
# mfrec-wire, holding mfrec-wc (towards the client) and mfrec-ws (towards the
# server), and a userspace relay (wire_relay below) forwards frames between
# them, applying netem-like delay, loss and reordering to the server-to-client
# direction: the endpoints keep their addresses and MACs, and the
# impairments act on the path, not on either TCP stack. (The kernels these
# scripts were written on lack sch_netem, and 802.1Q.) The relay can also
# copy every frame it forwards, 802.1Q-tagged, to mfrec-wm, like a switch's
# mirror port on a trunk; capture them on its peer mfrec-wt. ARGS go to the
# relay.
netns_up() {
	netns_down
	ip netns add "$NS_CLI"
	ip netns add "$NS_SRV"
	if [ "${1:-}" = wire ]; then
		shift
		ip netns add "$NS_WIRE"
		ip link add "$VETH_CLI" netns "$NS_CLI" address "$MAC_CLI" type veth peer name "$WIRE_CLI" netns "$NS_WIRE"
		ip link add "$VETH_SRV" netns "$NS_SRV" address "$MAC_SRV" type veth peer name "$WIRE_SRV" netns "$NS_WIRE"
		ip -n "$NS_WIRE" link add "$WIRE_MIRROR" type veth peer name "$WIRE_TAP"
		local port
		for port in "$WIRE_CLI" "$WIRE_SRV" "$WIRE_MIRROR" "$WIRE_TAP"; do
			ip netns exec "$NS_WIRE" sysctl -qw "net.ipv6.conf.$port.disable_ipv6=1"
			ip netns exec "$NS_WIRE" ethtool -K "$port" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
			ip -n "$NS_WIRE" link set "$port" up
		done
		wire_relay "$@"
	else
		ip link add "$VETH_CLI" netns "$NS_CLI" address "$MAC_CLI" type veth \
			peer name "$VETH_SRV" netns "$NS_SRV" address "$MAC_SRV"
	fi
	local ns dev ip4 ip6
	for ns in "$NS_CLI" "$NS_SRV"; do
		if [ "$ns" = "$NS_CLI" ]; then
			dev=$VETH_CLI ip4=$CLI_IP ip6=$CLI_IP6
		else
			dev=$VETH_SRV ip4=$SRV_IP ip6=$SRV_IP6
		fi
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$ip4/24" dev "$dev"
		ip -n "$ns" addr add "$ip6/64" dev "$dev" nodad
		# No link-local address and no router solicitations: less IPv6
		# chatter (the captures filter out what remains).
		ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.addr_gen_mode=1"
		ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.router_solicitations=0"
		ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
		ip -n "$ns" link set "$dev" up
	done
	# Resolve each other's MAC up front so captures do not start with ARP/ND.
	ip -n "$NS_CLI" neigh replace "$SRV_IP" lladdr "$MAC_SRV" dev "$VETH_CLI" nud permanent
	ip -n "$NS_SRV" neigh replace "$CLI_IP" lladdr "$MAC_CLI" dev "$VETH_SRV" nud permanent
	ip -n "$NS_CLI" neigh replace "$SRV_IP6" lladdr "$MAC_SRV" dev "$VETH_CLI" nud permanent
	ip -n "$NS_SRV" neigh replace "$CLI_IP6" lladdr "$MAC_CLI" dev "$VETH_SRV" nud permanent
	# Let the MLD reports that follow link-up pass before capturing.
	sleep 2
}

# in_cli / in_srv run a command inside that namespace.
in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_srv() { ip netns exec "$NS_SRV" "$@"; }

# ns_bg NS CMD...: start CMD in namespace NS in the background and remember
# its pid (ip netns exec execs CMD, so the pid is CMD's) for the EXIT trap.
# Its output goes to $MFREC_TMP/<basename>.log.
ns_bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" >>"$MFREC_TMP/$(basename "$1").log" 2>&1 &
	MFREC_PIDS+=($!)
}

# ns_stop_all: stop the processes started by ns_bg, newest first, and wait
# for them.
ns_stop_all() {
	local i
	for ((i = ${#MFREC_PIDS[@]} - 1; i >= 0; i--)); do
		kill "${MFREC_PIDS[i]}" 2>/dev/null || true
	done
	for ((i = ${#MFREC_PIDS[@]} - 1; i >= 0; i--)); do
		wait "${MFREC_PIDS[i]}" 2>/dev/null || true
	done
	MFREC_PIDS=()
}

# wait_port NS ADDR PORT [tcp|udp]: wait up to 20 s for a listener.
wait_port() {
	local ns=$1 addr=$2 port=$3 proto=${4:-tcp} i flag=-ltnH
	[ "$proto" = udp ] && flag=-lunH
	for ((i = 0; i < 200; i++)); do
		if ip netns exec "$ns" ss $flag "sport = :$port" | grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	echo "$0: nothing listens on $addr:$port/$proto in $ns" >&2
	return 1
}

# cap_start FILE [NS DEV [FILTER...]]: start tcpdump writing FILE (snaplen
# $SNAP, default 0 = whole packets; packet-buffered) and wait until it
# listens. Default interface: the client's veth.
cap_start() {
	local file=$1 ns=${2:-$NS_CLI} dev=${3:-$VETH_CLI}
	shift $(($# < 3 ? $# : 3))
	local log=$MFREC_TMP/tcpdump.log
	: >"$log"
	mkdir -p "$(dirname "$file")"
	rm -f "$file"
	ip netns exec "$ns" tcpdump -Z root -n --immediate-mode -i "$dev" -s "${SNAP:-0}" -U -w "$file" "$@" 2>"$log" &
	MFREC_TCPDUMP=$!
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$log" && { sleep 0.2; return 0; }
		sleep 0.05
	done
	echo "$0: tcpdump did not start:" >&2
	cat "$log" >&2
	return 1
}

# cap_stop: let the last packets land, stop tcpdump with SIGINT and wait.
cap_stop() {
	sleep 0.5
	kill -INT "$MFREC_TCPDUMP"
	wait "$MFREC_TCPDUMP" || true
	MFREC_TCPDUMP=
	grep -E 'captured|dropped' "$MFREC_TMP/tcpdump.log" | sed 's/^/  tcpdump: /' >&2 || true
}

# nginx_start SERVER_BLOCKS: start nginx in the server namespace (foreground,
# one worker, everything under $MFREC_TMP/nginx) with the given server {}
# blocks inside http {}; the document root $MFREC_TMP/nginx/html is created
# empty for the caller to fill.
nginx_start() {
	local d=$MFREC_TMP/nginx
	mkdir -p "$d/html" "$d/logs"
	cat >"$d/nginx.conf" <<CONF
user root;
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	server_tokens off;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	types { text/html html; text/plain txt; application/json json; application/octet-stream bin; }
	default_type application/octet-stream;
	root $d/html;
	$1
}
CONF
	ns_bg "$NS_SRV" nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"
}

# wire_relay [--delay MS] [--loss P] [--reorder P] [--seed N] [--vlan ID]:
# forward every frame between mfrec-wc and mfrec-ws. Frames from the server
# are delayed by MS, dropped with probability P (--loss) and, with
# probability P (--reorder), sent at once instead, overtaking the delayed
# ones, as netem's "delay MS reorder P" does. The random sequence is seeded:
# the same traffic sees the same drops. With --vlan, a copy of each frame
# forwarded, tagged with VLAN ID, goes out of mfrec-wm.
wire_relay() {
	cat >"$MFREC_TMP/wire.py" <<'PY'
import argparse, heapq, random, select, socket, time

ap = argparse.ArgumentParser()
ap.add_argument("cli")
ap.add_argument("srv")
ap.add_argument("--delay", type=float, default=0)
ap.add_argument("--loss", type=float, default=0)
ap.add_argument("--reorder", type=float, default=0)
ap.add_argument("--seed", type=int, default=201)
ap.add_argument("--vlan", type=int, default=0)
ap.add_argument("--mirror", default="mfrec-wm")
a = ap.parse_args()
rnd = random.Random(a.seed)

def port(dev):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((dev, 0))
    s.setblocking(False)
    return s

cli, srv = port(a.cli), port(a.srv)
mirror = port(a.mirror) if a.vlan else None
tag = b"\x81\x00" + a.vlan.to_bytes(2, "big")

def send(s, frame):
    s.send(frame)
    if mirror:
        mirror.send(frame[:12] + tag + frame[12:])

queue, n = [], 0  # (due, n, frame): n keeps equal due times in order
while True:
    timeout = max(0, queue[0][0] - time.monotonic()) if queue else None
    ready, _, _ = select.select([cli, srv], [], [], timeout)
    for s in ready:
        frame, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        if s is cli:
            send(srv, frame)
            continue
        if rnd.random() < a.loss:
            continue
        delay = 0 if rnd.random() < a.reorder else a.delay / 1000
        n += 1
        heapq.heappush(queue, (time.monotonic() + delay, n, frame))
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        send(cli, heapq.heappop(queue)[2])
PY
	ns_bg "$NS_WIRE" python3 "$MFREC_TMP/wire.py" "$WIRE_CLI" "$WIRE_SRV" --mirror "$WIRE_MIRROR" "$@"
}
