#!/usr/bin/env bash
# Re-derives capture/decode/testdata/<folder>/<file>.golden from tshark for
# every capture of the shared corpus (MANIFEST.tsv), the expected values
# that capture/decode's TestDecode_Corpus compares the decoder with.
#
#   scripts/decode-goldens.sh [CORPUS_DIR]   (default ../shared/pcaps, or $METAFLOW_PCAPS)
#
# tshark shows every layer of a tunnelled packet, so the script walks
# frame.protocols to pick what the decoder reports: the innermost IP header
# that is not quoted inside an ICMP error, the L4 header right after it, the
# outermost tunnel, and every VLAN tag. tshark's IP reassembly (on by
# default) matches the decoder's: the frame completing a datagram carries
# its L4 header, the others none.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-${METAFLOW_PCAPS:-../shared/pcaps}}
out=capture/decode/testdata
command -v tshark >/dev/null || { echo "needs tshark" >&2; exit 1; }

fields=(frame.number frame.protocols
	ip.src ip.dst ip.flags.mf ip.frag_offset ipv6.src ipv6.dst
	tcp.srcport tcp.dstport tcp.flags tcp.seq_raw tcp.len
	udp.srcport udp.dstport udp.length
	icmp.type icmp.code icmp.ident icmpv6.type icmpv6.code icmpv6.echo.identifier
	vlan.id ieee8021ad.id vxlan.vni geneve.vni gre.flags_and_version gre.key erspan.spanid)
args=()
for f in "${fields[@]}"; do args+=(-e "$f"); done

tail -n +2 "$corpus/MANIFEST.tsv" | cut -f1 | while read -r rel; do
	mkdir -p "$out/$(dirname "$rel")"
	tshark -n -r "$corpus/$rel" -T fields -E separator=/t -E occurrence=a -E aggregator=, "${args[@]}" 2>/dev/null |
		python3 -c '
import sys
names = sys.argv[1].split()
def get(row, name, k):
    v = row[names.index(name)]
    vals = v.split(",") if v else []
    return vals[k] if k < len(vals) else ""
def before(seen, name, pos):
    # how many layers called name come before position pos
    return sum(1 for s in seen if s[0] == name and s[2] < pos)
print("# frame\tkind\tver\tsrc\tdst\tl4\tproto\tsport\tdport\tvlan\tnvlan\ttunnel\ttunid\tfrag\textra\tpaylen")
for line in sys.stdin:
    row = line.rstrip("\n").split("\t")
    frame, toks = row[0], row[1].split(":")
    # An ICMP error quotes the offending packet: stop at the first ICMP.
    for i, t in enumerate(toks):
        if t in ("icmp", "icmpv6"):
            toks = toks[: i + 1]
            break
    count = {}
    seen = []  # (token, index among tokens of its name, position)
    for pos, t in enumerate(toks):
        seen.append((t, count.get(t, 0), pos))
        count[t] = count.get(t, 0) + 1
    ips = [s for s in seen if s[0] in ("ip", "ipv6")]
    if not ips:
        print(frame + "\tnotip")
        continue
    vlans = []
    for t, k, pos in seen:
        if t == "vlan":
            vlans.append(get(row, "vlan.id", k))
        elif t == "ieee8021ad":
            vlans.append(get(row, "ieee8021ad.id", k))
    tunnel, tunid = "-", "0"
    prev = None
    grekeys = 0
    for t, k, pos in seen:
        nxt = toks[pos + 1] if pos + 1 < len(toks) else ""
        found = None
        if t in ("ip", "ipv6") and prev in ("ip", "ipv6"):
            found = ("IPIP" if t == "ip" else "IP6IP", "0")
        elif t == "vxlan":
            found = ("VXLAN", str(int(get(row, "vxlan.vni", k))))
        elif t == "geneve":
            found = ("GENEVE", str(int(get(row, "geneve.vni", k), 16)))
        elif t == "gre":
            flags = int(get(row, "gre.flags_and_version", k) or "0", 16)
            key = "0"
            if flags & 0x2000:
                key = str(int(get(row, "gre.key", grekeys), 16))
                grekeys += 1
            if nxt == "erspan":
                sid = get(row, "erspan.spanid", before(seen, "erspan", pos))
                found = ("ERSPAN", sid or "0")
            elif nxt == "eth":
                found = ("TEB", key)
            elif nxt in ("ip", "ipv6", "cmd"):
                found = ("GRE", key)
        if found and tunnel == "-":
            tunnel, tunid = found
        if not t.startswith("ipv6."):
            prev = t
    t, k, pos = ips[-1]
    if "eth" in toks[pos + 1:]:
        # decapsulated into an Ethernet frame that carries no IP
        print(frame + "\tnotip")
        continue
    ver = "4" if t == "ip" else "6"
    src = get(row, t + ".src", k)
    dst = get(row, t + ".dst", k)
    rest = [x for x in toks[pos + 1:] if not x.startswith("ipv6.")]
    frag = "0"
    if t == "ip":
        if get(row, "ip.flags.mf", k) == "1" or get(row, "ip.frag_offset", k) not in ("", "0"):
            frag = "1"
    else:
        j = pos + 1
        while j < len(toks) and toks[j].startswith("ipv6."):
            if toks[j] == "ipv6.fraghdr":
                frag = "1"
            j += 1
    l4 = rest[0] if rest else "-"
    proto, sport, dport, extra, paylen = "-", "-", "-", "-", "-"
    if l4 == "tcp":
        n = before(seen, "tcp", pos)
        proto, sport, dport = "6", get(row, "tcp.srcport", n), get(row, "tcp.dstport", n)
        # the decoder keeps the 8 classic flag bits, not NS or reserved ones
        extra = "0x%02x/%s" % (int(get(row, "tcp.flags", n), 16) & 0xFF, get(row, "tcp.seq_raw", n))
        paylen = get(row, "tcp.len", n)
    elif l4 == "udp":
        n = before(seen, "udp", pos)
        proto, sport, dport = "17", get(row, "udp.srcport", n), get(row, "udp.dstport", n)
        ul = get(row, "udp.length", n)
        paylen = str(int(ul) - 8) if ul else "-"
    elif l4 in ("icmp", "icmpv6"):
        proto = "1" if l4 == "icmp" else "58"
        typ, code = get(row, l4 + ".type", 0), get(row, l4 + ".code", 0)
        extra = typ + ":" + code
        echo = ("0", "8") if l4 == "icmp" else ("128", "129")
        if typ in echo:
            sport = dport = str(int(get(row, "icmp.ident" if l4 == "icmp" else "icmpv6.echo.identifier", 0), 0))
    elif l4 == "gre":
        proto, l4 = "47", "-"
    else:
        l4 = "-"
    print("\t".join([frame, "ip", ver, src, dst, l4, proto, sport, dport,
        vlans[-1] if vlans else "0", str(len(vlans)), tunnel, tunid, frag, extra, paylen]))
' "${fields[*]}" >"$out/$rel.golden"
	echo "$rel: $(grep -vc '^#' "$out/$rel.golden") frames"
done
