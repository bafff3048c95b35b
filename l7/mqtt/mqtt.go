package mqtt

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
)

// Name is the l7_protocol value of MQTT records.
const Name = "MQTT"

// Errors in the Err of a *l7.ParseError that Parse returns. Each matches
// l7.ErrMalformed with errors.Is.
var (
	// ErrBadHeader: a fixed header of packet type 0, with flags the
	// specification forbids for its type (PUBLISH at QoS 3), or a remaining
	// length longer than four bytes.
	ErrBadHeader = fmt.Errorf("mqtt: bad fixed header: %w", l7.ErrMalformed)
	// ErrBadPacket: a packet whose fields do not fit in its remaining
	// length, or a CONNECT with an unknown protocol name or level.
	ErrBadPacket = fmt.Errorf("mqtt: bad packet: %w", l7.ErrMalformed)
	// ErrTooLarge: a packet other than PUBLISH, or the topic and properties
	// of a PUBLISH, longer than Config.MaxPacket.
	ErrTooLarge = fmt.Errorf("mqtt: packet too large: %w", l7.ErrMalformed)
)

// The decoder's shape.
var (
	_ l7.Decoder = (*Decoder)(nil)
	_ l7.Parser  = (*Parser)(nil)
	_ l7.Trailer = (*Parser)(nil)
)

// DefaultMaxPacket is the default of Config.MaxPacket.
const DefaultMaxPacket = 64 << 10

// Config tunes the decoder. The zero value (or a nil *Config) means
// defaults.
type Config struct {
	// MaxPacket bounds the bytes the parser waits for before decoding a
	// packet: a whole packet other than PUBLISH, or the fixed header, topic
	// and properties of a PUBLISH (whose payload is skipped as it comes).
	// A longer packet is an error. Default 64 KiB (l7.Config's default
	// MaxBufferPerDirection), limit 256 MiB (MQTT's largest packet).
	MaxPacket int
}

// Decoder is the MQTT decoder. It is stateless and safe for concurrent use;
// get one from New.
type Decoder struct {
	cfg Config
}

// New returns the MQTT decoder configured by c; nil means defaults.
func New(c *Config) *Decoder {
	d := &Decoder{}
	if c != nil {
		d.cfg = *c
	}
	if d.cfg.MaxPacket <= 0 {
		d.cfg.MaxPacket = DefaultMaxPacket
	}
	d.cfg.MaxPacket = min(d.cfg.MaxPacket, maxRemaining+5)
	return d
}

// Name returns "MQTT".
func (*Decoder) Name() string { return Name }

// NewParser returns the per-flow state of one connection, a *Parser.
func (d *Decoder) NewParser(_ l7.Transport) l7.Parser {
	return &Parser{max: d.cfg.MaxPacket}
}

// maxCheckPackets bounds the packets Check walks.
const maxCheckPackets = 8

// Check accepts, on TCP, a payload that starts with a well-formed MQTT
// packet and goes on with well-formed packets, the last of which may be cut
// by the end of the payload (see checkPacket for what well-formed means).
// Packets only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ) are
// a Request, packets only a server sends (CONNACK, SUBACK, UNSUBACK,
// PINGRESP) a Response. Either side sends the others (PUBLISH and its
// acknowledgements, DISCONNECT and AUTH in MQTT 5): for them the verdict
// follows dir, so that the flow's orientation stays as it is.
func (d *Decoder) Check(payload []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP || len(payload) == 0 {
		return l7.No
	}
	b := payload
	first := byte(0)
	for i := 0; i < maxCheckPackets && len(b) > 0; i++ {
		typ, size, ok := checkPacket(b, d.cfg.MaxPacket)
		if !ok {
			return l7.No
		}
		if i == 0 {
			first = typ
		}
		if size >= len(b) {
			break
		}
		b = b[size:]
	}
	switch first {
	case tConnect, tSubscribe, tUnsubscribe, tPingreq:
		return l7.Request
	case tConnack, tSuback, tUnsuback, tPingresp:
		return l7.Response
	}
	if dir == l7.ToServer {
		return l7.Request
	}
	return l7.Response
}

