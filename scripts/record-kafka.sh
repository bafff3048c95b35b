#!/bin/sh
# Re-records l7/kafka's captures: the franz-go client talking to the kfake
# broker (scripts/kafka-recorder) on 127.0.0.1, captured with tcpdump.
#   kafka-v2.4.pcap    client versions capped at Kafka 2.4 (tshark 4.0 decodes them)
#   kafka-latest.pcap  the client's newest versions (flexible headers, Fetch with topic ids)
# Then run scripts/kafka-goldens.sh to re-derive the tshark golden.
# Needs root (tcpdump on lo). Ports 17301 and 17302.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/l7/kafka/testdata
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$root/scripts/kafka-recorder" && go build -o "$bin/kafka-recorder" .)

record() { # name port max
	tcpdump -i lo -U -s 0 -w "$out/$1.pcap" "tcp port $2" 2>/dev/null &
	tpid=$!
	sleep 1
	"$bin/kafka-recorder" -port "$2" -max "$3"
	sleep 1
	kill "$tpid"
	wait "$tpid" || true
}
record kafka-v2.4 17301 2.4
record kafka-latest 17302 latest
ls -l "$out"/*.pcap
