package l7

import (
	"errors"
	"fmt"
	"time"
)

// Registry errors.
var (
	// ErrNilDecoder is matched by the error of NewRegistry given a nil
	// decoder.
	ErrNilDecoder = errors.New("l7: nil decoder")
	// ErrDuplicateDecoder is matched by the error of NewRegistry given two
	// decoders with the same name.
	ErrDuplicateDecoder = errors.New("l7: duplicate decoder name")
	// ErrNoRegistry is returned by NewEngine when Config.Registry is nil.
	ErrNoRegistry = errors.New("l7: no registry")
)

// SessionTimeouter is an optional interface of a Decoder: the time a request
// waits for its response before it is emitted with status Timeout. Without
// it, the engine uses 15 s for "DNS" and Config.SessionTimeout for the rest.
type SessionTimeouter interface {
	SessionTimeout() time.Duration
}

// PortHinter is an optional interface of a Decoder: the ports its protocol
// is known to use (Redis: 6379). NewEngine takes each as a port hint
// (Config.PortHints) for that decoder, unless Config.PortHints names the
// port or an earlier decoder in the registry claimed it. A hint only orders
// the candidates of inference and lets the decoder take its own
// WeakRequest verdicts there; it never decides alone.
type PortHinter interface {
	PortHints() []uint16
}

// PendingLimiter is an optional interface of a Decoder: how many requests
// of one flow may wait for their responses (pipelining depth). Without it
// the engine allows DefaultMaxPendingPerFlow; Config.MaxPendingPerFlow
// overrides both. Config.MaxPendingBytesPerFlow bounds the memory either
// way.
type PendingLimiter interface {
	MaxPending() int
}

// Registry is an ordered, immutable set of decoders with unique names. The
// order is the order in which protocol inference tries them (after the
// endpoint cache and port hints). It is safe for concurrent use.
type Registry struct {
	decs []Decoder
}

// NewRegistry returns a registry of decs, in that order. It fails with an
// error matching ErrNilDecoder or ErrDuplicateDecoder.
func NewRegistry(decs ...Decoder) (*Registry, error) {
	r := &Registry{decs: make([]Decoder, 0, len(decs))}
	for i, d := range decs {
		if d == nil {
			return nil, fmt.Errorf("decoder %d: %w", i, ErrNilDecoder)
		}
		name := d.Name()
		if name == "" {
			return nil, fmt.Errorf("decoder %d: empty name: %w", i, ErrNilDecoder)
		}
		for _, o := range r.decs {
			if o.Name() == name {
				return nil, fmt.Errorf("decoder %q: %w", name, ErrDuplicateDecoder)
			}
		}
		r.decs = append(r.decs, d)
	}
	return r, nil
}

// Decoders returns the decoders in order. The caller may modify the slice.
func (r *Registry) Decoders() []Decoder {
	return append([]Decoder(nil), r.decs...)
}

// Lookup returns the decoder named name.
func (r *Registry) Lookup(name string) (Decoder, bool) {
	if i := r.index(name); i >= 0 {
		return r.decs[i], true
	}
	return nil, false
}

// Len returns the number of decoders.
func (r *Registry) Len() int { return len(r.decs) }

func (r *Registry) index(name string) int {
	for i, d := range r.decs {
		if d.Name() == name {
			return i
		}
	}
	return -1
}
