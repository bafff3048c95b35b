package dns

import (
	"net/netip"
	"strconv"
	"sync"

	"github.com/metaflow-go/metaflow/l7"
)

// Header is what the last decoded message said beyond the record fields.
type Header struct {
	ID      uint16
	Flags   uint16 // the header's second 16-bit word, as sent
	Opcode  uint8
	Rcode   uint16 // 4 bits, or 12 with the OPT record's extension
	QDCount uint16
	ANCount uint16
	NSCount uint16
	ARCount uint16
	QType   uint16 // the first question's type; 0 without a question

	EDNS        bool   // an OPT record was present
	UDPSize     uint16 // OPT: requestor's UDP payload size
	EDNSVersion uint8  // OPT: EDNS version
	DO          bool   // OPT: DNSSEC OK bit
}

// Truncated reports the TC bit.
func (h Header) Truncated() bool { return h.Flags&flagTC != 0 }

const (
	resultCap = 512 // response_result bound, "..." included
	nameCap   = 4*maxNameWire + 4
	// maxPointers bounds the compression pointers followed in one name.
	// Encoders emit one; chains of a few occur. Without a bound, a chain
	// of pointers to pointers makes each name cost O(message size).
	maxPointers = 16
	// bigMessage: a TCP message longer than this is decoded from its
	// first bigMessage bytes.
	bigMessage = 16 << 10
)

// Parser holds one flow's DNS state. It is not safe for concurrent use; get
// one from Decoder.NewParser.
//
// What a message's fields are built in (its name, result, type and rcode
// texts: 1.6 KB) is a scratch taken from a pool by Parse and given back by
// Idle, so that an idle flow's Parser keeps only its framing state and the
// last header (80 bytes): DNS keeps nothing between messages.
type Parser struct {
	sc     *scratch // nil while idle
	tcp    bool
	resync [2]bool  // TCP: after a gap, look for a plausible message start
	skip   [2]int32 // TCP: bytes of a big message still to skip (at most 65537)
	base   [2]int64 // bytes consumed so far per direction (error offsets)
	hdr    Header
}

// scratch holds the texts a message's fields are built in.
type scratch struct {
	qname  text
	result text
	typ    [16]byte
	rcode  [16]byte

	qnameBuf  [nameCap]byte
	resultBuf [resultCap]byte
}

// scratchPool holds the scratch of idle parsers, shared by every Parser.
var scratchPool = sync.Pool{New: func() any {
	sc := new(scratch)
	sc.qname.b = sc.qnameBuf[:0]
	sc.result.b = sc.resultBuf[:0]
	return sc
}}

var _ l7.Idler = (*Parser)(nil)

// Idle implements l7.Idler: no Message the Parser filled is in use, so it
// gives its scratch back to the pool; the next message takes one again.
func (p *Parser) Idle() {
	if p.sc != nil {
		scratchPool.Put(p.sc)
		p.sc = nil
	}
}

// newParser returns a Parser for one flow over transport t.
func newParser(t l7.Transport) *Parser {
	return &Parser{tcp: t == l7.TCP}
}

// Header returns the header and EDNS information of the last message Parse
// decoded.
func (p *Parser) Header() Header { return p.hdr }

// Gap makes a TCP parser look for the next plausible message start.
func (p *Parser) Gap(dir l7.Direction, n int) {
	d := int(dir & 1)
	p.resync[d], p.skip[d] = p.tcp, 0
	if n > 0 {
		p.base[d] += int64(n)
	}
}

// Trailing reports (l7.Trailer) whether the next bytes of dir over TCP
// belong to no new message: the rest of a long message already returned,
// or bytes skipped after a gap until a message starts. The engine then
// dates the next message from its own start.
func (p *Parser) Trailing(dir l7.Direction) bool {
	d := int(dir & 1)
	return p.resync[d] || p.skip[d] > 0
}

// Flush decodes a message over TCP cut short (l7.Flusher) by a hole or by
// the end of the flow: its header (id, flags, rcode) and the question and
// records that end within the bytes there are, as a message past
// bigMessage is. A message whose question is cut gives what its header
// says: its id, and for a response its rcode.
func (p *Parser) Flush(data []byte, dir l7.Direction, m *l7.Message) bool {
	d := int(dir & 1)
	if !p.tcp || p.skip[d] > 0 || p.resync[d] || len(data) < 2+headerLen {
		return false
	}
	size := int(be16(data))
	if size < headerLen || len(data) >= 2+size {
		return false
	}
	if _, err := p.decode(data[2:], true, m); err != nil {
		return false
	}
	m.Length = 2 + size
	return true
}

