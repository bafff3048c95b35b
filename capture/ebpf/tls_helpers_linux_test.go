//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// tlsEvent is a copy of a socket.Event that outlives the next ReadEvent.
type tlsEvent struct {
	socket.Event
	Data []byte
}

// tlsRecorder runs a Tracer with TLS probes and keeps every event of the
// processes it is told about.
type tlsRecorder struct {
	tr   *Tracer
	tls  *TLS
	done chan struct{}

	mu     sync.Mutex
	events []tlsEvent
}

// startTLSRecorder starts a tracer with the TLS probes of cfg.TLS, or skips
// the test when the machine cannot run them.
func startTLSRecorder(t *testing.T, cfg Config) *tlsRecorder {
	t.Helper()
	testutil.RequireRoot(t)
	if cfg.PayloadSize == 0 {
		cfg.PayloadSize = MaxPayloadSize
	}
	tr, err := New(cfg)
	if errors.Is(err, capture.ErrNotSupported) || errors.Is(err, ErrPermission) {
		t.Skipf("eBPF tracer or TLS probes unavailable here: %v", err)
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r := &tlsRecorder{tr: tr, tls: tr.tls, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		var e socket.Event
		for tr.ReadEvent(&e) == nil {
			c := tlsEvent{Event: e, Data: append([]byte(nil), e.Payload...)}
			c.Payload = nil
			r.mu.Lock()
			r.events = append(r.events, c)
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop waits for the ring to drain, closes the probes and the tracer, and
// returns the events.
func (r *tlsRecorder) stop() []tlsEvent {
	select {
	case <-r.done:
	default:
		time.Sleep(100 * time.Millisecond) // the reader polls every 10 ms
		r.tr.Close()
		<-r.done
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events
}

// ofPids keeps the events of the given processes.
func ofPids(evs []tlsEvent, pids ...int) []tlsEvent {
	var out []tlsEvent
	for _, e := range evs {
		for _, p := range pids {
			if int(e.Pid) == p {
				out = append(out, e)
			}
		}
	}
	return out
}
