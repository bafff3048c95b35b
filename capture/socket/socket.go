package socket

import (
	"net/netip"
)

// Source delivers socket events in the order the tracer observed them on
// each CPU; events of one socket arrive in call order as long as the calls
// do not overlap (two threads writing one socket at once may be reordered).
type Source interface {
	// ReadEvent fills e with the next event, blocking until one arrives.
	// e.Payload may alias the source's memory and is valid until the next
	// ReadEvent or Close. It returns io.EOF after Close.
	ReadEvent(e *Event) error
	// Close stops the source; a blocked ReadEvent returns io.EOF.
	Close() error
}

// Kind says what an Event reports.
type Kind uint8

// Kinds of events.
const (
	// KindData: bytes read from or written to a socket (Payload, Length).
	KindData Kind = iota + 1
	// KindOpen: a connection the process made (connect) or took (accept);
	// Role says which.
	KindOpen
	// KindClose: the process closed the socket's descriptor.
	KindClose
	// KindState: the kernel moved the TCP socket from OldState to NewState
	// (the sock:inet_sock_set_state tracepoint).
	KindState
	// KindRetransmit: the kernel retransmitted a segment of the socket
	// (tcp:tcp_retransmit_skb); TCPSeq is the segment's first byte.
	KindRetransmit
)

// Direction is the way payload bytes went, seen from the traced process.
type Direction uint8

// Directions.
const (
	Egress  Direction = 1 // written, sent
	Ingress Direction = 2 // read, received
)

// Role is the traced process's side of a connection.
type Role uint8

// Roles.
const (
	RoleUnknown Role = iota // not seen opening (opened before tracing began)
	RoleClient              // connect
	RoleServer              // accept
)

// Transport of the socket.
type Transport uint8

// Transports.
const (
	TCP Transport = 6
	UDP Transport = 17
)

// Origin says which hook saw a KindData event.
type Origin uint8

// Origins.
const (
	OriginSyscall Origin = iota // read/write/sendmsg/... system calls: bytes as on the wire
	OriginOpenSSL               // SSL_read/SSL_write: TLS plaintext
	OriginGoTLS                 // crypto/tls.(*Conn).Read/Write: TLS plaintext
)

// Event is one observation. Fields that do not apply to a Kind are zero.
type Event struct {
	Kind      Kind
	Origin    Origin
	Direction Direction
	Role      Role
	Transport Transport

	// Pid is the process (thread group) id, Tid the thread, Comm the
	// thread's command name (at most 15 bytes, NUL-padded), CgroupID the
	// cgroup v2 id of the task.
	Pid, Tid uint32
	Comm     [16]byte
	CgroupID uint64

	// Goroutine is the Go goroutine that made a Go TLS call (OriginGoTLS)
	// or, when the tracer tracks the Go program's goroutines, the system
	// call; else 0.
	Goroutine uint64

	// Fd is the socket's descriptor in the process, -1 when unknown.
	Fd int32
	// SocketID identifies the socket while it lives, unique on the host
	// (two sockets never share one, even when descriptors are reused).
	SocketID uint64

	// Local and Remote are the socket's addresses as the kernel holds them.
	Local, Remote netip.AddrPort

	// EnterNs and ExitNs are the system call's (or library call's) enter
	// and exit times, unix ns.
	EnterNs, ExitNs int64

	// Length is the byte count the call returned (KindData): the message
	// length, which may exceed len(Payload) when the tracer's capture size
	// cut it.
	Length int64
	// TCPSeq is the TCP sequence number of the first payload byte
	// (egress: the socket's write_seq at enter; ingress: copied_seq at exit
	// minus Length), valid when HasSeq. It equals what packet capture sees
	// as the segment's sequence number.
	TCPSeq uint32
	HasSeq bool

	// SyscallTraceID links calls of one thread (or goroutine, and the
	// goroutines it starts, when the tracer tracks them): an ingress call
	// and the egress calls the same thread makes next share it (0: none).
	SyscallTraceID uint64

	// OldState and NewState are TCP states (KindState), as the kernel's
	// TCP_ESTABLISHED (1) ... TCP_NEW_SYN_RECV (12).
	OldState, NewState uint8

	// Payload is the captured prefix of the bytes (KindData).
	Payload []byte
}

// CommString returns Comm up to its first NUL.
func (e *Event) CommString() string {
	for i, c := range e.Comm {
		if c == 0 {
			return string(e.Comm[:i])
		}
	}
	return string(e.Comm[:])
}

// TLS reports whether the payload is TLS plaintext from a library hook.
func (e *Event) TLS() bool { return e.Origin == OriginOpenSSL || e.Origin == OriginGoTLS }

// Stats counts what a Source saw and lost.
type Stats struct {
	Events    uint64 // events delivered
	Lost      uint64 // events the kernel could not queue (ring buffer full)
	Truncated uint64 // data events whose payload was cut to the capture size
	Filtered  uint64 // events dropped by the source's filters in user space
}