// Parse decodes one message: the whole datagram over UDP, one
// length-prefixed message over TCP.
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	d := int(dir & 1)
	if !p.tcp {
		p.base[d] += int64(len(data))
		if off, err := p.decode(data, false, m); err != nil {
			return len(data), false, p.fail(d, int64(len(data)), off, err)
		}
		m.Length = len(data)
		return len(data), true, nil
	}
	if p.skip[d] > 0 {
		n := min(int(p.skip[d]), len(data))
		p.skip[d] -= int32(n)
		p.base[d] += int64(n)
		return n, false, nil
	}
	if p.resync[d] {
		n, found := resyncTCP(data)
		if !found {
			if n > 0 {
				p.base[d] += int64(n)
				return n, false, nil
			}
			return 0, false, l7.ErrNeedMore
		}
		p.resync[d] = false
		if n > 0 {
			p.base[d] += int64(n)
			return n, false, nil
		}
	}
	if len(data) < 2 {
		return 0, false, l7.ErrNeedMore
	}
	size := int(be16(data))
	if size < headerLen {
		p.resync[d] = true
		return 0, false, p.fail(d, 0, 0, ErrBadLength)
	}
	n, cut := 2+size, false
	if len(data) < n {
		// A message past bigMessage (zone transfers, large DNSSEC answers)
		// is decoded from its first bigMessage bytes and the rest skipped
		// as it arrives, so it needs no buffer of its own size.
		if size <= bigMessage || len(data) < 2+bigMessage {
			return 0, false, l7.ErrNeedMore
		}
		n, cut = len(data), true
		p.skip[d] = int32(2 + size - n)
	}
	p.base[d] += int64(n)
	if off, err := p.decode(data[2:n], cut, m); err != nil {
		return n, false, p.fail(d, int64(n), 2+off, err)
	}
	m.Length = 2 + size
	return n, true, nil
}

// fail builds the error for a fault at off within the n bytes just
// consumed (already added to base).
func (p *Parser) fail(d int, n int64, off int, err error) error {
	return &l7.ParseError{Protocol: Name, Offset: p.base[d] - n + int64(off), Err: err}
}

// resyncTCP looks for the first offset in data where a length prefix and a
// sane header and question start. It returns (offset, true) when found,
// (bytes that can be skipped, false) otherwise.
func resyncTCP(data []byte) (int, bool) {
	const probe = 2 + headerLen + 5
	i := 0
	for ; i+probe <= len(data); i++ {
		size := int(be16(data[i:]))
		if size < headerLen+5 {
			continue
		}
		msg := data[i+2:]
		if len(msg) > size {
			msg = msg[:size]
		}
		v, more := checkMsg(msg)
		if v != l7.No {
			return i, true
		}
		if more && len(msg) < size {
			return i, false // the question is cut by the end of data: wait
		}
	}
	return i, false
}

