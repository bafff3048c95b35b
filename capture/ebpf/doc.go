// Package ebpf is the eBPF socket tracer: it loads the objects compiled
// from bpf/ into the kernel, attaches them to system call tracepoints and
// TCP tracepoints, and delivers what processes read and write on their TCP
// and UDP sockets, with connection life and retransmissions, as
// socket.Events (capture/socket).
//
// It needs Linux 6.2 or later (ring buffers, bpf_get_current_task_btf and
// the bpf_rdonly_cast kfunc, which let the probes follow kernel pointers
// with plain loads instead of helper calls), root (or CAP_BPF, CAP_PERFMON
// and read access to tracefs) and kernel BTF (/sys/kernel/btf/vmlinux),
// on amd64, arm64 or 386, the architectures the probes are compiled for;
// elsewhere the package builds and its constructors return an error
// matching capture.ErrNotSupported.
// Classic syscall tracepoints are used when tracefs is mounted; otherwise
// the raw tracepoints sys_enter/sys_exit, which see every system call of
// the machine and dispatch on its number (amd64 and arm64). kprobes and
// fentry are not used.
//
// What the system call hooks see: read, write, readv, writev, sendto,
// recvfrom, sendmsg, recvmsg (every iovec, up to 32, copied until the
// capture size), sendmmsg and recvmmsg (one event per message, up to 16 per
// call), connect and accept/accept4 (KindOpen, and the Role of the
// socket's later events), close (KindClose). The descriptor is checked in
// the kernel (fd table -> file -> socket inode -> struct sock), so calls on
// files, pipes and Unix sockets cost little and emit nothing; only IPv4
// and IPv6 TCP and UDP sockets are reported. Reads with MSG_PEEK are not
// reported (the bytes are reported when read). sendfile, splice, io_uring
// and kernel TLS bypass these hooks and are not seen.
//
// Event fields: EnterNs/ExitNs are the kernel's monotonic clock converted
// to unix time at New. TCPSeq is the sequence number of the first payload
// byte: write_seq at the enter of a write; for a read, copied_seq before
// the call, checked against copied_seq after it minus the bytes read (a
// FIN read advances it by one; another reader of the socket in between
// makes the after value the answer). For unconnected UDP sockets Remote
// is the address the call named (sendto, recvfrom, msg_name).
// SyscallTraceID follows DeepFlow's rule, per thread (per goroutine in
// tracked Go programs, see below): an ingress call starts an id, or
// continues the socket's when the socket's previous data call was an
// ingress too (the rest of a message whose first bytes this or another
// thread read); the thread's egress calls that follow carry it, until its
// next new ingress. Reading the response of an outbound call therefore
// starts an id, which the egress calls after it carry: a record's request
// and response ids chain the calls of one inbound request.
//
// Socket identity: Event.SocketID is an id the tracer allocates the first
// time it sees a struct sock, kept in a kernel map keyed by the sock's
// address together with its sockfs inode number, so that a struct sock the
// kernel reuses for another socket gets a new id. A TCP socket's entry is
// marked dead when it reaches TCP_CLOSE (the final close() on the same
// inode still finds it), a UDP socket's is dropped at close().
//
// Socket life and TCP health come from the raw tracepoints
// inet_sock_set_state (KindState) and tcp_retransmit_skb (KindRetransmit,
// TCPSeq the segment's first byte). They fire in softirq and timer
// context, so the process is the one recorded for the socket at its system
// calls, or for a connection not accepted yet, the one that put its local
// port in LISTEN (Role server); a socket known by neither has Pid 0, and
// filters by pid or cgroup drop its events.
//
// Delivery: every object writes into one ring buffer (Config.RingSize,
// 16 MiB by default) and wakes the reader only when 256 KiB wait; the
// reader also polls every 10 ms. Records the ring has no room for are
// counted per CPU in the kernel and reported as Stats().Lost. bpf/common.h
// holds the record layout, the ring and the maps other objects share;
// (*Tracer).Share hands them to another object at load.
//
// TLS plaintext: Config.TLS (or NewTLS beside a running Tracer) adds
// uprobes on OpenSSL's SSL_read/SSL_write/SSL_read_ex/SSL_write_ex (libssl
// 1.1 and 3, attached per library file so later processes are covered)
// and on Go's crypto/tls.(*Conn).Read/Write (stripped binaries too). Their
// events are KindData with Origin OriginOpenSSL or OriginGoTLS and the
// SocketID of the same socket's syscall events. Go functions are probed
// at their entry and at each RET instruction, never with uretprobes, which
// break Go's stack unwinding.
//
// Goroutines: Go programs multiplex goroutines over threads, so per-thread
// ids mix requests. Config.Goroutines (or NewGoroutines beside a running
// Tracer) tracks the goroutines of Go executables (Go 1.18 or later, amd64
// and arm64, stripped or not): their syscall events carry the goroutine id
// in Event.Goroutine and keep the trace state per (process, goroutine),
// and a goroutine started by a go statement begins with its parent's state,
// so the calls a request's handler makes from goroutines it starts carry
// the request's id. To enable it for a service:
//
//	ebpf.Config{Goroutines: ebpf.GoroutineConfig{Binaries: []string{"/usr/local/bin/svc"}}}
//	ebpf.Config{Goroutines: ebpf.GoroutineConfig{ScanProcs: true}} // every Go program (of Config.Pids)
//	ebpf.NewGoroutines(tracer, ebpf.GoroutineConfig{Binaries: []string{"/proc/1234/exe"}}, logger)
//
// (examples/agent: -ebpf -ebpf-goroutines). The syscall probes read the
// current g from Go's g register (amd64 R14, arm64 R28) in the task's user
// registers at the system call and trust it when g.m.procid is the calling
// thread; the goid, g.m, m.procid and g.parentGoid offsets come from the
// binary's DWARF or, stripped, from a table of Go 1.22 to 1.26. A uprobe at
// each RET of runtime.newproc1 (never a uretprobe, which breaks Go's stack
// unwinding) reads the new g and its parentGoid and copies the parent's
// state (where parentGoid's offset is unknown, a uprobe at the entry reads
// callergp). GoroutineConfig.FollowScheduler instead follows every
// goroutine switch with a uprobe on runtime.execute (and drops states at
// runtime.goexit0); executables whose runtime.m offsets are unknown are
// followed that way. Cost, measured by TestGoroutines_TraceID
// (METAFLOW_EBPF_MEASURE=1: a net/http server, 1-3 outbound calls per
// request, 3000 requests per run): a uprobe costs 10-45 µs on the test VM;
// the register way added 50-60 µs of server CPU per request (two go
// statements per request), following the scheduler about 300 µs (about 10
// switches per request). Accuracy there: 100% of 12,000 outbound calls,
// under 10 and 50 concurrent clients, chained to the inbound request that
// caused them, against 6-20% per thread.
//
// Not followed: work handed to another goroutine over a channel or a pool
// (a worker, net/http's Transport, whose per-connection writeLoop goroutine
// writes every request of a kept-alive connection with the state of the
// request that dialed it); goroutines started before the probes attached
// (they have no state until they read); in scheduler mode, coroutine
// switches (iter.Pull); system calls from C threads of cgo programs (they
// keep per-thread states); Go before 1.18 and stripped binaries of versions
// outside the table.
//
// Cost, measured on a loaded 2-vCPU VM (TestTracer_Measure with
// METAFLOW_EBPF_MEASURE=1, BenchmarkTracer_Write): about 0.5 µs in the
// kernel at a traced call's enter and 1 µs at its exit; 60,000-90,000
// events/s through redis-benchmark with no loss; the reader about 11-13 ms
// of CPU per 100,000 events. Calls the filters leave out cost a map
// lookup.
//
// Concurrency: a Tracer's ReadEvent is for one goroutine; Stats and Close
// may be called from any goroutine.
//
// Errors: New returns errors matching capture.ErrNotSupported (errors.Is)
// when the platform or the kernel lacks a feature the tracer needs, naming
// the feature; ReadEvent returns io.EOF once the tracer is closed.
package ebpf
