#!/usr/bin/env bash
# tls-goldens.sh: derive the TLS oracle goldens from tshark's dissection
# (its own TCP reassembly and TLS record and handshake reassembly), for the
# captures recorded by scripts/record-tls.sh (l7/tls/testdata/*.pcap) and
# for the shared corpus (../shared/pcaps/tls, goldens under
# l7/tls/testdata/shared/). One line per message, tab separated:
#
#   ch     <conn>  <server name>  <ALPN protocols offered, comma-separated>
#   sh     <conn>  <version: 1.3, 1.2, ...>  <cipher suite name>
#   alert  <conn>  <level>  <description>
#
# <conn> is the connection's two endpoints "ip:port" (IPv6 as [ip]:port)
# sorted as strings and joined by a space. "sh" lines cover HelloRetryRequest too. Only
# plaintext alerts are listed (tshark: tls.alert_message.desc).
#
# usage: scripts/tls-goldens.sh [PCAPS_ROOT]   (default ../shared/pcaps)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PCAPS=${1:-$REPO/../shared/pcaps}
OUT=$REPO/l7/tls/testdata
mkdir -p "$OUT/shared"

golden() { # golden PCAP OUTFILE
	tshark -r "$1" -n -d tcp.port==17500-17599,tls -o tcp.desegment_tcp_streams:TRUE \
		-o tls.desegment_ssl_records:TRUE -o tls.desegment_ssl_application_data:TRUE \
		-T pdml -Y tls 2>/dev/null | python3 -c '
import sys, xml.etree.ElementTree as ET
VERS = {0x0300: "SSL 3.0", 0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3"}
def ep(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in ip else ("%s:%s" % (ip, port))
def fields(el, name):
    return [f for f in el.iter("field") if f.get("name") == name]
out = []
for pkt in ET.parse(sys.stdin).getroot().iter("packet"):
    ip = {}
    for f in pkt.iter("field"):
        n = f.get("name")
        if n in ("ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport") and n not in ip:
            ip[n] = f.get("show")
    src = ep(ip.get("ip.src") or ip.get("ipv6.src"), ip["tcp.srcport"])
    dst = ep(ip.get("ip.dst") or ip.get("ipv6.dst"), ip["tcp.dstport"])
    conn = " ".join(sorted([src, dst]))
    for proto in pkt.iter("proto"):
        if proto.get("name") != "tls":
            continue
        for rec in fields(proto, "tls.record"):
            for hs in [f for f in rec if f.get("name") == "tls.handshake"]:
                t = fields(hs, "tls.handshake.type")
                if not t:
                    continue
                t = t[0].get("show")
                if t == "1":
                    sni = fields(hs, "tls.handshake.extensions_server_name")
                    alpn = [f.get("show") for f in fields(hs, "tls.handshake.extensions_alpn_str")]
                    out.append("ch\t%s\t%s\t%s" % (conn, sni[0].get("show") if sni else "", ",".join(alpn)))
                elif t == "2":
                    sv = fields(hs, "tls.handshake.extensions.supported_version")
                    v = int((sv[0] if sv else fields(hs, "tls.handshake.version")[0]).get("show"), 16)
                    cs = fields(hs, "tls.handshake.ciphersuite")[0]
                    name = cs.get("showname").split(": ", 1)[1].rsplit(" (", 1)[0]
                    if name.startswith("Unknown"):
                        name = cs.get("show")
                    out.append("sh\t%s\t%s\t%s" % (conn, VERS.get(v, "0x%04x" % v), name))
            for al in fields(rec, "tls.alert_message"):
                lv, ds = fields(al, "tls.alert_message.level"), fields(al, "tls.alert_message.desc")
                if lv and ds:
                    out.append("alert\t%s\t%s\t%s" % (conn, lv[0].get("show"), ds[0].get("show")))
sys.stdout.write("".join(l + "\n" for l in out))
' >"$2"
	echo "$2: $(wc -l <"$2") lines" >&2
}

for f in "$OUT"/*.pcap; do
	[ -e "$f" ] || continue
	golden "$f" "${f%.pcap}.golden"
done
if [ -d "$PCAPS/tls" ]; then
	for f in "$PCAPS"/tls/*.pcap*; do
		b=$(basename "$f")
		golden "$f" "$OUT/shared/${b%.pcap*}.golden"
	done
fi
