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

// MaxPending returns the requests one flow may hold waiting for their
// responses (l7.PendingLimiter): 1024, as a client or broker may have many QoS 1/2 messages in flight (mosquitto's default window is 20).
func (*Decoder) MaxPending() int { return 1024 }

// NewParser returns the per-flow state of one connection, a *Parser.
func (d *Decoder) NewParser(_ l7.Transport) l7.Parser {
	return &Parser{max: int32(d.cfg.MaxPacket)} // at most maxRemaining+5
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
// the packet does. The fixed header must be complete, with the flags its
// type requires. Only a CONNECT, PUBLISH, SUBSCRIBE or UNSUBSCRIBE may be
// cut by the end of b, and only after the fields that tell it from other
// protocols' bytes: a CONNECT's protocol name ("MQTT" or "MQIsdp"), a
// PUBLISH's topic name (valid UTF-8 without control characters or
// wildcards) and packet id, a (UN)SUBSCRIBE's first topic filter. Every
// other packet must be whole, with the exact length (PINGREQ, PINGRESP)
// or the fields of MQTT 3.1.1 or 5 (return and reason codes the
// specification defines, property lists of known properties that fill the
// packet). A packet other than PUBLISH must fit in maxPacket. It returns
// the packet type and size.
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
	case tPublish:
		return typ, size, checkPublish(body, flags, rem)
	case tSubscribe, tUnsubscribe:
		return typ, size, checkList(typ, body, whole, false) || checkList(typ, body, whole, true)
	}
	if !whole {
		return 0, 0, false
	}
	switch typ {
	case tPingreq, tPingresp:
		return typ, size, rem == 0
	case tConnack:
		// 3.1.1: session-present flag and return code 0-5; 5: flag,
		// reason code, properties.
		if rem < 2 || body[0]&0xfe != 0 {
			return 0, 0, false
		}
		if rem == 2 {
			return typ, size, body[1] <= 5
		}
		r := reader{b: body, off: 2}
		return typ, size, isCode(connackCodes, body[1]) && props(&r, nil) && r.left() == 0
	case tPuback, tPubrec, tPubrel, tPubcomp:
		// A packet id; in MQTT 5, a reason code and properties may follow.
		if rem < 2 || body[0]|body[1] == 0 {
			return 0, 0, false
		}
		codes := pubackCodes
		if typ == tPubrel || typ == tPubcomp {
			codes = pubrelCodes
		}
		if rem == 2 || rem == 3 && isCode(codes, body[2]) {
			return typ, size, true
		}
		r := reader{b: body, off: 3}
		return typ, size, isCode(codes, body[2]) && props(&r, nil) && r.left() == 0
	case tSuback, tUnsuback:
		return typ, size, checkList(typ, body, true, false) || checkList(typ, body, true, true)
	case tDisconnect, tAuth:
		if rem == 0 {
			return typ, size, typ == tDisconnect
		}
		codes := disconnectCodes
		if typ == tAuth {
			codes = authCodes
		}
		if !isCode(codes, body[0]) {
			return 0, 0, false
		}
		r := reader{b: body, off: 1}
		return typ, size, rem == 1 || props(&r, nil) && r.left() == 0
	}
	return 0, 0, false
}

// Reason codes (MQTT 5, 2.4) each packet type may carry, as bit sets.
type codeSet [4]uint64

func codes(c ...byte) (s codeSet) {
	for _, x := range c {
		s[x>>6] |= 1 << (x & 63)
	}
	return s
}

func isCode(s codeSet, c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }

var (
	connackCodes = codes(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a,
		0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f)
	pubackCodes     = codes(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99)
	pubrelCodes     = codes(0x00, 0x92)
	subackCodes3    = codes(0x00, 0x01, 0x02, 0x80)
	subackCodes5    = codes(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2)
	unsubackCodes   = codes(0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91)
	authCodes       = codes(0x00, 0x18, 0x19)
	disconnectCodes = codes(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f,
		0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2)
)

// checkConnect judges a CONNECT body, whole or not: cut, it passes once
// its protocol name is there and right.
func checkConnect(body []byte, whole bool) bool {
	r := reader{b: body}
	name := r.str()
	if r.bad || string(name) != "MQTT" && string(name) != "MQIsdp" {
		return false
	}
	r.u8() // level: any, see checkPacket
	flags := r.u8()
	r.u16()
	if r.bad {
		return !whole
	}
	if flags&1 != 0 {
		return false
	}
	if body[len(name)+2]&0x7f == level5 && !props(&r, nil) {
		return !whole // perhaps cut by the end of b
	}
	r.str() // client id
	return !r.bad || !whole
}

// checkPublish judges a PUBLISH body, whole or not: its topic name and,
// at QoS 1 and 2, its packet id must be there.
func checkPublish(body []byte, flags byte, rem int) bool {
	r := reader{b: body}
	topic := r.str()
	if r.bad || !topicOK(topic, false) {
		return false
	}
	if flags&0x06 != 0 && r.u16() == 0 {
		return false // no packet id, or 0
	}
	return r.off <= rem
}

// checkList judges a SUBSCRIBE, UNSUBSCRIBE, SUBACK or UNSUBACK body, for
// MQTT 5 when v5; a (UN)SUBSCRIBE may be cut after its first filter.
func checkList(typ byte, body []byte, whole, v5 bool) bool {
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
		set := subackCodes3
		if v5 {
			set = subackCodes5
			if typ == tUnsuback {
				set = unsubackCodes
			}
		}
		for _, c := range r.b[r.off:] {
			if !isCode(set, c) {
				return false
			}
		}
		return true
	}
	n := 0
	for ; r.left() > 0; n++ {
		f := r.str()
		if r.bad {
			return n > 0 && !whole
		}
		if !topicOK(f, true) {
			return false
		}
		if typ == tSubscribe {
			opt := r.u8()
			if r.bad {
				return !whole
			}
			if !v5 && opt > 2 || v5 && (opt&0xc0 != 0 || opt&0x03 == 3 || opt&0x30 == 0x30) {
				return false
			}
		}
	}
	return n > 0
}
