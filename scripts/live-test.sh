#!/usr/bin/env bash
# Runs the live-capture tests for real: AF_PACKET (capture), libpcap
# (capture/pcap with -tags pcap) and the cross-builds that keep the default
# build cgo-free and Windows (Npcap) compiling. Needs root for the namespace
# tests; without root they skip with the reason. Installs tcpdump and
# libpcap-dev when missing (Debian/Ubuntu).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
[ -e /usr/include/pcap.h ] || need+=(libpcap-dev)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

pkgs=(./capture/ ./capture/pcap/ ./internal/netns/)
CGO_ENABLED=0 go build "${pkgs[@]}"
GOOS=windows GOARCH=amd64 go build "${pkgs[@]::2}"
GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 go build "${pkgs[@]::2}"
go vet "${pkgs[@]}"
go vet -tags pcap ./capture/pcap/
go test -count=1 -run 'AFPacket|PcapWriter' ./capture/
go test -count=1 ./capture/pcap/ ./internal/netns/
go test -count=1 -tags pcap ./capture/pcap/
if [ "${LIVE_BENCH:-0}" = 1 ]; then
	go test -count=1 -run '^$' -bench 'BenchmarkAFPacket_Veth|BenchmarkPcapWriter' -benchtime 640000x ./capture/
fi
