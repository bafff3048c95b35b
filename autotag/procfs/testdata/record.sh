#!/bin/sh
# Records the /proc trees of real processes placed in cgroups named as
# container runtimes name them, for the procfs tests.
#
# Each case starts a process in new network and pid namespaces (unshare),
# with loopback up, inside a cgroup v2 (and, where mounted, v1 name=systemd)
# directory laid out as that runtime and driver lay theirs out, with a fresh
# 64-hex container id and pod uid. It then copies the process's cgroup,
# comm, cmdline, status, net/{tcp,tcp6,udp,udp6}, its fd links (as text:
# "fd target" per line, in fd.txt) and its network namespace link (ns.txt)
# into proc/<pid>/, and writes what it set up (comm, container id, pod uid,
# listening sockets) to proc/expect.json. It removes its processes and
# cgroups at the end.
#
# Needs root, unshare, ip, python3 and socat; ports 26501-26509.
# Usage: sh record.sh   (from this directory; replaces proc/)
set -eu

V2=/sys/fs/cgroup
[ -f $V2/cgroup.procs ] && [ -f $V2/cgroup.controllers ] || V2=/sys/fs/cgroup/unified
[ -f $V2/cgroup.procs ] || { echo "no cgroup v2 mount" >&2; exit 1; }
V1=/sys/fs/cgroup/systemd
[ -f $V1/cgroup.procs ] && [ ! -f $V1/cgroup.controllers ] || V1=

PY=$(readlink -f "$(command -v python3)")
case "$PY" in *.pyenv*) PY=$(readlink -f /usr/bin/python3) ;; esac
SOCAT=$(readlink -f "$(command -v socat)")
SLEEP=$(readlink -f "$(command -v sleep)")

rm -rf proc
mkdir proc
PIDS=""
CG=""
DIRS=""
EXPECT=""

hexid() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
uuid() { cat /proc/sys/kernel/random/uuid; }
comm() { basename "$1" | cut -c1-15; }

cleanup() {
	# The programs are the init of their pid namespaces: only SIGKILL ends
	# them from outside. Kill everything in the cgroups made here.
	for d in $DIRS; do
		for root in $V2 $V1; do
			for q in $(cat "$root/$d/cgroup.procs" 2>/dev/null); do kill -KILL "$q" 2>/dev/null || true; done
		done
	done
	sleep 0.5
	for d in $DIRS; do
		for root in $V2 $V1; do
			rmdir "$root/$d" 2>/dev/null || true
		done
	done
}
trap cleanup EXIT

# start NAME CGROUP-PATH PROGRAM ARGS...: runs the program in the cgroup,
# in new net and pid namespaces, and sets PID to its host pid.
start() {
	cg=$1
	shift
	want=$(comm "$1")
	p=""
	for root in $V2 $V1; do
		mkdir -p "$root/$cg"
	done
	# Record every level so cleanup removes them innermost first.
	d=$cg
	while [ "$d" != "." ] && [ "$d" != "/" ]; do
		DIRS="$DIRS $d"
		d=$(dirname "$d")
	done
	CGS=$(for root in $V2 $V1; do printf '%s ' "$root/$cg/cgroup.procs"; done) \
		sh -c 'for f in $CGS; do echo $$ > "$f"; done; exec "$@"' sh \
		unshare --net --pid --fork --mount-proc sh -c 'ip link set lo up; exec "$@"' sh "$@" \
		</dev/null >/dev/null 2>&1 &
	outer=$!
	for _ in $(seq 50); do
		# unshare (outer) forks the namespaced shell, which execs the program.
		p=$(pgrep -P $outer 2>/dev/null | head -1 || true)
		[ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = "$want" ] && break
		sleep 0.1
	done
	[ -n "$p" ] || { echo "no process in $cg" >&2; exit 1; }
	PIDS="$PIDS $p"
	CG="$CG $p:$cg"
	PID=$p
}

