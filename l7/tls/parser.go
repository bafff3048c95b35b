package tls

import (
	"sync"

	"github.com/metaflow-go/metaflow/l7"
)

// Stats counts what one Parser saw, both directions together.
type Stats struct {
	Records          uint64 // record headers read
	AppDataRecords   uint64 // application_data records (counted, not decoded)
	AppDataBytes     uint64 // their body bytes
	EncryptedRecords uint64 // handshake and alert records after a ChangeCipherSpec, skipped
	Hellos           uint64 // ClientHello and ServerHello messages decoded
	Alerts           uint64 // plaintext alerts decoded
	SkippedHellos    uint64 // hellos longer than Config.MaxHello, or cut by a gap
	Resyncs          uint64 // record boundaries searched for after a gap or an error
}

// dirState is the record framing of one direction.
type dirState struct {
	skip   int32  // bytes of the current record's body still to skip (at most maxRecord)
	hsLeft int32  // bytes of a handshake message that continue in later records, to skip (24-bit lengths)
	need   int32  // the hello's full length (at most maxMaxHello)
	enc    bool   // a ChangeCipherSpec went this way: later records are encrypted
	lost   bool   // record framing lost (a gap or an error): search for a header
	hsLost bool   // handshake message framing lost: wait for a record starting with a hello
	fragOn bool   // frag is in use
	frag   []byte // a hello being reassembled across records (Parser-owned; dropped by Idle when not in use)
}

// Parser follows the TLS records of one connection in both directions. It
// is not safe for concurrent use.
//
// The texts a message's fields are built in are a scratch taken from a
// pool by the hello or alert that needs them and given back by Idle, so
// that an idle connection's Parser is a 160-byte object: its framing and
// counters.
type Parser struct {
	sc        *scratch // nil while idle
	maxHello  int32
	chPending bool // a ClientHello waits for its ServerHello or alert
	tls13     bool // a ServerHello chose TLS 1.3: records of types 21 and 22 stay plaintext
	d         [2]dirState
	stats     Stats
}

// scratch holds the texts of the Message a hello or an alert fills.
type scratch struct {
	alpn   [256]byte
	vers   [8]byte  // version text
	cipher [48]byte // cipher suite name
	exc    [32]byte // alert description name
}

// scratchPool holds the scratch of idle parsers, shared by every Parser.
var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// scratch returns the Parser's scratch, taking one from the pool.
func (p *Parser) scratch() *scratch {
	if p.sc == nil {
		p.sc = scratchPool.Get().(*scratch)
	}
	return p.sc
}

var _ l7.Idler = (*Parser)(nil)

// Idle implements l7.Idler: no Message the Parser filled is in use, so it
// gives its scratch back to the pool, and drops the buffer of a hello
// reassembled across records unless one is in progress (a connection
// sends one hello each way).
func (p *Parser) Idle() {
	if p.sc != nil {
		scratchPool.Put(p.sc)
		p.sc = nil
	}
	for i := range p.d {
		if s := &p.d[i]; !s.fragOn {
			s.frag = nil
		}
	}
}

// Stats returns the Parser's counters.
func (p *Parser) Stats() Stats { return p.stats }

// Parse decodes the next record of data (direction dir). It returns a
// Message for a record holding a ClientHello (a request), a ServerHello (a
// response) or a plaintext alert (a response); other records are consumed
// without one: their bodies are skipped as they arrive, except handshake
// and alert records before encryption starts, which are read whole.
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	s := &p.d[dir&1]
	if s.skip > 0 {
		if len(data) == 0 {
			return 0, false, l7.ErrNeedMore
		}
		k := min(int(s.skip), len(data))
		s.skip -= int32(k)
		return k, false, nil
	}
	if len(data) < headerLen {
		return 0, false, l7.ErrNeedMore
	}
	if s.lost {
		i := resync(data)
		if i < 0 {
			// Keep the last bytes: they may begin a header.
			return len(data) - (headerLen - 1), false, nil
		}
		s.lost = false
		p.stats.Resyncs++
		if i > 0 {
			return i, false, nil
		}
	}
	if !validHeader(data) {
		return 0, false, &l7.ParseError{Protocol: Name, Err: ErrBadRecord}
	}
	p.stats.Records++
	typ := data[0]
	n := int(data[3])<<8 | int(data[4])
	end := headerLen + n
	switch typ {
	case typeAppData:
		p.stats.AppDataRecords++
		p.stats.AppDataBytes += uint64(n)
		return p.skipRecord(s, data, end), false, nil
	case typeCCS:
		// In TLS 1.3 a ChangeCipherSpec is only for middleboxes
		// (RFC 8446, D.4): encrypted records are application_data.
		s.enc = !p.tls13
		return p.skipRecord(s, data, end), false, nil
	case typeHeartbeat:
		return p.skipRecord(s, data, end), false, nil
	case typeAlert:
		if s.enc || n != 2 {
			p.stats.EncryptedRecords++
			return p.skipRecord(s, data, end), false, nil
		}
		if len(data) < end {
			return 0, false, l7.ErrNeedMore
		}
		p.alert(data[5], data[6], dir, m)
		return end, true, nil
	}
	// Handshake.
	if s.enc {
		p.stats.EncryptedRecords++
		return p.skipRecord(s, data, end), false, nil
	}
	if len(data) < end {
		return 0, false, l7.ErrNeedMore
	}
	ok, err := p.handshake(data[headerLen:end], s, m)
	if err != nil {
		return end, false, &l7.ParseError{Protocol: Name, Err: err}
	}
	if ok {
		m.Length = n
	}
	return end, ok, nil
}

