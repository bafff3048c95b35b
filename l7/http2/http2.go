package http2

import (
	"bytes"
	"fmt"

	"github.com/metaflow-go/metaflow/internal/ascii"
	"github.com/metaflow-go/metaflow/l7"
)

// Name is the decoder's l7_protocol; gRPC calls are named GRPCName.
const (
	Name     = "HTTP2"
	GRPCName = "gRPC"
)

// Errors. Parse returns them wrapped in an *l7.ParseError.
var (
	// ErrUpgrade means the HTTP/1.1 bytes before an h2c upgrade are
	// malformed or too long.
	ErrUpgrade = fmt.Errorf("http2: malformed h2c upgrade: %w", l7.ErrMalformed)
)

// Config tunes the decoder. The zero value means defaults.
type Config struct {
	// MaxStreams bounds the streams one connection tracks at a time
	// (a request waiting for its response, a gRPC call waiting for its
	// trailers). Past it the oldest is dropped and counted in
	// Stats.StreamsDropped. Default 128, limit 4096.
	MaxStreams int
	// MaxHeaderBlock bounds a header block split over CONTINUATION
	// frames, which the parser assembles. Default 64 KiB, limit 1 MiB.
	// (A block in one frame is decoded in place; the engine's
	// MaxBufferPerDirection bounds a frame.)
	MaxHeaderBlock int
	// MaxTableSize bounds each direction's HPACK dynamic table (RFC 7541
	// SETTINGS_HEADER_TABLE_SIZE). A peer may allow more: entries past
	// this bound are then dropped early, and references to them come out
	// unknown. Default 64 KiB, limit 1 MiB.
	MaxTableSize int

	// allValues makes the HPACK decoders decode and keep every value, not
	// only those the records need: the tests compare the records with
	// and without.
	allValues bool
}

// Defaults and limits.
const (
	DefaultMaxStreams     = 128
	DefaultMaxHeaderBlock = 64 << 10
	DefaultMaxTableSize   = 64 << 10
	maxStreamsLimit       = 4096
	maxLimit              = 1 << 20
)

func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	d.MaxStreams = bound(d.MaxStreams, DefaultMaxStreams, maxStreamsLimit)
	d.MaxHeaderBlock = bound(d.MaxHeaderBlock, DefaultMaxHeaderBlock, maxLimit)
	d.MaxTableSize = bound(d.MaxTableSize, DefaultMaxTableSize, maxLimit)
	return d
}

func bound(v, def, limit int) int {
	if v <= 0 {
		return def
	}
	return min(v, limit)
}

// Decoder is the HTTP/2 and gRPC decoder. It is stateless and safe for
// concurrent use.
type Decoder struct{ cfg Config }

// New returns a decoder for c; nil means defaults.
func New(c *Config) *Decoder { return &Decoder{cfg: c.withDefaults()} }

// Name returns Name.
func (d *Decoder) Name() string { return Name }

// NewParser returns a parser for one connection.
func (d *Decoder) NewParser(t l7.Transport) l7.Parser { return newParser(&d.cfg) }

// preface is the client connection preface (RFC 9113, 3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Check recognises, on TCP, the client connection preface (a request), an
// HTTP/1.1 request asking to upgrade to h2c (a request), and, for a
// connection joined mid-stream, a run of well-formed frames: a HEADERS
// frame is a request or a response as its first HPACK field says (a
// :method or :path, a :status), other frames follow dir.
func (d *Decoder) Check(payload []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP || len(payload) == 0 {
		return l7.No
	}
	if n := min(len(payload), len(preface)); n >= 8 && string(payload[:n]) == preface[:n] {
		return l7.Request
	}
	if isUpgradeRequest(payload) {
		return l7.Request
	}
	return checkFrames(payload, dir)
}

// isUpgradeRequest reports whether b starts an HTTP/1.1 request whose
// header block (as far as b holds it) has "Upgrade: h2c".
func isUpgradeRequest(b []byte) bool {
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 || sp > 16 {
		return false
	}
	for _, c := range b[:sp] {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 || !bytes.HasSuffix(bytes.TrimRight(b[:eol], "\r"), []byte(" HTTP/1.1")) {
		return false
	}
	for b = b[eol+1:]; len(b) > 0; {
		eol = bytes.IndexByte(b, '\n')
		line := b
		if eol >= 0 {
			line, b = b[:eol], b[eol+1:]
		} else {
			b = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && ascii.EqualFoldLower(name, "upgrade") && hasToken(value, "h2c") {
			return true
		}
	}
	return false
}

// hasToken reports whether the comma-separated list v has tok, ignoring
// case.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		item := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if ascii.EqualFoldLower(bytes.TrimSpace(item), tok) {
			return true
		}
	}
	return false
}