# expect PID COMM CONTAINER POD SOCKETS-JSON
expect() {
	EXPECT="$EXPECT${EXPECT:+,
}  {\"pid\": $1, \"comm\": \"$2\", \"container_id\": \"$3\", \"pod_uid\": \"$4\", \"listen\": $5}"
}

LISTENER='import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen()
c = socket.create_connection(("127.0.0.1", port)); a, _ = s.accept()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::", port + 1))
time.sleep(600)'

# Kubernetes, containerd (CRI), systemd cgroup driver.
id=$(hexid); uid=$(uuid); u_=$(echo "$uid" | tr - _)
start "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$u_.slice/cri-containerd-$id.scope" "$PY" -c "$LISTENER" 26501
expect "$PID" "$(comm "$PY")" "$id" "$uid" '[{"proto": 6, "local": "127.0.0.1:26501"}, {"proto": 17, "local": "[::]:26502"}]'

# Kubernetes, CRI-O, systemd driver, best effort.
id=$(hexid); uid=$(uuid); u_=$(echo "$uid" | tr - _)
start "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$u_.slice/crio-$id.scope" "$SOCAT" UDP4-RECVFROM:26503,fork /dev/null
expect "$PID" "$(comm "$SOCAT")" "$id" "$uid" '[{"proto": 17, "local": "0.0.0.0:26503"}]'

# Kubernetes, cgroupfs driver (containerd or docker shim).
id=$(hexid); uid=$(uuid)
start "kubepods/burstable/pod$uid/$id" "$SOCAT" TCP6-LISTEN:26504,ipv6only=0,fork /dev/null
expect "$PID" "$(comm "$SOCAT")" "$id" "$uid" '[{"proto": 6, "local": "[::]:26504"}]'

# Docker, systemd driver.
id=$(hexid)
start "system.slice/docker-$id.scope" "$SOCAT" TCP4-LISTEN:26505,bind=127.0.0.1,fork /dev/null
expect "$PID" "$(comm "$SOCAT")" "$id" "" '[{"proto": 6, "local": "127.0.0.1:26505"}]'

# Docker, cgroupfs driver.
id=$(hexid)
start "docker/$id" "$SLEEP" 600
expect "$PID" "$(comm "$SLEEP")" "$id" "" '[]'

# Podman (cgroup v2 nests the payload in "container"), and its conmon
# monitor, which is not the container.
id=$(hexid)
start "machine.slice/libpod-$id.scope/container" "$SOCAT" TCP4-LISTEN:26506,fork /dev/null
expect "$PID" "$(comm "$SOCAT")" "$id" "" '[{"proto": 6, "local": "0.0.0.0:26506"}]'
start "machine.slice/libpod-conmon-$id.scope" "$SLEEP" 600
expect "$PID" "$(comm "$SLEEP")" "" "" '[]'

# A host service: no container.
start "system.slice/cron.service" "$SLEEP" 600
expect "$PID" "$(comm "$SLEEP")" "" "" '[]'

sleep 1 # let the listeners bind
for p in $PIDS; do
	[ -d /proc/$p ] || { echo "process $p exited" >&2; exit 1; }
	cg=$(for x in $CG; do case $x in "$p:"*) echo "${x#*:}" ;; esac; done)
	mkdir -p proc/$p/net
	for f in comm cmdline status; do cp /proc/$p/$f proc/$p/$f; done
	# Only the hierarchies' lines that name the cgroup made here or the
	# root: lines naming the recording host's own cgroups are left out.
	grep -E ":/\$|:/$cg\$" /proc/$p/cgroup > proc/$p/cgroup
	for f in tcp tcp6 udp udp6; do cp /proc/$p/net/$f proc/$p/net/$f; done
	for fd in /proc/$p/fd/*; do
		echo "$(basename "$fd") $(readlink "$fd")"
	done > proc/$p/fd.txt
	echo "net $(readlink /proc/$p/ns/net)" > proc/$p/ns.txt
done
printf '[\n%s\n]\n' "$EXPECT" > proc/expect.json
echo "recorded $(ls proc | grep -c '^[0-9]') processes"