// skipRecord consumes what data holds of a record ending at end and
// leaves the rest of its body to skip.
func (p *Parser) skipRecord(s *dirState, data []byte, end int) int {
	k := min(end, len(data))
	s.skip = int32(end - k)
	return k
}

// resync returns the offset of the first plausible record header in data
// (one followed by another header or by the end of data where its record
// ends), or -1.
func resync(data []byte) int {
	for i := 0; i+headerLen <= len(data); i++ {
		h := data[i:]
		if !validHeader(h) {
			continue
		}
		next := i + headerLen + (int(h[3])<<8 | int(h[4]))
		if next+headerLen <= len(data) && !validHeader(data[next:]) {
			continue
		}
		return i
	}
	return -1
}

// Gap drops partial state of direction dir. A hole inside the body of a
// record being skipped keeps the framing; any other loses it, and the
// Parser searches for the next record header.
func (p *Parser) Gap(dir l7.Direction, n int) {
	s := &p.d[dir&1]
	if s.fragOn {
		s.fragOn = false
		s.frag = s.frag[:0]
		p.stats.SkippedHellos++
	}
	if n > 0 && int(s.skip) >= n && !s.lost {
		s.skip -= int32(n)
		return
	}
	s.skip = 0
	s.hsLeft = 0
	s.lost = true
	s.hsLost = true
}

// handshake walks the handshake messages of one record body and decodes
// the first hello that completes in it.
func (p *Parser) handshake(body []byte, s *dirState, m *l7.Message) (ok bool, err error) {
	if s.hsLost {
		// After a gap, only a record that starts with a hello is known
		// to start at a message boundary.
		if len(body) < 4 || body[0] != hsClientHello && body[0] != hsServerHello {
			return false, nil
		}
		s.hsLost = false
	}
	for len(body) > 0 {
		if s.fragOn {
			k := min(int(s.need)-len(s.frag), len(body))
			s.frag = append(s.frag, body[:k]...)
			body = body[k:]
			if len(s.frag) == int(s.need) {
				s.fragOn = false
				if !ok {
					ok, err = p.hello(s.frag, m)
				}
			}
			continue
		}
		if s.hsLeft > 0 {
			k := min(int(s.hsLeft), len(body))
			s.hsLeft -= int32(k)
			body = body[k:]
			continue
		}
		if len(body) < 4 {
			// A message header split across records: framing is
			// lost until a record starts with a hello.
			s.hsLost = true
			return ok, err
		}
		typ := body[0]
		total := 4 + (int(body[1])<<16 | int(body[2])<<8 | int(body[3]))
		if total <= len(body) {
			if (typ == hsClientHello || typ == hsServerHello) && !ok {
				ok, err = p.hello(body[:total], m)
			}
			body = body[total:]
			continue
		}
		if (typ == hsClientHello || typ == hsServerHello) && total <= int(p.maxHello) {
			if s.frag == nil {
				s.frag = make([]byte, 0, total)
			}
			s.frag = append(s.frag[:0], body...)
			s.fragOn = true
			s.need = int32(total)
		} else {
			if typ == hsClientHello || typ == hsServerHello {
				p.stats.SkippedHellos++
			}
			s.hsLeft = int32(total - len(body))
		}
		body = nil
	}
	return ok, err
}

