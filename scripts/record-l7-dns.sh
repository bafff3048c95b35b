#!/usr/bin/env bash
# record-l7-dns.sh: re-record testdata/l7/dns.pcap (dig against dnsmasq
# serving local records only) between two network namespaces. Run as root;
# needs dnsmasq, dig, tcpdump, tshark, iproute2 and ethtool. See
# testdata/README.md.
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/testdata/l7

netns_up
# Local records only: no upstream, no /etc/hosts, authoritative-style
# NXDOMAIN for unknown names under mfrec.test.
long=$(for i in $(seq 1 12); do printf ',"txt string number %02d of a record too long for 512 bytes of UDP........"' "$i"; done)
cat >"$MFREC_TMP/dnsmasq.conf" <<CONF
no-resolv
no-hosts
no-poll
bind-interfaces
listen-address=$SRV_IP
port=53
user=root
pid-file=$MFREC_TMP/dnsmasq.pid
local=/mfrec.test/
domain-needed
host-record=www.mfrec.test,10.201.0.20,fd00:201::20
host-record=mail.mfrec.test,10.201.0.25
cname=alias.mfrec.test,www.mfrec.test
mx-host=mfrec.test,mail.mfrec.test,10
txt-record=mfrec.test,"v=spf1 -all","hello world"
txt-record=big.mfrec.test$long
srv-host=_http._tcp.mfrec.test,www.mfrec.test,80,0,5
CONF
ns_bg "$NS_SRV" dnsmasq -k -C "$MFREC_TMP/dnsmasq.conf"
wait_port "$NS_SRV" "$SRV_IP" 53 udp
wait_port "$NS_SRV" "$SRV_IP" 53 tcp

q() { in_cli dig @"$SRV_IP" +tries=1 +time=2 "$@" >/dev/null; }

cap_start "$OUT/dns.pcap" "$NS_CLI" "$VETH_CLI" ip
q www.mfrec.test A +noedns                       # plain, no OPT record
q www.mfrec.test AAAA                            # dig's default EDNS (1232, cookie)
q mfrec.test MX
q mfrec.test TXT
q alias.mfrec.test A                             # CNAME chain in the answer
q alias.mfrec.test CNAME
q nope.mfrec.test A                              # NXDOMAIN
q _http._tcp.mfrec.test SRV
q -x 10.201.0.20                                 # PTR from the host-record
q www.mfrec.test A +tcp                          # DNS over TCP
q mfrec.test MX +tcp +noedns
q www.mfrec.test A +bufsize=4096 +nocookie       # EDNS, 4096-byte payload
q big.mfrec.test TXT +noedns                     # truncated (TC) over UDP, dig retries over TCP
q www.mfrec.test ANY +noedns                     # dnsmasq answers ANY with what it has
cap_stop
summarize "$OUT/dns.pcap"
