// Package ebpf is the eBPF socket tracer: it loads the objects compiled
// from bpf/ into the kernel, attaches them to system call tracepoints and
// TCP tracepoints, and delivers what processes read and write on their TCP
// and UDP sockets, with connection life and retransmissions, as
// socket.Events (capture/socket).
//
// It needs Linux 6.2 or later (ring buffers, bpf_get_current_task_btf and
// the bpf_rdonly_cast kfunc, which let the probes follow kernel pointers
// with plain loads instead of helper calls), root (or CAP_BPF, CAP_PERFMON
// and read access to tracefs) and kernel BTF (/sys/kernel/btf/vmlinux).
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
// SyscallTraceID follows DeepFlow's rule (per thread): an ingress call
// starts an id, or keeps the thread's when its previous data call was an
// ingress on the same socket; the thread's egress calls that follow carry
// it, until its next new ingress.
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
