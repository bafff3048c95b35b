package pipeline

import (
	"github.com/metaflow-go/metaflow/capture/socket"
)

// TLS library calls are reported when they return (a Go crypto/tls Write
// at its RET): a client that writes a request on one thread and reads the
// response on another (Go's net/http does) may have its read reported
// before its write, and the response would find no request; a server's
// response write may be reported after the peer closed and the socket's
// close. The socket input therefore holds the TLS plaintext reads and the
// closes of TLS sockets for SocketConfig.TLSReorderWindow of event time: a
// write of the same socket that began before they returned goes first;
// anything else of the socket (a later write, a state change) lets them
// go first. System call events are not held: their exit is reported at
// once, and a socket's are in call order.

// DefaultTLSReorderWindow is SocketConfig.TLSReorderWindow's default.
const DefaultTLSReorderWindow = 20e6 // 20 ms

// heldEvent is a TLS plaintext read waiting in the reorder window.
type heldEvent struct {
	e    socket.Event // Payload points into buf
	buf  []byte
	ts   int64
	done bool // released out of order (its socket moved on)
}

// hold keeps a copy of e, a TLS read or the end (close, state change,
// retransmission) of a TLS socket, and
// reports true; it reports false when e is to be handled now.
func (si *sockInput) hold(e *socket.Event, ts int64) bool {
	if si.reorder <= 0 {
		return false
	}
	switch {
	case e.Kind == socket.KindData && e.TLS() && e.Direction == socket.Ingress:
		// The socket is TLS from now: its ciphertext stops here.
		sc := si.conn(e, ts, false)
		if sc == nil {
			return false // over MaxSockets: data drops it
		}
		if !sc.tls {
			si.toTLS(sc)
		}
	case e.Kind == socket.KindClose || e.Kind == socket.KindState || e.Kind == socket.KindRetransmit:
		// A TLS socket's end waits for the writes reported late.
		if sc := si.conns[sockKey{id: e.SocketID}]; sc == nil || !sc.tls {
			return false
		}
	default:
		return false
	}
	var buf []byte
	if n := len(si.freeBufs); n > 0 {
		buf = si.freeBufs[n-1][:0]
		si.freeBufs = si.freeBufs[:n-1]
	}
	buf = append(buf, e.Payload...)
	h := heldEvent{e: *e, buf: buf, ts: ts}
	h.e.Payload = buf
	si.held = append(si.held, h)
	si.stats.Reordered++
	return true
}

// releaseFor hands on the held reads of e's socket that must come before
// e: for a write, those that returned before it began; for anything else,
// all of them.
func (si *sockInput) releaseFor(e *socket.Event) {
	if len(si.held) == si.heldDone {
		return
	}
	limit := int64(1<<63 - 1)
	if e.Kind == socket.KindData && e.Direction == socket.Egress && e.EnterNs != 0 {
		limit = e.EnterNs
	}
	if e.Kind == socket.KindData && e.Direction == socket.Ingress {
		limit = e.ExitNs // a syscall read: after the held ones that returned before it
	}
	for i := si.heldHead; i < len(si.held); i++ {
		h := &si.held[i]
		if !h.done && h.e.SocketID == e.SocketID && h.e.ExitNs <= limit {
			si.release(h)
		}
	}
	si.compact()
}

// releaseOld hands on the held reads older than the window (all with
// all), in their order.
func (si *sockInput) releaseOld(all bool) {
	for si.heldHead < len(si.held) {
		h := &si.held[si.heldHead]
		if !h.done {
			if !all && si.now-h.ts < si.reorder {
				break
			}
			si.release(h)
		}
		si.heldHead++
	}
	si.compact()
}

func (si *sockInput) release(h *heldEvent) {
	h.done = true
	si.heldDone++
	if h.e.Kind == socket.KindData {
		si.data(&h.e, h.ts)
	} else {
		si.life(&h.e, h.ts)
	}
	si.freeBufs = append(si.freeBufs, h.buf)
	h.buf, h.e.Payload = nil, nil
}

// compact drops released events from the front, and empties the queue
// when all are released.
func (si *sockInput) compact() {
	for si.heldHead < len(si.held) && si.held[si.heldHead].done {
		si.heldHead++
	}
	if si.heldHead == len(si.held) {
		clear(si.held)
		si.held, si.heldHead, si.heldDone = si.held[:0], 0, 0
	}
}
