package http1

import (
	"bytes"
	"fmt"
	"math"

	"github.com/metaflow-go/metaflow/internal/ascii"
	"github.com/metaflow-go/metaflow/l7"
)

// Sentinel errors, each wrapped in a *l7.ParseError by Parse. All of them
// match l7.ErrMalformed with errors.Is.
var (
	ErrBadStartLine     = fmt.Errorf("http1: bad start line: %w", l7.ErrMalformed)
	ErrBadHeader        = fmt.Errorf("http1: bad header line: %w", l7.ErrMalformed)
	ErrHeaderTooLarge   = fmt.Errorf("http1: header block too large: %w", l7.ErrMalformed)
	ErrBadContentLength = fmt.Errorf("http1: bad Content-Length: %w", l7.ErrMalformed)
	ErrBadChunk         = fmt.Errorf("http1: bad chunk framing: %w", l7.ErrMalformed)
)

// Name is the l7_protocol value of this decoder.
const Name = "HTTP"

// The decoder's shape: a Decoder and a Parser with the optional
// interfaces the engine uses.
var (
	_ l7.Decoder = (*Decoder)(nil)
	_ l7.Parser  = (*Parser)(nil)
	_ l7.Trailer = (*Parser)(nil)
	_ l7.Flusher = (*Parser)(nil)
)

const (
	defaultMaxHeaderBytes = 16 << 10
	maxMaxHeaderBytes     = 1 << 20
	maxChunkLine          = 1024 // chunk-size line with extensions
	pendingCap            = 64   // requests awaiting a response, per flow
	foldBufSize           = 1024 // joined folded header values, per message
)

// Config tunes the decoder. The zero value (or a nil *Config) means
// defaults.
type Config struct {
	// MaxHeaderBytes bounds the start line and header block of one
	// message; a longer block is malformed. Default 16 KiB; limit 1 MiB.
	MaxHeaderBytes int
	// EndpointSegments cuts the endpoint (the path without its query) to
	// its first N segments, so that paths carrying ids group together:
	// with 2, "/api/v1/users/42" gives "/api/v1". Default 0: the whole
	// path.
	EndpointSegments int
}

// Decoder is the HTTP/1.x decoder. It is stateless and safe for concurrent
// use; get one from New.
type Decoder struct {
	cfg Config // defaults applied
}

// New returns the HTTP/1.x decoder configured by c; nil means defaults.
func New(c *Config) *Decoder {
	d := &Decoder{cfg: Config{MaxHeaderBytes: defaultMaxHeaderBytes}}
	if c != nil && c.MaxHeaderBytes > 0 {
		d.cfg.MaxHeaderBytes = min(c.MaxHeaderBytes, maxMaxHeaderBytes)
	}
	if c != nil && c.EndpointSegments > 0 {
		d.cfg.EndpointSegments = c.EndpointSegments
	}
	return d
}

// Name returns "HTTP".
func (d *Decoder) Name() string { return Name }

// MaxPending returns the requests one flow may hold waiting for their
// responses (l7.PendingLimiter): 64, as HTTP/1 pipelining is rare and shallow.
func (*Decoder) MaxPending() int { return 64 }

// Check reports Response for a payload starting with "HTTP/1.", Request for
// a known method followed by a space, or for any method token followed by
// a space whose first line ends in an HTTP/1.x version; No otherwise.
func (d *Decoder) Check(payload []byte, _ l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP {
		return l7.No
	}
	if isStatusLine(payload) {
		return l7.Response
	}
	n := methodLen(payload)
	if n == 0 || n >= len(payload) || payload[n] != ' ' {
		return l7.No
	}
	if methodKind(payload[:n]) != methodUnknown {
		if upgradesToH2C(payload) {
			// HTTP/2's decoder takes the Upgrade request and what
			// follows the 101 (the endpoint cache would otherwise keep
			// every later upgrade to this server on HTTP/1).
			return l7.No
		}
		return l7.Request
	}
	// An unusual method: demand the version on the first line.
	line := payload[:min(len(payload), 4096)]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if bytes.Contains(line, []byte(" HTTP/1.")) {
		return l7.Request
	}
	return l7.No
}

// upgradesToH2C reports whether a request's header block (as far as the
// payload holds it) asks for an Upgrade to h2c.
func upgradesToH2C(p []byte) bool {
	p = p[:min(len(p), 4096)]
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 || i+1 >= len(p) || p[i+1] == '\r' || p[i+1] == '\n' {
			return false
		}
		p = p[i+1:]
		if len(p) >= 12 && ascii.EqualFoldLower(p[:8], "upgrade:") {
			v := bytes.TrimLeft(p[8:], " \t")
			if len(v) >= 3 && ascii.EqualFoldLower(v[:3], "h2c") {
				return true
			}
		}
	}
}

// NewParser returns the per-flow state of one connection, a *Parser.
func (d *Decoder) NewParser(_ l7.Transport) l7.Parser {
	return &Parser{maxHeader: int32(d.cfg.MaxHeaderBytes), segments: int32(min(d.cfg.EndpointSegments, math.MaxInt32))}
}

// isStatusLine reports whether b starts like an HTTP/1.x status line.
func isStatusLine(b []byte) bool {
	return len(b) >= 7 && string(b[:7]) == "HTTP/1."
}

// methodLen returns the length of the leading method token (upper-case
// letters, digits, '-' and '_'), or 0 when b does not start with one or the
// token is longer than 32 bytes.
func methodLen(b []byte) int {
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c == '-', c == '_', i > 0 && c >= '0' && c <= '9':
			if i >= 32 {
				return 0
			}
		default:
			return i
		}
	}
	return len(b)
}

type method uint8

const (
	methodUnknown method = iota
	methodOther
	methodHead
	methodConnect
)

// methodKind classifies a method token; methodUnknown is a token outside
// the registered methods.
func methodKind(m []byte) method {
	switch string(m) {
	case "HEAD":
		return methodHead
	case "CONNECT":
		return methodConnect
	case "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE",
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
		"SEARCH", "REPORT", "MKACTIVITY", "CHECKOUT", "MERGE", "M-SEARCH",
		"NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PURGE", "LINK", "UNLINK",
		"ACL", "BIND", "UNBIND", "REBIND", "MKCALENDAR", "ORDERPATCH",
		"VERSION-CONTROL", "LABEL", "UPDATE", "BASELINE-CONTROL",
		"MKWORKSPACE", "MKREDIRECTREF", "UPDATEREDIRECTREF", "QUERY":
		return methodOther
	}
	return methodUnknown
}
