#!/usr/bin/env bash
# record-mqtt.sh: re-record l7/mqtt/testdata/mqtt-*.pcap: mosquitto_pub and
# mosquitto_sub against a mosquitto broker, between two network namespaces.
# Run as root; needs mosquitto (broker and clients, Debian "mosquitto" and
# "mosquitto-clients"), python3, tcpdump, tshark, iproute2 and ethtool.
# Then derive the goldens with scripts/mqtt-goldens.sh.
#
#   mqtt-v311.pcap  MQTT 3.1.1: subscribers at QoS 2 and 1 (the broker's
#                   PUBLISH to them and their acknowledgements), PUBLISH at
#                   QoS 0/1/2, retained, a burst of 20 on one connection, a
#                   100 KB payload, a will the broker publishes, UNSUBSCRIBE
#                   on a persistent session, PINGREQ (keep-alive 5 s)
#   mqtt-v31.pcap   MQTT 3.1 (MQIsdp): a subscriber at QoS 2, PUBLISH 0/1/2
#   mqtt-v5.pcap    MQTT 5: user properties traceparent, sw8 and b3 on
#                   PUBLISH, CONNECT and SUBSCRIBE properties, subscribers at
#                   QoS 2 and 1, UNSUBSCRIBE, a 40 KB payload
#   mqtt-auth.pcap  a listener that wants a password: refused CONNECTs
#                   (3.1.1 return code 5, MQTT 5 reason 0x86), an accepted
#                   one, and a CONNECT of protocol level 9 (return code 1)
#
# usage: scripts/record-mqtt.sh [v311|v31|v5|auth ...]   (default: all)
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/l7/mqtt/testdata
PORT=17483      # anonymous listener
AUTH_PORT=17484 # password listener

netns_up
cat >"$MFREC_TMP/mosquitto.conf" <<CONF
user root
persistence false
per_listener_settings true
log_dest stderr
log_type error
listener $PORT $SRV_IP
allow_anonymous true
listener $AUTH_PORT $SRV_IP
allow_anonymous false
password_file $MFREC_TMP/passwd
CONF
mosquitto_passwd -b -c "$MFREC_TMP/passwd" alice wonderland
ns_bg "$NS_SRV" mosquitto -c "$MFREC_TMP/mosquitto.conf"
wait_port "$NS_SRV" "$SRV_IP" "$PORT"
wait_port "$NS_SRV" "$SRV_IP" "$AUTH_PORT"

# 40 KB of printable bytes for the big payloads.
seq -w 1 20000 | sed 's/$/-payload/' >"$MFREC_TMP/big.txt"
truncate -s 40960 "$MFREC_TMP/big.txt"

pub() { in_cli mosquitto_pub -h "$SRV_IP" -p "$PORT" "$@"; }
sub() { in_cli mosquitto_sub -h "$SRV_IP" -p "$PORT" "$@" >/dev/null; }
# sub_bg ARGS: a subscriber in the background; its pid in $! is ours.
sub_bg() { in_cli mosquitto_sub -h "$SRV_IP" -p "$PORT" "$@" >/dev/null & }

rec_v311() {
	local V=(-V mqttv311)
	cap_start "$OUT/mqtt-v311.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$PORT"
	sub_bg "${V[@]}" -i subA -q 2 -t 'test/#' -k 5 -W 9
	local subA=$!
	sub_bg "${V[@]}" -i subB -q 1 -t test/q2 -t test/q1 -C 2
	local subB=$!
	# An idle client: PINGREQ after 5 s.
	sub_bg "${V[@]}" -i idle -q 0 -t idle/none -k 5 -W 7
	local idle=$!
	sleep 1
	pub "${V[@]}" -i pub0 -t test/q0 -m zero -q 0
	pub "${V[@]}" -i pub1 -t test/q1 -m one -q 1
	pub "${V[@]}" -i pub2 -t test/q2 -m two -q 2
	pub "${V[@]}" -i pubR -t test/retained -m keep -q 1 -r
	seq 1 20 | sed 's/^/line /' | pub "${V[@]}" -i burst -t test/burst -q 1 -l
	pub "${V[@]}" -i big -t test/big -q 1 -f "$MFREC_TMP/big.txt"
	sub "${V[@]}" -i late -q 1 -t test/retained -C 1
	# A will the broker publishes when its client goes away unannounced.
	# (ip netns exec execs the client: $! is its pid, for kill -9.)
	ip netns exec "$NS_CLI" mosquitto_sub -h "$SRV_IP" -p "$PORT" "${V[@]}" -i willer -t none \
		--will-topic test/will --will-payload gone --will-qos 1 >/dev/null &
	local willer=$!
	sleep 1
	kill -9 "$willer"
	wait "$willer" 2>/dev/null || true
	# A persistent session subscribes, then a second connection of the
	# same client unsubscribes.
	sub "${V[@]}" -c -i persist -q 1 -t test/p -W 1 || true
	sub "${V[@]}" -c -i persist -q 1 -t test/other -U test/p -W 1 || true
	wait "$subB" || true
	wait "$idle" || true
	wait "$subA" || true
	cap_stop
}