// hello decodes a whole ClientHello or ServerHello message (header
// included) into m.
func (p *Parser) hello(msg []byte, m *l7.Message) (bool, error) {
	r := reader{b: msg[4:]}
	r.u16() // legacy_version
	r.skip(32)
	r.skip(int(r.u8())) // legacy_session_id
	var cipher uint16
	if msg[0] == hsClientHello {
		r.skip(int(r.u16())) // cipher_suites
		r.skip(int(r.u8()))  // legacy_compression_methods
	} else {
		cipher = r.u16()
		r.u8() // legacy_compression_method
	}
	if r.bad {
		return false, ErrBadHello
	}
	version := uint16(0)
	if msg[0] == hsServerHello {
		version = uint16(msg[4])<<8 | uint16(msg[5])
	}
	var sni []byte
	sc := p.scratch()
	alpn := sc.alpn[:0]
	if r.len() > 0 {
		exts := reader{b: r.bytes(int(r.u16()))}
		for exts.len() > 0 && !exts.bad {
			typ := exts.u16()
			e := reader{b: exts.bytes(int(exts.u16()))}
			switch {
			case typ == 0 && msg[0] == hsClientHello && sni == nil: // server_name
				list := reader{b: e.bytes(int(e.u16()))}
				for list.len() > 0 && !list.bad {
					kind := list.u8()
					name := list.bytes(int(list.u16()))
					if kind == 0 && !list.bad {
						sni = name
						break
					}
				}
			case typ == 16 && msg[0] == hsClientHello: // application_layer_protocol_negotiation
				list := reader{b: e.bytes(int(e.u16()))}
				for list.len() > 0 && !list.bad {
					proto := list.bytes(int(list.u8()))
					if list.bad || len(alpn)+1+len(proto) > len(sc.alpn) {
						break
					}
					if len(alpn) > 0 {
						alpn = append(alpn, ',')
					}
					alpn = append(alpn, proto...)
				}
			case typ == 43 && msg[0] == hsServerHello: // supported_versions
				if v := e.u16(); !e.bad {
					version = v
				}
			}
		}
		if exts.bad {
			return false, ErrBadHello
		}
	}
	p.stats.Hellos++
	m.TLS = true
	if msg[0] == hsClientHello {
		p.chPending = true
		m.Kind = l7.KindRequest
		m.RequestType = clientHello
		m.RequestDomain = sni
		if len(alpn) > 0 {
			m.RequestResource = alpn
		}
		return true, nil
	}
	p.chPending = false
	p.tls13 = version == 0x0304
	m.Kind = l7.KindResponse
	m.Status = l7.StatusOk
	m.Version = name(sc.vers[:0], versionName(version), version)
	m.Result = name(sc.cipher[:0], cipherName(cipher), cipher)
	return true, nil
}

// clientHello is the request_type of every request.
var clientHello = []byte("ClientHello")

// name appends s, or v as "0x%04x" when s is empty, to buf (which has room
// for either).
func name(buf []byte, s string, v uint16) []byte {
	if s != "" {
		return append(buf, s...)
	}
	const hex = "0123456789abcdef"
	return append(buf, '0', 'x', hex[v>>12], hex[v>>8&15], hex[v>>4&15], hex[v&15])
}

// alert fills m from a plaintext alert sent in direction dir. A fatal
// alert the server sends rejects the client's offer (ClientError, except
// internal_error: ServerError); one the client sends rejects the server's
// answer (ServerError). Warnings are Ok. Only a server's alert to a
// ClientHello still waiting pairs with it; any other is a lone response.
func (p *Parser) alert(level, desc uint8, dir l7.Direction, m *l7.Message) {
	p.stats.Alerts++
	m.TLS = true
	m.Kind = l7.KindResponse
	m.Code, m.HasCode = int32(desc), true
	if s := alertName(desc); s != "" {
		m.Exception = append(p.scratch().exc[:0], s...)
	} else {
		m.Exception = append(p.scratch().exc[:0], "unknown_alert"...)
	}
	m.Length = 2
	switch {
	case level != 2:
		m.Status = l7.StatusOk
	case dir == l7.ToServer:
		m.Status = l7.StatusServerError
	case desc == 80:
		m.Status = l7.StatusServerError
	default:
		m.Status = l7.StatusClientError
	}
	if dir == l7.ToClient && p.chPending {
		p.chPending = false
		return
	}
	m.Streaming = true
}

// reader reads big-endian fields; reading past the end sets bad and
// yields zeros.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) len() int { return len(r.b) }

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.bad, r.b = true, nil
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.bad, r.b = true, nil
		return 0
	}
	v := uint16(r.b[0])<<8 | uint16(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if len(r.b) < n {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) skip(n int) { r.bytes(n) }

// Trailing implements l7.Trailer: the next bytes of dir belong to no
// message (records that yield none are skipped or read whole, and a
// message comes from the record read whole in the same call), except
// while a hello spanning records is being reassembled. So a message's time
// and sequence number are those of its record, not of the records before
// it (a ChangeCipherSpec sent after a HelloRetryRequest, say).
func (p *Parser) Trailing(dir l7.Direction) bool { return !p.d[dir&1].fragOn }
