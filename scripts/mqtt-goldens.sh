#!/usr/bin/env bash
# mqtt-goldens.sh: derive the goldens of the MQTT decoder's tests from
# tshark, the oracle: l7/mqtt/testdata/<capture>.golden for the recorded
# captures (l7/mqtt/testdata/*.pcap) and l7/mqtt/testdata/shared/<capture>.golden
# for the shared corpus (../shared/pcaps/mqtt, or $METAFLOW_PCAPS/mqtt).
# Needs tshark (4.0 was used) and python3, not root.
#
# One line per MQTT control packet tshark decodes, in capture order,
# tab-separated:
#
#   src  dst  type  packet-id  topics  client-id  codes  version  malformed
#
# src and dst are addr:port ([addr]:port for IPv6); type is the packet type
# name (CONNECT, PUBLISH, ...); topics the topic or topic filters joined by
# ','; codes the CONNACK return or reason code, the PUBACK/PUBREC/PUBCOMP
# reason code, the SUBACK or UNSUBACK codes joined by ','; version the
# CONNECT's protocol level; malformed is 1 when tshark flags the packet as
# malformed. Empty fields stay empty. Ports 1883, 17483 and 17484 are decoded
# as MQTT.
#
# usage: scripts/mqtt-goldens.sh [capture.pcap ...]   (default: all)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
TD=$REPO/l7/mqtt/testdata
SHARED=${METAFLOW_PCAPS:-$(dirname "$REPO")/shared/pcaps}/mqtt

golden() {
	local pcap=$1 out=$2
	tshark -n -r "$pcap" -d tcp.port==1883,mqtt -d tcp.port==17483,mqtt -d tcp.port==17484,mqtt \
		-T json --no-duplicate-keys -J "ip ipv6 tcp mqtt" 2>/dev/null | python3 -c '
import json, sys

NAMES = ["", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
         "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"]
CODES = ["mqtt.conack.val", "mqtt.connack.reason_code", "mqtt.puback.reason_code",
         "mqtt.pubrec.reason_code", "mqtt.pubcomp.reason_code", "mqtt.suback.qos",
         "mqtt.suback.reason_code", "mqtt.unsuback.reason_code"]

def items(v):
    return v if isinstance(v, list) else [v]

def find(d, key, out):
    """Values of key anywhere in d, in order (properties excluded)."""
    if isinstance(d, dict):
        for k, v in d.items():
            if k in ("mqtt.properties", "mqtt.will_properties"):
                continue
            if k == key:
                out.extend(x for x in items(v) if not isinstance(x, dict))
            else:
                find(v, key, out)
    elif isinstance(d, list):
        for x in d:
            find(x, key, out)
    return out

def first(d, key):
    v = find(d, key, [])
    return v[0] if v else ""

def addr(layers, port):
    for ip in ("ip", "ipv6"):
        if ip in layers:
            l = items(layers[ip])[-1]
            if ip == "ip":
                return l["ip.src"], l["ip.dst"]
            return "[%s]" % l["ipv6.src"], "[%s]" % l["ipv6.dst"]
    return "?", "?"

for pkt in json.load(sys.stdin):
    layers = pkt["_source"]["layers"]
    if "mqtt" not in layers:
        continue
    tcp = items(layers["tcp"])[-1]
    src, dst = addr(layers, None)
    src += ":" + tcp["tcp.srcport"]
    dst += ":" + tcp["tcp.dstport"]
    for m in items(layers["mqtt"]):
        if not isinstance(m, dict):
            continue
        t = first(m, "mqtt.msgtype")
        if t == "":
            continue
        t = int(t)
        name = NAMES[t] if 0 < t < 16 else "TYPE%d" % t
        codes = []
        for k in CODES:
            codes += find(m, k, [])
        bad = "1" if find(m, "_ws.malformed", []) or "_ws.malformed" in json.dumps(m) else ""
        print("\t".join([src, dst, name, first(m, "mqtt.msgid"), ",".join(find(m, "mqtt.topic", [])),
                         first(m, "mqtt.clientid"), ",".join(codes), first(m, "mqtt.ver"), bad]))
' >"$out"
	echo "$out: $(wc -l <"$out") packets" >&2
}

if [ $# -eq 0 ]; then
	set -- "$TD"/*.pcap
	[ -d "$SHARED" ] && set -- "$@" "$SHARED"/*.pcap
fi
mkdir -p "$TD/shared"
for f in "$@"; do
	f=$(realpath "$f")
	case $f in
	"$TD"/*) golden "$f" "$TD/$(basename "$f").golden" ;;
	*) golden "$f" "$TD/shared/$(basename "$f").golden" ;;
	esac
done
