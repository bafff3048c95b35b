package dubbo

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
)

// Name is the l7_protocol value of this decoder.
const Name = "Dubbo"

// Sentinel errors, each wrapped in a *l7.ParseError by Parse. Both match
// l7.ErrMalformed with errors.Is.
var (
	ErrBadHeader = fmt.Errorf("dubbo: bad frame header: %w", l7.ErrMalformed)
	ErrBadLength = fmt.Errorf("dubbo: body length out of range: %w", l7.ErrMalformed)
)

const (
	headerLen = 16
	magicHi   = 0xda
	magicLo   = 0xbb

	flagRequest = 0x80
	flagTwoWay  = 0x40
	flagEvent   = 0x20
	serialMask  = 0x1f

	serialHessian2 = 2

	statusOK = 20

	maxBodyLen = 1 << 30 // a larger body length is taken for garbage

	defaultMaxBody = 16 << 10
	maxMaxBody     = 1 << 20
)

// Config tunes the decoder. The zero value (or a nil *Config) means
// defaults.
type Config struct {
	// MaxBody is how many bytes of a frame's body are decoded: a longer
	// body is decoded from its first MaxBody bytes (fields after them,
	// such as the attachments behind large arguments, are lost) and the
	// rest is skipped as it arrives. The engine buffers a frame's first
	// MaxBody bytes, so keep it within l7.Config.MaxBufferPerDirection.
	// Default 16 KiB; limit 1 MiB.
	MaxBody int
	// Events makes heartbeats and other events records of their own
	// (request_type "heartbeat" or "event"). By default they are consumed
	// and only counted (Decoder.Stats).
	Events bool
}

// The decoder's shape.
var (
	_ l7.Decoder = (*Decoder)(nil)
	_ l7.Parser  = (*Parser)(nil)
	_ l7.Trailer = (*Parser)(nil)
)

// Decoder is the Dubbo decoder. It is safe for concurrent use (its
// parsers count into it atomically); get one from New.
type Decoder struct {
	cfg Config
	st  counters
}

// Stats returns the counters of every Parser the Decoder made.
func (d *Decoder) Stats() Stats {
	return Stats{Frames: d.st.frames.Load(), Events: d.st.events.Load(), Truncated: d.st.truncated.Load(),
		BodyErrors: d.st.bodyErrors.Load(), Resyncs: d.st.resyncs.Load()}
}

// New returns the Dubbo decoder configured by c; nil means defaults.
func New(c *Config) *Decoder {
	d := &Decoder{cfg: Config{MaxBody: defaultMaxBody}}
	if c != nil {
		if c.MaxBody > 0 {
			d.cfg.MaxBody = min(c.MaxBody, maxMaxBody)
		}
		d.cfg.Events = c.Events
	}
	return d
}

// Name returns "Dubbo".
func (d *Decoder) Name() string { return Name }

// MaxPending returns the requests one flow may hold waiting for their
// responses (l7.PendingLimiter): 4096, as Dubbo multiplexes many concurrent requests on one connection.
func (*Decoder) MaxPending() int { return 4096 }

// NewParser returns the per-flow state of one connection.
func (d *Decoder) NewParser(_ l7.Transport) l7.Parser {
	return &Parser{d: d}
}

// Check accepts, on TCP, a payload starting with a Dubbo frame header
// (magic 0xdabb, a known serialization id, a request's status 0 or a
// response's known status, a body length below 1 GiB): a Request when the
// request flag is set, a Response otherwise.
func (d *Decoder) Check(p []byte, _ l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP || len(p) < headerLen || !validHeader(p) {
		return l7.No
	}
	if p[2]&flagRequest != 0 {
		return l7.Request
	}
	return l7.Response
}

// validHeader reports whether h (at least 16 bytes) is a plausible frame
// header.
func validHeader(h []byte) bool {
	if h[0] != magicHi || h[1] != magicLo || serialName(h[2]&serialMask) == "" {
		return false
	}
	if h[2]&flagRequest != 0 {
		if h[3] != 0 {
			return false
		}
	} else if statusClass(h[3]) == statusUnknownCode {
		return false
	}
	return bodyLen(h) <= maxBodyLen
}

func bodyLen(h []byte) int {
	return int(uint32(h[12])<<24 | uint32(h[13])<<16 | uint32(h[14])<<8 | uint32(h[15]))
}

// serialName names the serialization ids of Apache Dubbo 2.x
// (org.apache.dubbo.common.serialize.Constants); "" for unknown ones.
func serialName(id byte) string {
	switch id {
	case 2:
		return "hessian2"
	case 3:
		return "java"
	case 4:
		return "compactedjava"
	case 6:
		return "fastjson"
	case 7:
		return "nativejava"
	case 8:
		return "kryo"
	case 9:
		return "fst"
	case 10:
		return "native-hessian"
	case 11:
		return "avro"
	case 12:
		return "protostuff"
	case 16:
		return "gson"
	case 21:
		return "protobuf-json"
	case 22:
		return "protobuf"
	case 23:
		return "fastjson2"
	case 25:
		return "kryo2"
	case 31:
		return "msgpack"
	}
	return ""
}

const statusUnknownCode = 255

// statusClass maps a response status byte to a record status:
// 20 OK; 30 CLIENT_TIMEOUT, 35 CHANNEL_INACTIVE, 40 BAD_REQUEST,
// 60 SERVICE_NOT_FOUND and 90 CLIENT_ERROR are the client's; 31
// SERVER_TIMEOUT, 50 BAD_RESPONSE, 70 SERVICE_ERROR, 80 SERVER_ERROR and
// 100 SERVER_THREADPOOL_EXHAUSTED_ERROR the server's. Other values are not
// Dubbo (statusUnknownCode).
func statusClass(s byte) l7.Status {
	switch s {
	case 20:
		return l7.StatusOk
	case 30, 35, 40, 60, 90:
		return l7.StatusClientError
	case 31, 50, 70, 80, 100:
		return l7.StatusServerError
	}
	return statusUnknownCode
}
