package ebpf

import "time"

// TLS capture limits.
const (
	// TLSChunkSize is the payload of one TLS plaintext event: a library
	// call that returned more is split into several events.
	TLSChunkSize = 16384
	// DefaultTLSMaxCallBytes is the plaintext captured per library call by
	// default (8 events); MaxTLSMaxCallBytes the most (16 events).
	DefaultTLSMaxCallBytes = 8 * TLSChunkSize
	MaxTLSMaxCallBytes     = 16 * TLSChunkSize
	// DefaultTLSRescan is how often the TLS probes look for new libssl
	// files and Go programs.
	DefaultTLSRescan = 10 * time.Second
)

// TLSConfig says which TLS libraries' plaintext to capture. The zero value
// captures none.
//
// Plaintext arrives through the Tracer's ReadEvent as KindData events with
// Origin socket.OriginOpenSSL or socket.OriginGoTLS, Direction Egress for
// writes and Ingress for reads, and the socket's Fd, SocketID and
// addresses when the call's descriptor is a TCP or UDP socket. A call
// that returned more than TLSChunkSize bytes comes as several events in
// order, each with its own Length; past MaxCallBytes the last event is
// marked truncated and its Length counts the rest.
type TLSConfig struct {
	// OpenSSL attaches to every libssl (OpenSSL 1.1 and 3) found in the
	// common library folders, ldconfig's cache and the memory maps of
	// running processes (through /proc/PID/root, so inside containers
	// too). Probes attach to the library file, so processes started later
	// are covered. Default false.
	OpenSSL bool
	// GoBinaries are paths of Go executables whose crypto/tls
	// (*Conn).Read and Write to trace, stripped or not (amd64, arm64).
	// The fd is found through struct offsets read from the binary's DWARF
	// or, when stripped, from a table of Go 1.22 to 1.26; other versions
	// get the fd path all recent versions share and Goroutine 0. Events
	// carry the goroutine id in Goroutine. Default none.
	GoBinaries []string
	// GoScanProcs also traces every running Go program that links
	// crypto/tls (found through /proc/PID/exe), except the calling
	// process. Default false.
	GoScanProcs bool
	// Rescan is how often new libssl files and Go programs are looked for
	// (OpenSSL, GoScanProcs). Default 10 s; negative: only at start.
	Rescan time.Duration
	// MaxCallBytes is the plaintext captured per library call, rounded up
	// to a multiple of TLSChunkSize. Default 128 KiB, at most 256 KiB.
	MaxCallBytes int
}

// enabled reports whether the config asks for any TLS probe.
func (c *TLSConfig) enabled() bool {
	return c.OpenSSL || len(c.GoBinaries) > 0 || c.GoScanProcs
}

// TLSStats counts what the TLS probes attached to and failed on.
type TLSStats struct {
	Libraries   uint64 // libssl files attached (distinct inodes)
	GoBinaries  uint64 // Go executables attached (distinct inodes)
	Probes      uint64 // uprobes attached
	AttachFails uint64 // files a probe could not be attached to
	Scans       uint64 // scans for new files done
}
