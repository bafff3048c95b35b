#!/usr/bin/env bash
# Re-derives the golden files of package capture (file source) and
# capture/filter from the shared capture corpus, with tshark, capinfos and
# tcpdump as the oracles (never with this project's own code):
#
#   capture/testdata/corpus.golden         per file: packets, link type, captured
#                                          and wire bytes, truncated packets,
#                                          first/last timestamp and the sum of all
#                                          timestamps (ns, mod 2^64) -- tshark/capinfos
#   capture/filter/testdata/tcpdump.golden per file and filter expression: the
#                                          1-based numbers of the packets tcpdump
#                                          accepts -- tcpdump -r FILE EXPR
#
# Usage: scripts/filter-goldens.sh [CORPUS]   (default ../shared/pcaps or $METAFLOW_PCAPS)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-${METAFLOW_PCAPS:-../shared/pcaps}}
for tool in tshark capinfos tcpdump python3; do
	command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
files=$(tail -n +2 "$corpus/MANIFEST.tsv" | cut -f1)

# --- capture/testdata/corpus.golden ---------------------------------------
out=capture/testdata/corpus.golden
{
	printf '# path\tpackets\tlinktype\tcapbytes\twirebytes\ttruncated\tfirst_ns\tlast_ns\tsum_ns\n'
	for f in $files; do
		encap=$(capinfos -E -M -T -r "$corpus/$f" 2>/dev/null | tail -1 | cut -f2)
		tshark -r "$corpus/$f" -T fields -e frame.time_epoch -e frame.cap_len -e frame.len 2>/dev/null |
			python3 -c '
import sys
path, encap = sys.argv[1], sys.argv[2]
# capinfos encapsulation names -> pcap LINKTYPE_ numbers
lt = {"ether": 1, "null": 0, "loop": 108, "linux-sll": 113, "linux-sll2": 276,
      "rawip": 101, "rawip4": 228, "rawip6": 229}[encap]
n = cap = wire = trunc = total = 0
first = last = None
for line in sys.stdin:
    ts, c, w = line.split("\t")
    s, _, frac = ts.partition(".")
    ns = int(s) * 10**9 + int((frac + "000000000")[:9])
    n += 1; cap += int(c); wire += int(w); trunc += int(c) < int(w)
    total = (total + ns) % 2**64
    first = ns if first is None else first
    last = ns
print("\t".join(map(str, [path, n, lt, cap, wire, trunc, first, last, total])))
' "$f" "$encap"
	done
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"

# --- capture/filter/testdata/tcpdump.golden --------------------------------
exprs=capture/filter/testdata/exprs.txt
[ -f "$exprs" ] || exit 0
# The lt-*.pcap files (scripts/filter-testdata.py) cover link types the
# corpus lacks; they are named relative to capture/filter.
python3 scripts/filter-goldens.py "$corpus" "$exprs" capture/filter/testdata/lt-*.pcap |
	sed 's|^capture/filter/testdata/|testdata/|' >capture/filter/testdata/tcpdump.golden.tmp
mv capture/filter/testdata/tcpdump.golden.tmp capture/filter/testdata/tcpdump.golden
echo "wrote capture/filter/testdata/tcpdump.golden"
