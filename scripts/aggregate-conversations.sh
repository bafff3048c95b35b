#!/usr/bin/env bash
# Re-derives aggregate/testdata/conversations/*.conv from tshark: for each
# capture, its TCP and UDP conversations (tshark -z conv), the client side
# first where tshark saw a SYN without ACK from it ("syn"), in tshark's
# order otherwise ("nosyn"). aggregate's service-map test compares its
# edges with them. Captures: the repository's own (tracked *.pcap without
# tunnels) and the shared corpus (../shared/pcaps, or $METAFLOW_PCAPS),
# whose goldens are named shared_<dir>_<file>.conv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/aggregate/testdata/conversations
pcaps=${METAFLOW_PCAPS:-$root/../shared/pcaps}
mkdir -p "$out"

conv() { # conv FILE -> conversation lines on stdout
	local f=$1
	local syns
	syns=$(tshark -r "$f" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' -T fields -E occurrence=l \
		-e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport 2>/dev/null |
		awk -F'\t' '{s=$1; if (s=="") s=$2; d=$4; if (d=="") d=$5; print s":"$3" "d":"$6}' | sort -u)
	tshark -r "$f" -q -z conv,tcp -z conv,udp 2>/dev/null | awk -v syns="$syns" '
		BEGIN { n = split(syns, l, "\n"); for (i = 1; i <= n; i++) syn[l[i]] = 1 }
		/^TCP Conversations/ { p = "tcp" }
		/^UDP Conversations/ { p = "udp" }
		$2 == "<->" {
			a = $1; b = $3
			if (p == "tcp" && ((a " " b) in syn)) print p, a, b, "syn"
			else if (p == "tcp" && ((b " " a) in syn)) print p, b, a, "syn"
			else print p, a, b, "nosyn"
		}' | sort -u
}

cd "$root"
git ls-files '*.pcap' | grep -v -e '^capture/filter/' | while read -r f; do
	conv "$f" >"$out/$(echo "$f" | tr '/' '_').conv"
done
if [ -d "$pcaps" ]; then
	for d in http1 http2 grpc mysql redis dns kafka mqtt tls dubbo; do
		[ -d "$pcaps/$d" ] || continue
		for f in "$pcaps/$d"/*.pcap "$pcaps/$d"/*.pcapng; do
			[ -f "$f" ] || continue
			conv "$f" >"$out/shared_${d}_$(basename "$f").conv"
		done
	done
fi
