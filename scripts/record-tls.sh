#!/usr/bin/env bash
# record-tls.sh: re-record l7/tls/testdata/tls.pcap: real TLS handshakes
# between two network namespaces (see lib-netns.sh), against nginx and
# openssl s_server with a self-signed certificate made on the spot (so the
# certificates, keys and randoms differ on every run; goldens come from
# tshark, scripts/tls-goldens.sh). Run as root; needs nginx, curl, openssl,
# tcpdump, tshark, iproute2 and ethtool. Ports 17500-17599.
#
#   17501 nginx, TLS 1.2 and 1.3, ALPN h2 and http/1.1:
#         curl --http2 (TLS 1.3, h2), curl --http1.1 --tls-max 1.2,
#         curl --tls-max 1.2 without -k (curl rejects the certificate:
#         plaintext alert unknown_ca), curl over IPv6
#   17502 openssl s_server -tls1_3 only: curl --tls-max 1.2 (the server
#         answers with alert protocol_version)
#   17503 openssl s_server, groups P-256 only: openssl s_client offering
#         an X25519 key share first (HelloRetryRequest), ALPN, a line of
#         application data each way
#
# usage: scripts/record-tls.sh
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/l7/tls/testdata
D=$MFREC_TMP/tls
mkdir -p "$D"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=tls.test -addext subjectAltName=DNS:tls.test \
	-keyout "$D/key.pem" -out "$D/cert.pem" 2>/dev/null

netns_up
nginx_start "server {
		listen $SRV_IP:17501 ssl http2;
		listen [$SRV_IP6]:17501 ssl http2;
		server_name tls.test;
		ssl_certificate $D/cert.pem;
		ssl_certificate_key $D/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		location / { return 200 \"hello\\n\"; }
	}"
wait_port "$NS_SRV" "$SRV_IP" 17501
# s_server keeps stdin open for its side of the application data.
mkfifo "$D/in2" "$D/in3"
sleep 600 >"$D/in2" &
MFREC_PIDS+=($!)
sleep 600 >"$D/in3" &
MFREC_PIDS+=($!)
ns_bg "$NS_SRV" sh -c "exec openssl s_server -accept $SRV_IP:17502 -tls1_3 -cert $D/cert.pem -key $D/key.pem <$D/in2"
ns_bg "$NS_SRV" sh -c "exec openssl s_server -accept $SRV_IP:17503 -groups P-256 -alpn h2,http/1.1 -cert $D/cert.pem -key $D/key.pem <$D/in3"
wait_port "$NS_SRV" "$SRV_IP" 17502
wait_port "$NS_SRV" "$SRV_IP" 17503

cap_start "$OUT/tls.pcap" "$NS_CLI" "$VETH_CLI" tcp portrange 17500-17599
R="--resolve tls.test:17501:$SRV_IP"
in_cli curl -sS -k --http2 $R https://tls.test:17501/a -o /dev/null
in_cli curl -sS -k --http1.1 --tls-max 1.2 $R https://tls.test:17501/b -o /dev/null
in_cli curl -sS --tls-max 1.2 $R https://tls.test:17501/c -o /dev/null || true
in_cli curl -sS -k -6 --resolve "tls.test:17501:[$SRV_IP6]" https://tls.test:17501/d -o /dev/null
in_cli curl -sS -k --tls-max 1.2 --resolve "tls.test:17502:$SRV_IP" https://tls.test:17502/ -o /dev/null || true
(echo ping; sleep 1) | in_cli timeout 10 openssl s_client -connect "$SRV_IP:17503" -servername tls.test \
	-groups X25519:P-256 -alpn h2 -quiet -no_ign_eof >/dev/null 2>&1 || true
cap_stop
summarize "$OUT/tls.pcap"
"$REPO/scripts/tls-goldens.sh" >/dev/null
