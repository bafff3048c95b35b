package mqtt

// Builders of MQTT packets for the tests.

// pkt is a packet under construction: its first byte, then its body.
type pkt struct {
	first byte
	body  []byte
}

func newPkt(typ, flags byte) *pkt { return &pkt{first: typ<<4 | flags} }

func (p *pkt) u8(v ...byte) *pkt { p.body = append(p.body, v...); return p }

func (p *pkt) u16(v uint16) *pkt { return p.u8(byte(v>>8), byte(v)) }

func (p *pkt) str(s string) *pkt { p.u16(uint16(len(s))); return p.u8([]byte(s)...) }

// props appends an MQTT 5 property list holding the given properties.
func (p *pkt) props(list ...[]byte) *pkt {
	var b []byte
	for _, x := range list {
		b = append(b, x...)
	}
	p.body = append(p.body, varint(len(b))...)
	p.body = append(p.body, b...)
	return p
}

func (p *pkt) bytes() []byte {
	return append(append([]byte{p.first}, varint(len(p.body))...), p.body...)
}

func varint(n int) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

func propStr(id byte, s string) []byte {
	return append([]byte{id, byte(len(s) >> 8), byte(len(s))}, s...)
}

func userProp(k, v string) []byte {
	b := []byte{propUserProperty, byte(len(k) >> 8), byte(len(k))}
	b = append(b, k...)
	b = append(b, byte(len(v)>>8), byte(len(v)))
	return append(b, v...)
}

func topicAlias(a uint16) []byte { return []byte{propTopicAlias, byte(a >> 8), byte(a)} }

func connect(level byte, clientID string) []byte {
	name := "MQTT"
	if level == level31 {
		name = "MQIsdp"
	}
	p := newPkt(tConnect, 0).str(name).u8(level, 0x02).u16(60)
	if level == level5 {
		p.props([]byte{0x11, 0, 0, 0, 10}, userProp("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
	}
	return p.str(clientID).bytes()
}

func connack(v5 bool, code byte) []byte {
	p := newPkt(tConnack, 0).u8(0, code)
	if v5 {
		p.props([]byte{0x22, 0, 10}, propStr(0x1f, "reason"))
	}
	return p.bytes()
}

func publish(v5 bool, qos byte, id uint16, topic, payload string, props ...[]byte) []byte {
	p := newPkt(tPublish, qos<<1).str(topic)
	if qos > 0 {
		p.u16(id)
	}
	if v5 {
		p.props(props...)
	}
	return p.u8([]byte(payload)...).bytes()
}

func ack(typ byte, id uint16) []byte {
	flags := byte(0)
	if typ == tPubrel {
		flags = 2
	}
	return newPkt(typ, flags).u16(id).bytes()
}

func subscribe(v5 bool, id uint16, filters ...string) []byte {
	p := newPkt(tSubscribe, 2).u16(id)
	if v5 {
		p.props(userProp("why", "test"))
	}
	for _, f := range filters {
		p.str(f).u8(1)
	}
	return p.bytes()
}

func suback(v5 bool, id uint16, codes ...byte) []byte {
	p := newPkt(tSuback, 0).u16(id)
	if v5 {
		p.props()
	}
	return p.u8(codes...).bytes()
}

func cat(b ...[]byte) []byte {
	var out []byte
	for _, x := range b {
		out = append(out, x...)
	}
	return out
}

var (
	pingreq    = []byte{tPingreq << 4, 0}
	pingresp   = []byte{tPingresp << 4, 0}
	disconnect = []byte{tDisconnect << 4, 0}
)