// checkPacket judges the packet at the start of b, which may end before
// the packet does: the fixed header must be complete with the flags its
// type requires, and every field within b must be well formed for MQTT
// 3.1.1 or 5 (for a CONNECT, for the level it names): a CONNECT names
// "MQTT" or "MQIsdp", topic names are valid UTF-8
// without control characters or wildcards (filters may have wildcards),
// property lists hold known properties, fields fit in the remaining
// length, and packets with nothing variable have their exact length (a
// CONNECT of an unknown protocol level passes: the broker refuses it with a
// CONNACK worth a record). A
// packet other than PUBLISH must fit in maxPacket. It returns the packet
// type and size.
func checkPacket(b []byte, maxPacket int) (typ byte, size int, ok bool) {
	typ, flags, rem, hl := header(b)
	if hl <= 0 || !flagsOK(typ, flags) {
		return 0, 0, false
	}
	size = hl + rem
	if typ != tPublish && size > maxPacket {
		return 0, 0, false
	}
	body := b[hl:min(len(b), size)]
	whole := len(body) == rem
	switch typ {
	case tConnect:
		return typ, size, checkConnect(body, whole)
	case tPingreq, tPingresp:
		return typ, size, rem == 0
	case tConnack:
		// 3.1.1: session-present flag and return code 0-5; 5: flag,
		// reason code 0 or from 0x80, properties.
		if rem < 2 || len(body) >= 1 && body[0]&0xfe != 0 {
			return 0, 0, false
		}
		if len(body) >= 2 && (rem == 2 && body[1] > 5 || rem > 2 && body[1] != 0 && body[1] < 0x80) {
			return 0, 0, false
		}
		if rem == 2 || !whole {
			return typ, size, true
		}
		r := reader{b: body, off: 2}
		return typ, size, props(&r, nil) && r.left() == 0
	case tPuback, tPubrec, tPubrel, tPubcomp:
		// 3.1.1: a packet id; 5: and a reason code and properties.
		if rem < 2 || whole && !ackV5OK(body) {
			return 0, 0, false
		}
		return typ, size, len(body) < 2 || body[0]|body[1] != 0
	case tDisconnect, tAuth:
		if rem == 0 {
			return typ, size, typ == tDisconnect
		}
		if !whole {
			return typ, size, true
		}
		r := reader{b: body, off: 1}
		return typ, size, rem == 1 || props(&r, nil) && r.left() == 0
	case tPublish:
		return typ, size, checkPublish(body, flags, rem)
	case tSubscribe, tUnsubscribe, tSuback, tUnsuback:
		if rem < 2 {
			return 0, 0, false
		}
		if !whole {
			return typ, size, true
		}
		return typ, size, checkList(typ, body, false) || checkList(typ, body, true)
	}
	return 0, 0, false
}

// ackV5OK judges a whole PUBACK, PUBREC, PUBREL or PUBCOMP body.
func ackV5OK(body []byte) bool {
	if len(body) <= 3 {
		return true
	}
	r := reader{b: body, off: 3}
	return props(&r, nil) && r.left() == 0
}

func checkConnect(body []byte, whole bool) bool {
	r := reader{b: body}
	name := r.str()
	if r.bad {
		return !whole && len(body) < 8
	}
	if string(name) != "MQTT" && string(name) != "MQIsdp" {
		return false
	}
	level := r.u8() & 0x7f
	flags := r.u8()
	r.u16()
	if r.bad {
		return !whole
	}
	if flags&1 != 0 {
		return false
	}
	if level == level5 && !props(&r, nil) {
		return !whole // perhaps cut by the end of b
	}
	r.str() // client id
	return !r.bad || !whole
}

func checkPublish(body []byte, flags byte, rem int) bool {
	r := reader{b: body}
	topic := r.str()
	if r.bad {
		return len(body) < 2 || len(body) < rem && int(body[0])<<8|int(body[1]) <= rem-2
	}
	if !topicOK(topic, false) {
		return false
	}
	if flags&0x06 != 0 {
		id := r.u16()
		if r.bad {
			return len(body) < rem
		}
		if id == 0 {
			return false
		}
	}
	return true
}

// checkList judges a whole SUBSCRIBE, UNSUBSCRIBE, SUBACK or UNSUBACK
// body, for MQTT 5 when v5.
func checkList(typ byte, body []byte, v5 bool) bool {
	r := reader{b: body}
	if r.u16() == 0 {
		return false
	}
	if v5 && !props(&r, nil) {
		return false
	}
	switch typ {
	case tSuback, tUnsuback:
		if typ == tUnsuback && !v5 {
			return r.left() == 0
		}
		if r.left() == 0 {
			return false
		}
		for _, c := range r.b[r.off:] {
			if !v5 && c > 2 && c != 0x80 || v5 && c > 2 && c < 0x80 && c != 0x11 {
				return false
			}
		}
		return true
	}
	if r.left() == 0 {
		return false
	}
	for r.left() > 0 {
		if !topicOK(r.str(), true) || r.bad {
			return false
		}
		if typ == tSubscribe {
			opt := r.u8()
			if r.bad || !v5 && opt > 2 || v5 && opt&0xc0 != 0 {
				return false
			}
		}
	}
	return true
}
