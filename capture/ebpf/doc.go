// Package ebpf is the eBPF socket tracer: it loads the objects compiled
// from bpf/ into the kernel, attaches them to system call tracepoints and
// TCP tracepoints, and delivers what processes read and write on their TCP
// and UDP sockets, with connection life and retransmissions, as
// socket.Events (capture/socket).
//
// It needs Linux, root (or CAP_BPF, CAP_PERFMON and read access to
// tracefs), kernel BTF (/sys/kernel/btf/vmlinux) and ring buffers (5.8+).
// Classic syscall tracepoints are used when tracefs is mounted; otherwise
// the raw tracepoints sys_enter/sys_exit, which see every system call of
// the machine and dispatch on its number (amd64 and arm64). kprobes and
// fentry are not used.
//
// Socket identity: Event.SocketID is an id the tracer allocates the first
// time it sees a struct sock, kept in a kernel map keyed by the sock's
// address together with its sockfs inode number, so that a struct sock the
// kernel reuses for another socket gets a new id. A TCP socket's entry is
// dropped when it reaches TCP_CLOSE, a UDP socket's at close().
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
// Concurrency: a Tracer's ReadEvent is for one goroutine; Stats and Close
// may be called from any goroutine.
//
// Errors: New returns errors matching capture.ErrNotSupported (errors.Is)
// when the platform or the kernel lacks a feature the tracer needs, naming
// the feature; ReadEvent returns io.EOF once the tracer is closed.
package ebpf