// decode parses one message into m. On error it returns the offset of the
// fault within msg. cut says msg is only the start of a longer message:
// the records that end within it are decoded, and the result ends in "...".
func (p *Parser) decode(msg []byte, cut bool, m *l7.Message) (int, error) {
	p.hdr = Header{}
	if len(msg) < headerLen {
		return len(msg), ErrTruncated
	}
	h := &p.hdr
	h.ID = be16(msg)
	h.Flags = be16(msg[2:])
	h.Opcode = uint8(h.Flags >> 11 & 0xf)
	h.Rcode = h.Flags & 0xf
	h.QDCount, h.ANCount = be16(msg[4:]), be16(msg[6:])
	h.NSCount, h.ARCount = be16(msg[8:]), be16(msg[10:])
	response := h.Flags&flagQR != 0
	truncated := h.Flags&flagTC != 0
	stopEarly := truncated || cut // the sections may end before their counts

	if p.sc == nil {
		p.sc = scratchPool.Get().(*scratch)
	}
	p.sc.qname.reset(nameCap)
	p.sc.result.reset(resultCap)
	if response && truncated {
		p.sc.result.str("TC")
	}
	off := headerLen
	qcut := false // cut (Flush) inside the question: the header alone counts
	for i := 0; i < int(h.QDCount); i++ {
		w := &p.sc.qname
		if i > 0 {
			w = nil
		}
		next, err := readName(msg, off, w, false)
		if err == ErrTruncated && cut {
			qcut = true
			break
		}
		if err != nil {
			return next, err
		}
		if next+4 > len(msg) {
			if cut {
				qcut = true
				break
			}
			return len(msg), ErrTruncated
		}
		if i == 0 {
			h.QType = be16(msg[next:])
		}
		off = next + 4
	}

	counts := [3]uint16{h.ANCount, h.NSCount, h.ARCount}
	if qcut {
		counts = [3]uint16{}
	}
sections:
	for sec, count := range counts {
		for range int(count) {
			next, err := readName(msg, off, nil, false)
			if err == ErrTruncated && stopEarly {
				break sections
			}
			if err != nil {
				return next, err
			}
			if next+10 > len(msg) {
				if stopEarly {
					break sections
				}
				return len(msg), ErrTruncated
			}
			typ := be16(msg[next:])
			rdOff := next + 10
			rdEnd := rdOff + int(be16(msg[next+8:]))
			if rdEnd > len(msg) {
				if stopEarly {
					break sections
				}
				return len(msg), ErrTruncated
			}
			switch {
			case sec == 0 && response:
				if off, err := p.formatRR(msg, typ, rdOff, rdEnd); err != nil {
					return off, err
				}
			case sec == 2 && typ == TypeOPT:
				h.EDNS = true
				h.UDPSize = be16(msg[next+2:])
				ttl := be32(msg[next+4:])
				h.Rcode |= uint16(ttl>>24) << 4
				h.EDNSVersion = uint8(ttl >> 16)
				h.DO = ttl&0x8000 != 0
			}
			off = rdEnd
		}
	}

	m.ID = uint64(h.ID)
	m.HasID = true
	m.RequestID = uint32(h.ID)
	m.HasRequestID = true
	if h.QDCount > 0 && !qcut {
		m.RequestType = p.typeName(h.QType)
		m.RequestResource = p.sc.qname.b
	}
	if !response {
		m.Kind = l7.KindRequest
		return 0, nil
	}
	m.Kind = l7.KindResponse
	m.Code = int32(h.Rcode)
	m.HasCode = true
	switch h.Rcode {
	case 0:
		m.Status = l7.StatusOk
	case 3:
		m.Status = l7.StatusClientError
	default:
		m.Status = l7.StatusServerError
	}
	if h.Rcode != 0 {
		if s := RcodeName(h.Rcode); s != "" {
			m.Exception = append(p.sc.rcode[:0], s...)
		} else {
			m.Exception = strconv.AppendUint(append(p.sc.rcode[:0], "RCODE"...), uint64(h.Rcode), 10)
		}
	}
	if cut {
		p.sc.result.full = true // the answers went on past what was decoded
	}
	if len(p.sc.result.b) > 0 || cut {
		m.Result = p.sc.result.finish()
	}
	return 0, nil
}

// typeName returns the mnemonic of t or "TYPEnnn", in the parser's buffer.
func (p *Parser) typeName(t uint16) []byte {
	if s := TypeName(t); s != "" {
		return append(p.sc.typ[:0], s...)
	}
	return strconv.AppendUint(append(p.sc.typ[:0], "TYPE"...), uint64(t), 10)
}

