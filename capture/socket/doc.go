// Package socket defines socket events: what a socket tracer (capture/ebpf)
// observes of a process's connections — payloads read and written by
// system calls or TLS libraries, connection life and TCP health — in a form
// that does not depend on how they were observed.
//
// A Source reads into a caller-owned, reused Event, like capture.Source
// reads packets: Event.Payload may alias the source's buffer and stays valid
// only until the next call to ReadEvent or Close. A Source is not safe for
// concurrent use unless its documentation says so; Stats may be called from
// any goroutine.
//
// Errors: ReadEvent returns io.EOF once the source is closed and drained.
// Features the kernel lacks give errors that match capture.ErrNotSupported.
package socket
