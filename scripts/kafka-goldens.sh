#!/bin/sh
# Re-derives l7/kafka's goldens from tshark (4.0 decodes Kafka up to the
# versions of Kafka 2.4), one line per Kafka PDU tshark decoded:
#   req  <client port> <api key> <api version> <correlation id> <first topic name or ->
#   resp <client port> <api key> <correlation id> <first non-zero kafka.error, 0, or ->
# for the recorded captures (l7/kafka/testdata/*.pcap) and, when the shared
# corpus is there, for its Kafka captures (goldens in testdata/shared/).
# tshark's JSON output (-T json -J "tcp kafka") is read rather than -T fields,
# which merges the fields of several Kafka PDUs in one frame into one row.
# Usage: scripts/kafka-goldens.sh [shared corpus dir]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
td=$root/l7/kafka/testdata
shared=${1:-$root/../shared/pcaps/kafka}

golden() { # capture golden
	tshark -r "$1" -d tcp.port==17301,kafka -d tcp.port==17302,kafka -d tcp.port==36333,kafka \
		-T json -J "tcp kafka" 2>/dev/null | python3 -c '
import json, sys
def pairs(p): return p
frames = json.load(sys.stdin, object_pairs_hook=pairs)
def get(obj, key):
    for k, v in obj:
        if k == key: return v
    return None
def walk(obj, key, out):
    for k, v in obj:
        if k == key: out.append(v)
        elif isinstance(v, list) and v and isinstance(v[0], tuple): walk(v, key, out)
        elif isinstance(v, list):
            for e in v:
                if isinstance(e, list): walk(e, key, out)
    return out
for fr in frames:
    layers = get(get(fr, "_source"), "layers")
    tcp = get(layers, "tcp")
    sport, dport = get(tcp, "tcp.srcport"), get(tcp, "tcp.dstport")
    pdus = [v for k, v in layers if k == "kafka"]
    flat = []
    for p in pdus:
        if p and isinstance(p[0], tuple): flat.append(p)
        else: flat.extend(x for x in p if isinstance(x, list))
    for p in flat:
        corr = get(p, "kafka.correlation_id")
        if corr is None: continue
        if get(p, "kafka.request_key") is None:
            errs = walk(p, "kafka.error", [])
            code = "-"
            if errs:
                nz = [e for e in errs if e != "0"]
                code = nz[0] if nz else "0"
            print("resp\t%s\t%s\t%s\t%s" % (dport, get(p, "kafka.response_key") or "-", corr, code))
        else:
            topics = walk(p, "kafka.topic_name", [])
            print("req\t%s\t%s\t%s\t%s\t%s" % (sport, get(p, "kafka.api_key"), get(p, "kafka.api_version"), corr, topics[0] if topics else "-"))
' > "$2"
	echo "$2: $(wc -l < "$2") lines"
}

for f in "$td"/*.pcap; do
	golden "$f" "${f%.pcap}.golden"
done
if [ -d "$shared" ]; then
	for f in "$shared"/*.pcap*; do
		b=$(basename "$f")
		golden "$f" "$td/shared/${b%.pcap*}.golden"
	done
fi