rec_v31() {
	local V=(-V mqttv31)
	cap_start "$OUT/mqtt-v31.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$PORT"
	sub_bg "${V[@]}" -i sub31 -q 2 -t 'old/#' -C 3
	local s=$!
	sleep 1
	pub "${V[@]}" -i pub31a -t old/q0 -m zero -q 0
	pub "${V[@]}" -i pub31b -t old/q1 -m one -q 1
	pub "${V[@]}" -i pub31c -t old/q2 -m two -q 2
	wait "$s" || true
	cap_stop
}

rec_v5() {
	local V=(-V mqttv5)
	cap_start "$OUT/mqtt-v5.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$PORT"
	sub_bg "${V[@]}" -i sub5a -q 2 -t 'v5/#' -C 6 -D connect user-property who sub5a \
		-D subscribe user-property why test
	local a=$!
	sub_bg "${V[@]}" -i sub5b -q 1 -t v5/q2 -C 1
	local b=$!
	sleep 1
	pub "${V[@]}" -i pub5a -t v5/q0 -m zero -q 0
	pub "${V[@]}" -i pub5b -t v5/q1 -m one -q 1 \
		-D publish user-property traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	pub "${V[@]}" -i pub5c -t v5/q2 -m two -q 2 \
		-D publish user-property sw8 1-YWJjZGVmMTIzNDU2-c2VnbWVudDE=-3-c3Zj-aW5zdA==-L2FwaQ==-aG9zdDo4MA== \
		-D publish message-expiry-interval 60 -D publish content-type text/plain
	pub "${V[@]}" -i pub5d -t v5/b3 -m three -q 1 \
		-D publish user-property b3 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90
	pub "${V[@]}" -i pub5e -t v5/big -q 1 -f "$MFREC_TMP/big.txt"
	pub "${V[@]}" -i pub5f -t v5/last -m bye -q 0
	wait "$b" || true
	wait "$a" || true
	sub "${V[@]}" -c -i persist5 -q 1 -t v5/p -W 1 || true
	sub "${V[@]}" -c -i persist5 -q 1 -t v5/other -U v5/p -W 1 || true
	cap_stop
}

rec_auth() {
	cap_start "$OUT/mqtt-auth.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$AUTH_PORT"
	local A=(-h "$SRV_IP" -p "$AUTH_PORT")
	in_cli mosquitto_pub "${A[@]}" -V mqttv311 -i bad311 -u alice -P wrong -t a/b -m x -q 1 || true
	in_cli mosquitto_pub "${A[@]}" -V mqttv5 -i bad5 -u alice -P wrong -t a/b -m x -q 1 || true
	in_cli mosquitto_pub "${A[@]}" -V mqttv311 -i anon -t a/b -m x -q 1 || true
	in_cli mosquitto_pub "${A[@]}" -V mqttv311 -i good -u alice -P wonderland -t a/b -m x -q 1
	# A CONNECT of protocol level 9: the broker answers return code 1.
	in_cli python3 - "$SRV_IP" "$AUTH_PORT" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
body = b"\x00\x04MQTT\x09\x02\x00\x3c\x00\x05lvl09"
s.sendall(b"\x10" + bytes([len(body)]) + body)
s.settimeout(2)
try:
    s.recv(64)
except OSError:
    pass
s.close()
PY
	cap_stop
}

all=(v311 v31 v5 auth)
[ $# -gt 0 ] && all=("$@")
mkdir -p "$OUT"
for c in "${all[@]}"; do
	fn=rec_$c
	declare -F "$fn" >/dev/null || { echo "unknown capture $c (know: ${all[*]})" >&2; exit 2; }
	"$fn"
	summarize "$OUT/mqtt-$c.pcap"
done
