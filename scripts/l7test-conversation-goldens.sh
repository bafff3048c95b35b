#!/bin/sh
# Derives l7/l7test/testdata/conversation-<name>.tshark: tshark's reading of
# the frames l7test.Conversation renders for the conversations of
# TestConversation_Oracle (l7/l7test/conversation_test.go). Keep the tshark
# arguments in step with tsharkArgs there.
set -eu
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The test writes the pcaps; it fails here only because goldens are missing.
L7TEST_PCAP_DIR=$dir go test -count=1 -run 'TestConversation_Oracle' ./l7/l7test/ >/dev/null 2>&1 || true
for pcap in "$dir"/conversation-*.pcap; do
	name=$(basename "$pcap" .pcap)
	tshark -r "$pcap" -n \
		-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
		-o tcp.relative_sequence_numbers:FALSE --disable-protocol http --disable-protocol dns \
		-T fields -E separator=/t -E occurrence=a -E 'aggregator=;' \
		-e frame.number -e ip.checksum.status \
		-e tcp.srcport -e tcp.dstport -e tcp.seq -e tcp.ack -e tcp.flags -e tcp.len \
		-e tcp.checksum.status -e udp.srcport -e udp.dstport -e udp.length -e udp.checksum.status \
		-e _ws.expert.message >"l7/l7test/testdata/$name.tshark"
	echo "l7/l7test/testdata/$name.tshark"
done
