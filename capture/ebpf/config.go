package ebpf

import "log/slog"

// Capture size limits.
const (
	DefaultPayloadSize = 4096
	MaxPayloadSize     = 16384
	DefaultRingSize    = 16 << 20
)

// Config configures a Tracer. The zero value traces every process of the
// machine with the defaults below.
type Config struct {
	// PayloadSize is the number of payload bytes copied per data event
	// (the prefix of what the call read or wrote). Default 4096, at most
	// 16384; larger values are an error.
	PayloadSize int
	// RingSize is the size in bytes of the ring buffer between the kernel
	// and the reader, a power of two at least the page size. Default 16 MiB.
	RingSize int
	// Pids, when not empty, traces only these processes (thread group
	// ids), filtered in the kernel. At most 1024. When empty, every process
	// but the tracer's own is traced (its system calls only: its sockets'
	// TCP state changes are still reported).
	Pids []uint32
	// CgroupIDs, when not empty, traces only tasks in these cgroup v2
	// groups, filtered in the kernel. At most 1024.
	CgroupIDs []uint64
	// Comms, when not empty, keeps only events of threads whose command
	// name (at most 15 bytes) is one of these; filtered in user space and
	// counted in Stats().Filtered.
	Comms []string
	// ForceRawTracepoints uses the raw tracepoints sys_enter/sys_exit even
	// when tracefs is mounted: for tests and for systems without tracefs.
	// Default false: classic syscall tracepoints, raw ones as the fallback.
	ForceRawTracepoints bool
	// TLS captures TLS plaintext from library calls (OpenSSL, Go
	// crypto/tls) as KindData events with Origin OriginOpenSSL or
	// OriginGoTLS; see TLSConfig. Default none.
	TLS TLSConfig
	// Goroutines keeps the syscall trace id of Go programs per goroutine
	// rather than per thread, inherited by the goroutines a goroutine
	// starts; see GoroutineConfig. Default none.
	Goroutines GoroutineConfig
	// Logger receives setup messages (which hooks were attached). Default
	// none.
	Logger *slog.Logger
}
