package tls

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
)

// Name is the l7_protocol value of this decoder.
const Name = "TLS"

// Sentinel errors, each wrapped in a *l7.ParseError by Parse. All of them
// match l7.ErrMalformed with errors.Is.
var (
	ErrBadRecord = fmt.Errorf("tls: bad record header: %w", l7.ErrMalformed)
	ErrBadHello  = fmt.Errorf("tls: malformed hello message: %w", l7.ErrMalformed)
)

// Record layer limits (RFC 8446, 5.1 and 5.2; RFC 5246 6.2.3 allows 2048
// bytes of expansion).
const (
	maxRecord = 1<<14 + 2048
	headerLen = 5
)

const (
	typeCCS       = 20
	typeAlert     = 21
	typeHandshake = 22
	typeAppData   = 23
	typeHeartbeat = 24

	hsClientHello = 1
	hsServerHello = 2
)

const (
	defaultMaxHello = 64 << 10
	maxMaxHello     = 1 << 20
)

// Config tunes the decoder. The zero value (or a nil *Config) means
// defaults.
type Config struct {
	// MaxHello bounds a ClientHello or ServerHello that spans several
	// records and is reassembled in a buffer of the Parser; a longer one
	// is skipped without a message. Default 64 KiB; limit 1 MiB.
	MaxHello int
}

// The decoder's shape.
var (
	_ l7.Decoder = (*Decoder)(nil)
	_ l7.Parser  = (*Parser)(nil)
	_ l7.Trailer = (*Parser)(nil)
)

// Decoder is the TLS decoder. It is stateless and safe for concurrent
// use; get one from New.
type Decoder struct {
	cfg Config
}

// New returns the TLS decoder configured by c; nil means defaults.
func New(c *Config) *Decoder {
	d := &Decoder{cfg: Config{MaxHello: defaultMaxHello}}
	if c != nil && c.MaxHello > 0 {
		d.cfg.MaxHello = min(c.MaxHello, maxMaxHello)
	}
	return d
}

// Name returns "TLS".
func (d *Decoder) Name() string { return Name }

// NewParser returns the per-flow state of one connection.
func (d *Decoder) NewParser(_ l7.Transport) l7.Parser {
	return &Parser{maxHello: int32(d.cfg.MaxHello)}
}

// Check accepts, on TCP, a payload that starts with a TLS record header
// (content type 20 to 24, version 3.x with x <= 4, a length of at most
// 2^14+2048 bytes): a record holding a ClientHello is a Request, one
// holding a ServerHello a Response, and any other record (a capture
// starting mid-handshake or mid-stream) goes the way dir says.
func (d *Decoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP || len(p) < headerLen || !validHeader(p) {
		return l7.No
	}
	if p[0] == typeHandshake && len(p) > headerLen {
		switch p[headerLen] {
		case hsClientHello:
			return l7.Request
		case hsServerHello:
			return l7.Response
		}
	}
	if dir == l7.ToServer {
		return l7.Request
	}
	return l7.Response
}

// validHeader reports whether h (at least 5 bytes) is a plausible record
// header.
func validHeader(h []byte) bool {
	n := int(h[3])<<8 | int(h[4])
	switch h[0] {
	case typeCCS:
		if n != 1 {
			return false
		}
	case typeAlert, typeHandshake, typeAppData, typeHeartbeat:
		if n == 0 && h[0] != typeAppData {
			return false
		}
	default:
		return false
	}
	return h[1] == 3 && h[2] <= 4 && n <= maxRecord
}