// formatRR appends one answer record as "TYPE rdata" to the result.
func (p *Parser) formatRR(msg []byte, typ uint16, off, end int) (int, error) {
	w := &p.sc.result
	if w.full {
		return 0, nil
	}
	if len(w.b) > 0 {
		w.byte(';')
	}
	w.bytes(p.typeName(typ))
	rd := msg[off:end]
	switch typ {
	case TypeA:
		if len(rd) != 4 {
			return off, ErrBadRecord
		}
		w.byte(' ')
		var s [16]byte
		w.bytes(netip.AddrFrom4([4]byte(rd)).AppendTo(s[:0]))
	case TypeAAAA:
		if len(rd) != 16 {
			return off, ErrBadRecord
		}
		w.byte(' ')
		var s [48]byte
		w.bytes(netip.AddrFrom16([16]byte(rd)).AppendTo(s[:0]))
	case TypeCNAME, TypeNS, TypePTR, TypeDNAME:
		w.byte(' ')
		return p.rdName(msg, off, end, true)
	case TypeMX:
		if len(rd) < 3 {
			return off, ErrBadRecord
		}
		w.byte(' ')
		w.uint(uint64(be16(rd)))
		w.byte(' ')
		return p.rdName(msg, off+2, end, true)
	case TypeTXT:
		for i := 0; i < len(rd); {
			l := int(rd[i])
			if i+1+l > len(rd) {
				return off + i, ErrBadRecord
			}
			w.byte(' ')
			w.quoted(rd[i+1 : i+1+l])
			i += 1 + l
		}
	case TypeSOA:
		w.byte(' ')
		next, err := readName(msg, off, w, true)
		if err != nil || next > end {
			return next, ErrBadRecord
		}
		w.byte(' ')
		next, err = readName(msg, next, w, true)
		if err != nil || next+20 != end {
			return next, ErrBadRecord
		}
		for i := 0; i < 5; i++ {
			w.byte(' ')
			w.uint(uint64(be32(msg[next+4*i:])))
		}
	case TypeSRV:
		if len(rd) < 7 {
			return off, ErrBadRecord
		}
		for i := 0; i < 3; i++ {
			w.byte(' ')
			w.uint(uint64(be16(rd[2*i:])))
		}
		w.byte(' ')
		return p.rdName(msg, off+6, end, true)
	case TypeCAA:
		if len(rd) < 2 || 2+int(rd[1]) > len(rd) {
			return off, ErrBadRecord
		}
		w.byte(' ')
		w.uint(uint64(rd[0]))
		w.byte(' ')
		w.escaped(rd[2 : 2+rd[1]])
		w.byte(' ')
		w.quoted(rd[2+rd[1]:])
	case TypeSVCB, TypeHTTPS:
		return p.formatSVCB(msg, off, end)
	}
	return 0, nil
}

// rdName writes the name at off, which must end exactly at end.
func (p *Parser) rdName(msg []byte, off, end int, fq bool) (int, error) {
	next, err := readName(msg[:end], off, &p.sc.result, fq)
	if err != nil {
		return next, ErrBadRecord
	}
	if next != end {
		return next, ErrBadRecord
	}
	return 0, nil
}

// formatSVCB writes "priority target" and the common SvcParams (RFC 9460):
// mandatory, alpn, no-default-alpn, port, ipv4hint, ech (as "ech"),
// ipv6hint; others as keyNNN.
func (p *Parser) formatSVCB(msg []byte, off, end int) (int, error) {
	w := &p.sc.result
	if end-off < 3 {
		return off, ErrBadRecord
	}
	w.byte(' ')
	w.uint(uint64(be16(msg[off:])))
	w.byte(' ')
	next, err := readName(msg[:end], off+2, w, true)
	if err != nil {
		return next, ErrBadRecord
	}
	for i := next; i < end; {
		if i+4 > end {
			return i, ErrBadRecord
		}
		key, l := be16(msg[i:]), int(be16(msg[i+2:]))
		v := msg[i+4:]
		if i+4+l > end {
			return i, ErrBadRecord
		}
		v = v[:l]
		i += 4 + l
		w.byte(' ')
		switch key {
		case 0:
			w.str("mandatory=")
			for j := 0; j+1 < len(v); j += 2 {
				if j > 0 {
					w.byte(',')
				}
				w.svcKey(be16(v[j:]))
			}
		case 1:
			w.str("alpn=")
			for j := 0; j < len(v); {
				n := int(v[j])
				if j+1+n > len(v) {
					return i, ErrBadRecord
				}
				if j > 0 {
					w.byte(',')
				}
				w.escaped(v[j+1 : j+1+n])
				j += 1 + n
			}
		case 2:
			w.str("no-default-alpn")
		case 3:
			w.str("port=")
			if len(v) == 2 {
				w.uint(uint64(be16(v)))
			}
		case 4:
			w.str("ipv4hint=")
			for j := 0; j+4 <= len(v); j += 4 {
				if j > 0 {
					w.byte(',')
				}
				var s [16]byte
				w.bytes(netip.AddrFrom4([4]byte(v[j:])).AppendTo(s[:0]))
			}
		case 6:
			w.str("ipv6hint=")
			for j := 0; j+16 <= len(v); j += 16 {
				if j > 0 {
					w.byte(',')
				}
				var s [48]byte
				w.bytes(netip.AddrFrom16([16]byte(v[j:])).AppendTo(s[:0]))
			}
		default:
			w.svcKey(key)
		}
	}
	return 0, nil
}

