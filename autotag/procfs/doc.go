// Package procfs is an autotag.Source for the local host: it reads /proc
// and the cgroup paths of every process to publish pid → process name,
// container id and pod uid, and joins the socket inodes of every process's
// open files (/proc/<pid>/fd links "socket:[N]") with the socket tables of
// every network namespace (/proc/<pid>/net/tcp, tcp6, udp, udp6), so that
// packet flows of local processes get their process (and, through the
// container and pod, their pod) tags.
//
// Container ids are recognised in the cgroup paths of docker, containerd
// (CRI and nerdctl), CRI-O and podman, with the cgroupfs and systemd
// drivers, cgroup v2 and v1 ("docker/<id>", "docker-<id>.scope",
// "cri-containerd-<id>.scope", "crio-<id>.scope", "libpod-<id>.scope",
// "kubepods/.../pod<uid>/<id>"); pod uids in kubepods paths of both
// drivers ("pod<uid>", "kubepods-burstable-pod<uid>.slice" with the uid's
// dashes written as underscores). A container id is 64 lowercase hex
// digits; runtimes' monitor processes (conmon) are not containers.
//
// Limits: a scan reads every process's file descriptors (about 40 ms for
// 100 processes on a loaded machine), so Config.Interval should stay in
// seconds. Socket entries are not keyed by network namespace: when two
// namespaces have a socket on the same local address and port, the one of
// the namespace scanned first wins. Processes whose /proc entries the
// scanner may not read (another user's, without privileges) get no socket
// entries.
//
// Concurrency: ParseCgroup and ParseNet are pure functions. A Source's Run
// is called once; Scan and Stats may be called from any goroutine.
//
// Errors: a process that exits during a scan is skipped (counted in Stats,
// not returned). Scan fails only when the root (Config.Root) cannot be
// read. ParseNet returns a *ParseError (line, reason) for a malformed line
// and never panics.
package procfs
