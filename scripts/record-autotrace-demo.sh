#!/usr/bin/env bash
# record-autotrace-demo.sh: re-record the AutoTracing demo dataset under
# autotrace/testdata/demo/ (see its README.md): for each load level, the
# demo system of package autotrace/demo (nginx -> Python -> Go -> Redis and
# MariaDB, with DNS, each in its own network namespace "mfat-*") runs under
# N concurrent clients while examples/agent watches it with eBPF and with
# packet capture in each namespace; the merged records and the services'
# own ground truth are written as records-<N>c.jsonl.zst and
# groundtruth-<N>c.jsonl.zst.
#
# Run as root on Linux with kernel BTF; needs nginx, redis-server,
# mariadb-server, mariadb-client, python3-redis, python3-pymysql, iproute2
# and ethtool (Debian packages), and Go.
#
# usage: scripts/record-autotrace-demo.sh [-c 1,10,50] [-d 10s] [-r RATE] [-e "EBPF AGENT FLAGS"] [-k KEEPDIR]
#   -c  load levels (concurrent clients), default 1,10,50
#   -d  load time per level, default 10s
#   -r  requests per second per client, default 0 (no cap)
#   -e  extra flags for the eBPF agent, default -ebpf-goroutines ("" for none)
#   -k  keep each run's work folder (logs, raw agent output) under KEEPDIR
# DEMO_AGENT=/path/to/agent uses that binary instead of building examples/agent.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "$0: must run as root (network namespaces, eBPF, packet capture)" >&2
	exit 1
fi
REPO=$(cd "$(dirname "$0")/.." && pwd)
clients=1,10,50 duration=10s rate=0 ebpf=-ebpf-goroutines keep=
while getopts c:d:r:e:k: o; do
	case $o in
	c) clients=$OPTARG ;;
	d) duration=$OPTARG ;;
	r) rate=$OPTARG ;;
	e) ebpf=$OPTARG ;;
	k) keep=$OPTARG ;;
	*) sed -n 's/^# \{0,1\}//p' "$0" | sed -n '/^usage/,/^DEMO_AGENT/p' >&2; exit 2 ;;
	esac
done
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing || true

cd "$REPO"
go test -count=1 -timeout 60m -run '^TestRun_Record$' -v ./autotrace/demo/ -args \
	-record -record-clients "$clients" -record-duration "$duration" -record-rate "$rate" \
	-record-ebpf-args "$ebpf" -record-keep "$keep"
ls -l autotrace/testdata/demo/