// Frame types (RFC 9113, 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9
)

// Frame flags.
const (
	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

const frameHeaderLen = 9

// frameHeader is a decoded frame header.
type frameHeader struct {
	length uint32
	typ    uint8
	flags  uint8
	stream uint32
}

func readFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:    b[3],
		flags:  b[4],
		stream: (uint32(b[5])<<24 | uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8])) & 0x7fffffff,
	}
}

// plausible reports whether h looks like a frame a peer would send: a
// known type, with the stream id, length and flags its type allows, and a
// length within the default SETTINGS_MAX_FRAME_SIZE (strict, used where a
// wrong guess costs: inference and resynchronisation).
func (h frameHeader) plausible(b []byte) bool {
	if b[5]&0x80 != 0 || h.length > 1<<14 {
		return false
	}
	switch h.typ {
	case frameData:
		return h.stream != 0 && h.flags&^(flagEndStream|flagPadded) == 0
	case frameHeaders:
		return h.stream != 0 && h.flags&^(flagEndStream|flagEndHeaders|flagPadded|flagPriority) == 0
	case framePriority:
		return h.stream != 0 && h.length == 5 && h.flags == 0
	case frameRSTStream:
		return h.stream != 0 && h.length == 4 && h.flags == 0
	case frameSettings:
		return h.stream == 0 && h.flags&^flagAck == 0 && h.length%6 == 0 && (h.flags == 0 || h.length == 0)
	case framePushPromise:
		return h.stream != 0 && h.length >= 4 && h.flags&^(flagEndHeaders|flagPadded) == 0
	case framePing:
		return h.stream == 0 && h.length == 8 && h.flags&^flagAck == 0
	case frameGoAway:
		return h.stream == 0 && h.length >= 8 && h.flags == 0
	case frameWindowUpdate:
		return h.length == 4 && h.flags == 0
	case frameContinuation:
		return h.stream != 0 && h.flags&^flagEndHeaders == 0
	}
	return false
}

// checkFrames recognises a connection joined after its preface: the bytes
// must be whole plausible frames, the last possibly cut, and at least two
// of them unless the only one is a SETTINGS or HEADERS frame that ends
// exactly with the bytes.
func checkFrames(b []byte, dir l7.Direction) l7.Verdict {
	v := l7.Request
	if dir == l7.ToClient {
		v = l7.Response
	}
	frames := 0
	first := true
	for off := 0; off < len(b); frames++ {
		if len(b)-off < frameHeaderLen {
			if frames == 0 {
				return l7.No
			}
			break
		}
		h := readFrameHeader(b[off:])
		if !h.plausible(b[off:]) {
			return l7.No
		}
		payload := b[off+frameHeaderLen:]
		if int(h.length) < len(payload) {
			payload = payload[:h.length]
		}
		if first && h.typ == frameHeaders {
			v = headersVerdict(h, payload, v)
		}
		first = false
		off += frameHeaderLen + int(h.length)
		if off == len(b) && frames == 0 && (h.typ == frameSettings || h.typ == frameHeaders) {
			return v
		}
	}
	if frames < 2 {
		return l7.No
	}
	return v
}

// headersVerdict tells a request from a response by the first field of a
// HEADERS frame when it is a static table reference (RFC 9113 puts pseudo
// fields first): :method, :path or :scheme for a request, :status for a
// response; otherwise def.
func headersVerdict(h frameHeader, p []byte, def l7.Verdict) l7.Verdict {
	if h.flags&flagPadded != 0 {
		if len(p) == 0 {
			return def
		}
		p = p[1:]
	}
	if h.flags&flagPriority != 0 {
		if len(p) < 5 {
			return def
		}
		p = p[5:]
	}
	for len(p) > 0 && p[0]&0xe0 == 0x20 { // size updates come first
		_, rest, ok := readInt(p, 5)
		if !ok {
			return def
		}
		p = rest
	}
	if len(p) == 0 {
		return def
	}
	var idx uint64
	var ok bool
	switch c := p[0]; {
	case c&0x80 != 0:
		idx, _, ok = readInt(p, 7)
	case c&0xc0 == 0x40:
		idx, _, ok = readInt(p, 6)
	default:
		idx, _, ok = readInt(p, 4)
	}
	switch {
	case !ok:
		return def
	case idx >= 2 && idx <= 7:
		return l7.Request
	case idx >= 8 && idx <= 14:
		return l7.Response
	}
	return def
}