// readName decodes the name at off. With w non-nil it writes it in
// presentation form ("." for the root; a trailing dot when fq). It returns
// the offset after the name where it started, or the fault's offset and an
// error. Pointers must point strictly before the label sequence holding
// them, and at most maxPointers are followed, so decoding a name costs at
// most 255 octets and maxPointers jumps.
func readName(msg []byte, off int, w *text, fq bool) (int, error) {
	next := -1
	pos, limit := off, off
	wire, labels, hops := 0, 0, 0
	for {
		if pos >= len(msg) {
			return len(msg), ErrTruncated
		}
		l := int(msg[pos])
		switch {
		case l == 0:
			if next < 0 {
				next = pos + 1
			}
			if w != nil && (labels == 0 || fq) {
				w.byte('.')
			}
			return next, nil
		case l&0xc0 == 0xc0:
			if pos+1 >= len(msg) {
				return len(msg), ErrTruncated
			}
			ptr := (l&0x3f)<<8 | int(msg[pos+1])
			if ptr >= limit || hops == maxPointers {
				return pos, ErrBadName
			}
			hops++
			if next < 0 {
				next = pos + 2
			}
			pos, limit = ptr, ptr
		case l > 63:
			return pos, ErrBadName
		default:
			if pos+1+l > len(msg) {
				return len(msg), ErrTruncated
			}
			wire += 1 + l
			if wire >= maxNameWire {
				return pos, ErrBadName
			}
			if w != nil {
				if labels > 0 {
					w.byte('.')
				}
				w.label(msg[pos+1 : pos+1+l])
			}
			labels++
			pos += 1 + l
		}
	}
}

// text is a bounded output buffer over a fixed array: writes past its
// bound are dropped and finish marks the cut with "...".
type text struct {
	b     []byte
	limit int
	full  bool
}

func (t *text) reset(capacity int) {
	t.b = t.b[:0]
	t.limit = capacity - 3
	t.full = false
}

func (t *text) room(n int) bool {
	if t.full || len(t.b)+n > t.limit {
		t.full = true
		return false
	}
	return true
}

func (t *text) byte(c byte) {
	if t.room(1) {
		t.b = append(t.b, c)
	}
}

func (t *text) bytes(s []byte) {
	if t.room(len(s)) {
		t.b = append(t.b, s...)
	}
}

func (t *text) str(s string) {
	if t.room(len(s)) {
		t.b = append(t.b, s...)
	}
}

func (t *text) uint(v uint64) {
	var s [20]byte
	t.bytes(strconv.AppendUint(s[:0], v, 10))
}

func (t *text) svcKey(k uint16) {
	switch k {
	case 0:
		t.str("mandatory")
	case 1:
		t.str("alpn")
	case 2:
		t.str("no-default-alpn")
	case 3:
		t.str("port")
	case 4:
		t.str("ipv4hint")
	case 5:
		t.str("ech")
	case 6:
		t.str("ipv6hint")
	default:
		t.str("key")
		t.uint(uint64(k))
	}
}

// label writes a label, escaping '.', '\' and bytes outside printable
// ASCII.
func (t *text) label(s []byte) {
	for _, c := range s {
		if c == '.' || c == '\\' {
			t.byte('\\')
			t.byte(c)
			continue
		}
		t.esc(c)
	}
}

// escaped writes s with bytes outside printable ASCII as \DDD.
func (t *text) escaped(s []byte) {
	for _, c := range s {
		t.esc(c)
	}
}

// quoted writes s between double quotes, escaping '"' and '\'.
func (t *text) quoted(s []byte) {
	t.byte('"')
	for _, c := range s {
		if c == '"' || c == '\\' {
			t.byte('\\')
			t.byte(c)
			continue
		}
		t.esc(c)
	}
	t.byte('"')
}

func (t *text) esc(c byte) {
	if c >= 0x20 && c < 0x7f {
		t.byte(c)
		return
	}
	if t.room(4) {
		t.b = append(t.b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
	}
}

// finish returns the text, ending in "..." (in the room reset kept for
// it) when something was cut. Call it once per reset.
func (t *text) finish() []byte {
	if t.full {
		t.b = append(t.b, "..."...)
	}
	return t.b
}
