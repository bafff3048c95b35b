#!/usr/bin/env bash
# Re-derives the flow table's goldens from tshark: for every capture of the
# shared corpus (../shared/pcaps, or $METAFLOW_PCAPS) and every capture under
# testdata/, one file testdata/flow/conv/<path with / as __>.conv listing the
# TCP and UDP conversations tshark sees (one per tcp.stream / udp.stream).
#
# Columns (tab-separated, lines sorted):
#   proto endpointA endpointB framesAB bytesAB framesBA bytesBA
#   retransAB retransBA oooAB oooBA zerowinAB zerowinBA
# endpointA is the lower endpoint (IPv4 before IPv6, then the address text,
# then the port) so that the file does not depend on who spoke first. Bytes
# are frame.len: the numbers of `tshark -q -z conv,tcp` / `conv,udp`, whose
# tables round large byte counts to kB, so they are summed here instead.
# retrans counts frames flagged tcp.analysis.retransmission, fast_ or
# spurious_retransmission that carry more than one byte of payload or a SYN
# (the record contract's definition, DeepFlow's: a repeated bare FIN or a
# one-byte segment is not a retransmission); ooo tcp.analysis.out_of_order;
# zerowin tcp.analysis.zero_window, plus SYN and SYN-ACK segments with a
# zero window (the contract counts those; tshark's flag leaves them out).
#
# Tunnelled frames count under their inner 5-tuple (the last IP and TCP/UDP
# headers), as in tshark's conversation tables. Two kinds of frames are
# left out: TCP/UDP headers quoted inside ICMP errors, and tunnel carriers
# whose inner packet has no TCP/UDP header (tshark lists those under the
# outer UDP conversation; the flow table keeps only inner flows).
#
# usage: scripts/flow-goldens.sh [capture...]   (default: all of them)
set -euo pipefail
cd "$(dirname "$0")/.."
root=${METAFLOW_PCAPS:-$(cd .. && pwd)/shared/pcaps}
out=testdata/flow/conv
mkdir -p "$out"

derive() { # capture golden-name
	tshark -n -r "$1" -Y "tcp or udp" -T fields -E separator=/t -E occurrence=l \
		-e frame.len -e frame.protocols -e tcp.stream -e udp.stream \
		-e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
		-e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport \
		-e tcp.analysis.retransmission -e tcp.analysis.fast_retransmission \
		-e tcp.analysis.spurious_retransmission -e tcp.analysis.out_of_order \
		-e tcp.analysis.zero_window -e tcp.len -e tcp.flags.syn -e tcp.flags.fin \
		-e tcp.flags.reset -e tcp.window_size_value 2>/dev/null |
		awk -F'\t' '
		function ep(a, p) { return (index(a, ":") ? "[" a "]" : a) ":" p }
		function key(a, p) {
			if (index(a, ":")) { return "6" a "|" sprintf("%05d", p) }
			split(a, oct, "."); return "4" sprintf("%03d%03d%03d%03d", oct[1], oct[2], oct[3], oct[4]) "|" sprintf("%05d", p)
		}
		{
			n = split($2, st, ":"); tr = 0; ipl = ""; skip = 0
			for (i = 1; i <= n; i++) if (st[i] == "tcp" || st[i] == "udp") tr = i
			if (tr == 0) next
			for (i = 1; i < tr; i++) {
				if (st[i] == "icmp" || st[i] == "icmpv6") skip = 1
				if (st[i] == "ip" || st[i] == "ipv6") ipl = st[i]
			}
			for (i = tr + 1; i <= n; i++) if (st[i] == "vxlan" || st[i] == "geneve") skip = 1
			if (skip || ipl == "") next
			if (st[tr] == "tcp") { proto = "TCP"; s = "T" $3; sp = $9; dp = $10 }
			else { proto = "UDP"; s = "U" $4; sp = $11; dp = $12 }
			if (ipl == "ip") { src = $5; dst = $6 } else { src = $7; dst = $8 }
			if (!(s in A)) {
				P[s] = proto
				if (key(src, sp) <= key(dst, dp)) { A[s] = ep(src, sp); B[s] = ep(dst, dp) }
				else { A[s] = ep(dst, dp); B[s] = ep(src, sp) }
			}
			d = (ep(src, sp) == A[s] && !(A[s] == B[s] && flip[s]++ % 2)) ? 0 : 1
			f[s, d]++; b[s, d] += $1
			syn = ($19 == "1" || $19 == "True")
			if (($13 != "" || $14 != "" || $15 != "") && ($18 + 0 > 1 || syn)) r[s, d]++
			if ($16 != "") o[s, d]++
			if ($17 != "" || (proto == "TCP" && syn && $22 == "0" && $21 != "1" && $21 != "True" && $20 != "1" && $20 != "True")) z[s, d]++
		}
		END {
			for (s in A) printf "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", P[s], A[s], B[s],
				f[s, 0], b[s, 0], f[s, 1], b[s, 1], r[s, 0], r[s, 1], o[s, 0], o[s, 1], z[s, 0], z[s, 1]
		}' | LC_ALL=C sort >"$out/$2.conv"
}

name() { # capture path -> golden name
	local f=$1
	case $f in
	"$root"/*) f=${f#"$root"/}; echo "shared__${f//\//__}" ;;
	testdata/*) f=${f#testdata/}; echo "testdata__${f//\//__}" ;;
	*) echo "unknown__$(basename "$f")" ;;
	esac
}

if [ $# -gt 0 ]; then
	files=("$@")
else
	files=()
	[ -d "$root" ] && while IFS= read -r f; do files+=("$f"); done < <(find "$root" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | LC_ALL=C sort)
	while IFS= read -r f; do files+=("$f"); done < <(find testdata -type f \( -name '*.pcap' -o -name '*.pcapng' \) | LC_ALL=C sort)
fi
for f in "${files[@]}"; do
	derive "$f" "$(name "$f")"
done
echo "derived ${#files[@]} goldens into $out"
