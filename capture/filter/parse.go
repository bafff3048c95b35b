package filter

import (
	"net/netip"
	"strconv"
	"strings"
)

// The parse tree. It does not depend on the link type: offsets are
// resolved when a program is generated for one (gen.go).

type node interface{}

type binNode struct {
	and  bool // and, else or
	a, b node
}
type notNode struct{ a node }
type trueNode struct{}

// Protocol qualifiers (and protocol-name primitives).
type proto uint8

const (
	pNone proto = iota
	pEther
	pIP
	pIP6
	pARP
	pRARP
	pTCP
	pUDP
	pSCTP
	pICMP
	pICMP6
	pIGMP
)

var protoNames = map[string]proto{
	"ether": pEther, "link": pEther, "ip": pIP, "ip6": pIP6, "arp": pARP, "rarp": pRARP,
	"tcp": pTCP, "udp": pUDP, "sctp": pSCTP, "icmp": pICMP, "icmp6": pICMP6, "igmp": pIGMP,
}

// ipProtoNum gives the IP protocol number of the transport qualifiers.
var ipProtoNum = map[proto]uint32{pTCP: 6, pUDP: 17, pSCTP: 132, pICMP: 1, pICMP6: 58, pIGMP: 2}

// Escaped protocol names accepted as ids of "proto" (proto \tcp).
var protoIDs = map[string]uint32{
	"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6": 41, "ip6": 41, "gre": 47, "esp": 50, "ah": 51,
	"icmp6": 58, "ospf": 89, "pim": 103, "vrrp": 112, "sctp": 132,
}

// Escaped names accepted as ids of "ether proto" (ether proto \ip).
var etherNames = map[string]uint32{"ip": 0x0800, "ip6": 0x86dd, "arp": 0x0806, "rarp": 0x8035}

// Directions.
type dir uint8

const (
	dDefault dir = iota // src or dst
	dSrc
	dDst
	dOr
	dAnd
)

// Primitive types.
type ptype uint8

const (
	tyDefault ptype = iota
	tyHost
	tyNet
	tyPort
	tyPortRange
	tyProto
	tyBroadcast
	tyMulticast
)

var typeNames = map[string]ptype{
	"host": tyHost, "net": tyNet, "port": tyPort, "portrange": tyPortRange, "proto": tyProto,
	"broadcast": tyBroadcast, "multicast": tyMulticast,
}

// qual is the qualifier set of a primitive, inherited by bare ids that
// follow it ("host a or b").
type qual struct {
	proto proto
	dir   dir
	typ   ptype
}

type primKind uint8

const (
	kProto      primKind = iota + 1 // ip, tcp, ...: protocol present
	kHost                           // host or net: addr/mask
	kEtherHost                      // ether host
	kPort                           // port or portrange: lo..hi
	kIPProto                        // [ip|ip6] proto N
	kEtherProto                     // ether proto N
	kBroadcast                      // ether broadcast
	kMulticast                      // ether multicast
	kLen                            // less/greater: op and lo
	kVLAN                           // vlan [lo]
)

// prim is one primitive.
type prim struct {
	pos   int    // where it starts, for errors found per link type
	tok   string // its first token
	kind  primKind
	q     qual
	depth int // VLAN tags before it (the "vlan" keywords parsed before this primitive)

	addr, mask netip.Addr // kHost: address and mask, both IPv4 or both IPv6
	mac        [6]byte    // kEtherHost
	lo, hi     uint32     // kPort range, kIPProto/kEtherProto/kVLAN number, kLen value
	hasID      bool       // kVLAN: lo is a VLAN id
	less       bool       // kLen: less (else greater)
}

// Arithmetic (the operands of relations such as tcp[13] & 2 != 0).

type arith interface{}

type numArith struct{ v uint32 }
type lenArith struct{}
type loadArith struct {
	proto proto
	off   arith
	size  int // 1, 2 or 4
	depth int
	pos   int
	tok   string
}
type binArith struct {
	op   tokKind // tPlus ... tShr
	a, b arith
}
type negArith struct{ a arith }

// relation compares two arithmetic expressions.
type relation struct {
	op   tokKind // tEq ... tGe
	a, b arith
}

// Named constants usable in arithmetic expressions.
var arithConsts = map[string]uint32{
	"tcpflags": 13, "icmptype": 0, "icmpcode": 1, "icmp6type": 0, "icmp6code": 1,
	"tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08, "tcp-ack": 0x10,
	"tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
	"icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
	"icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
	"icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133, "icmp6-routeradvert": 134,
	"icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
}

// Service names accepted as ports (a fixed table: no /etc/services).
var services = map[string]uint32{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "bootps": 67,
	"bootpc": 68, "tftp": 69, "http": 80, "www": 80, "kerberos": 88, "pop3": 110, "sunrpc": 111,
	"ntp": 123, "netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139, "imap": 143,
	"snmp": 161, "snmp-trap": 162, "bgp": 179, "ldap": 389, "https": 443, "microsoft-ds": 445,
	"syslog": 514, "submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995,
	"mysql": 3306, "postgresql": 5432, "redis": 6379, "http-alt": 8080,
}

// keywords may not be used as bare ids.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "host": true, "net": true, "port": true,
	"portrange": true, "src": true, "dst": true, "proto": true, "vlan": true, "less": true,
	"greater": true, "len": true, "mask": true, "broadcast": true, "multicast": true,
	"gateway": true,
}

type parser struct {
	toks  []token
	i     int
	depth int   // VLAN tags so far
	last  *qual // qualifiers a bare id inherits; nil when none
	nest  int   // nesting of not, parentheses and unary minus
}

// maxNesting bounds the recursion of the parser (and of everything that
// walks the tree it builds).
const maxNesting = 200

func (p *parser) enter() error {
	if p.nest++; p.nest > maxNesting {
		t := p.peek()
		return p.errAt(t, "expression nested too deeply")
	}
	return nil
}

// parse parses a whole expression. An empty expression matches everything.
func parse(expr string) (node, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return trueNode{}, nil
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "expected and, or or the end of the expression")
	}
	return n, nil
}

func (p *parser) peek() token       { return p.toks[p.i] }
func (p *parser) peekN(n int) token { return p.toks[min(p.i+n, len(p.toks)-1)] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, msg string) error {
	return &SyntaxError{Pos: t.pos, Token: t.text, Msg: msg}
}

func isWord(t token, w string) bool { return t.kind == tWord && !t.escaped && t.text == w }

func (p *parser) isAnd() bool { t := p.peek(); return t.kind == tAndAnd || isWord(t, "and") }
func (p *parser) isOr() bool  { t := p.peek(); return t.kind == tOrOr || isWord(t, "or") }
func (p *parser) isNot() bool { t := p.peek(); return t.kind == tNot || isWord(t, "not") }

// expr: term { (and|or) term }, left-associative, and and or of equal
// precedence as in pcap.
func (p *parser) expr() (node, error) {
	n, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		and := p.isAnd()
		if !and && !p.isOr() {
			return n, nil
		}
		p.next()
		m, err := p.term()
		if err != nil {
			return nil, err
		}
		n = binNode{and, n, m}
	}
}

// term: not term | ( expr ) | relation | primitive | bare id.
func (p *parser) term() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.nest-- }()
	t := p.peek()
	if p.isNot() {
		p.next()
		n, err := p.term()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	if p.startsArith() {
		save, saveDepth := p.i, p.depth
		if n, err := p.relation(); err == nil {
			p.last = nil
			return n, nil
		} else if t.kind != tLParen {
			return nil, err
		}
		p.i, p.depth = save, saveDepth
	}
	if t.kind == tLParen {
		p.next()
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errAt(c, "expected )")
		}
		p.last = nil
		return n, nil
	}
	if t.kind != tWord {
		return nil, p.errAt(t, "expected primitive")
	}
	if !t.escaped {
		switch t.text {
		case "less", "greater":
			p.next()
			v, err := p.number()
			if err != nil {
				return nil, err
			}
			p.last = nil
			return &prim{pos: t.pos, tok: t.text, kind: kLen, lo: v, less: t.text == "less"}, nil
		case "vlan":
			p.next()
			pr := &prim{pos: t.pos, tok: t.text, kind: kVLAN, depth: p.depth}
			if n := p.peek(); n.kind == tWord && isNumber(n.text) {
				v, err := p.number()
				if err != nil {
					return nil, err
				}
				if v > 4095 {
					return nil, p.errAt(n, "VLAN id out of range 0-4095")
				}
				pr.lo, pr.hasID = v, true
			}
			p.depth++
			p.last = nil
			return pr, nil
		}
	}
	if _, ok := protoNames[t.text]; ok && !t.escaped {
		return p.primitive()
	}
	switch t.text {
	case "src", "dst", "host", "net", "port", "portrange", "proto", "broadcast", "multicast":
		if !t.escaped {
			return p.primitive()
		}
	}
	if p.last != nil && !keywords[t.text] {
		return p.id(*p.last, t)
	}
	return nil, p.errAt(t, "expected primitive")
}

// primitive: [proto] [dir] [type] [id].
func (p *parser) primitive() (node, error) {
	first := p.peek()
	var q qual
	if pr, ok := protoNames[first.text]; ok {
		p.next()
		q.proto = pr
		if p.peek().kind == tLBrack {
			p.i--
			return nil, p.errAt(first, "expected relation")
		}
	}
	t := p.peek()
	switch {
	case isWord(t, "src") || isWord(t, "dst"):
		p.next()
		q.dir = dSrc
		if t.text == "dst" {
			q.dir = dDst
		}
		// "src or dst" and "src and dst" are directions, not operators.
		if n1, n2 := p.peek(), p.peekN(1); (isWord(n1, "or") || isWord(n1, "and")) && (isWord(n2, "src") || isWord(n2, "dst")) && n2.text != t.text {
			p.next()
			p.next()
			q.dir = dOr
			if n1.text == "and" {
				q.dir = dAnd
			}
		}
	}
	t = p.peek()
	if t.kind == tWord && !t.escaped {
		if t.text == "gateway" {
			return nil, p.errAt(t, "gateway needs host name resolution, which this package does not do")
		}
		q.typ = typeNames[t.text]
		if q.typ != tyDefault {
			p.next()
		}
	}
	switch q.typ {
	case tyBroadcast, tyMulticast:
		if q.dir != dDefault || (q.proto != pNone && q.proto != pEther) {
			return nil, p.errAt(first, "only ether broadcast and ether multicast are supported")
		}
		p.last = nil
		k := kBroadcast
		if q.typ == tyMulticast {
			k = kMulticast
		}
		return &prim{pos: first.pos, tok: first.text, kind: k, q: q, depth: p.depth}, nil
	case tyDefault:
		if q.dir == dDefault {
			if q.proto == pNone {
				return nil, p.errAt(t, "expected primitive")
			}
			// A protocol name alone.
			p.last = nil
			return &prim{pos: first.pos, tok: first.text, kind: kProto, q: q, depth: p.depth}, nil
		}
	}
	// An id (or a parenthesised list of ids) must follow.
	if t := p.peek(); t.kind == tLParen {
		p.next()
		n, err := p.idList(q)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errAt(c, "expected )")
		}
		p.last = nil
		return n, nil
	}
	t = p.peek()
	if t.kind != tWord || (keywords[t.text] && !t.escaped) {
		return nil, p.errAt(t, "expected address, number or name")
	}
	n, err := p.id(q, t)
	if err != nil {
		return nil, err
	}
	p.last = &q
	return n, nil
}

// idList: id { (and|or) id } inside "host (a or b)".
func (p *parser) idList(q qual) (node, error) {
	t := p.peek()
	if t.kind != tWord {
		return nil, p.errAt(t, "expected address, number or name")
	}
	n, err := p.id(q, t)
	if err != nil {
		return nil, err
	}
	for p.isAnd() || p.isOr() {
		and := p.isAnd()
		p.next()
		t := p.peek()
		if t.kind != tWord {
			return nil, p.errAt(t, "expected address, number or name")
		}
		m, err := p.id(q, t)
		if err != nil {
			return nil, err
		}
		n = binNode{and, n, m}
	}
	return n, nil
}

// id parses the id of a primitive with qualifiers q, starting at token t.
func (p *parser) id(q qual, t token) (node, error) {
	p.next()
	pr := &prim{pos: t.pos, tok: t.text, q: q, depth: p.depth}
	switch q.typ {
	case tyProto:
		if q.proto == pEther {
			n, ok := etherNames[t.text]
			if !t.escaped || !ok {
				var err error
				n, err = parseNumber(t.text)
				if t.escaped || !isNumber(t.text) || err != nil || n > 0xffff {
					return nil, p.errAt(t, "expected ethertype 0-0xffff or \\ip, \\ip6, \\arp, \\rarp")
				}
			}
			pr.kind, pr.lo = kEtherProto, n
			return pr, nil
		}
		if q.proto != pNone && q.proto != pIP && q.proto != pIP6 {
			return nil, p.errAt(t, "proto takes only the ip, ip6 or ether qualifier")
		}
		v, ok := protoIDs[t.text]
		if _, kw := protoNames[t.text]; kw && !t.escaped {
			return nil, p.errAt(t, "protocol names that are keywords must be escaped: \\"+t.text)
		}
		if !t.escaped && isNumber(t.text) {
			n, err := parseNumber(t.text)
			if err != nil || n > 255 {
				return nil, p.errAt(t, "expected protocol number 0-255")
			}
			v, ok = n, true
		}
		if !ok {
			return nil, p.errAt(t, "expected protocol number or name such as \\tcp")
		}
		pr.kind, pr.lo = kIPProto, v
		return pr, nil
	case tyPort, tyPortRange:
		switch q.proto {
		case pNone, pTCP, pUDP, pSCTP:
		default:
			return nil, p.errAt(t, "port takes only the tcp, udp or sctp qualifier")
		}
		pr.kind = kPort
		if q.typ == tyPort {
			v, err := portNumber(t.text)
			if err != nil {
				return nil, p.errAt(t, err.Error())
			}
			pr.lo, pr.hi = v, v
			return pr, nil
		}
		a, b, ok := strings.Cut(t.text, "-")
		if !ok {
			return nil, p.errAt(t, "expected port range a-b")
		}
		lo, err := portNumber(a)
		if err != nil {
			return nil, p.errAt(t, err.Error())
		}
		hi, err := portNumber(b)
		if err != nil {
			return nil, p.errAt(t, err.Error())
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		pr.lo, pr.hi = lo, hi
		return pr, nil
	}
	// host, net, or an address with a direction only.
	if q.proto == pEther {
		if q.typ == tyNet {
			return nil, p.errAt(t, "ether net is not a thing; use ether host")
		}
		mac, ok := parseMAC(t.text)
		if !ok {
			return nil, p.errAt(t, "expected MAC address")
		}
		pr.kind, pr.mac = kEtherHost, mac
		return pr, nil
	}
	switch q.proto {
	case pNone, pIP, pIP6, pARP, pRARP:
	default:
		return nil, p.errAt(t, "host and net take only the ip, ip6, arp, rarp or ether qualifier")
	}
	pr.kind = kHost
	if q.typ == tyNet {
		addr, bits, err := p.netID(t)
		if err != nil {
			return nil, err
		}
		pr.addr, pr.mask = addr, maskOf(addr, bits)
		if masked := andAddr(addr, pr.mask); masked != addr {
			return nil, p.errAt(t, "non-network bits set in address")
		}
	} else {
		addr, err := netip.ParseAddr(t.text)
		if err != nil || addr.Zone() != "" {
			if _, ok := parseMAC(t.text); ok && q.proto == pNone {
				pr.kind = kEtherHost
				pr.mac, _ = parseMAC(t.text)
				return pr, nil
			}
			if isName(t.text) {
				return nil, p.errAt(t, "host names are not resolved; use an address")
			}
			return nil, p.errAt(t, "expected IPv4 or IPv6 address")
		}
		addr = addr.Unmap()
		if p.peek().kind == tSlash || isWord(p.peek(), "mask") {
			return nil, p.errAt(p.peek(), "mask syntax is for networks only (use net)")
		}
		pr.addr, pr.mask = addr, maskOf(addr, addr.BitLen())
	}
	if pr.addr.Is4() && q.proto == pIP6 {
		return nil, p.errAt(t, "ip6 qualifier applied to an IPv4 address")
	}
	if pr.addr.Is6() && (q.proto == pIP || q.proto == pARP || q.proto == pRARP) {
		return nil, p.errAt(t, "IPv4 qualifier applied to an IPv6 address")
	}
	return pr, nil
}

// netID parses the id of "net": a.b.c.d/len, a partial dotted quad (a,
// a.b, a.b.c: 8, 16 or 24 bits), "a.b.c.d mask m.m.m.m", or v6/len.
func (p *parser) netID(t token) (netip.Addr, int, error) {
	var addr netip.Addr
	bits := -1
	if a, err := netip.ParseAddr(t.text); err == nil && a.Zone() == "" {
		addr = a.Unmap()
		bits = addr.BitLen()
	} else if parts := strings.Split(t.text, "."); len(parts) <= 3 && allNumbers(parts) {
		var b [4]byte
		for i, s := range parts {
			v, err := strconv.ParseUint(s, 10, 8)
			if err != nil {
				return addr, 0, p.errAt(t, "expected network address")
			}
			b[i] = byte(v)
		}
		addr, bits = netip.AddrFrom4(b), 8*len(parts)
	} else {
		if isName(t.text) {
			return addr, 0, p.errAt(t, "network names are not resolved; use an address")
		}
		return addr, 0, p.errAt(t, "expected network address")
	}
	switch n := p.peek(); {
	case n.kind == tSlash:
		p.next()
		l := p.next()
		v, err := strconv.Atoi(l.text)
		if l.kind != tWord || err != nil || v < 0 || v > addr.BitLen() {
			return addr, 0, p.errAt(l, "expected prefix length")
		}
		bits = v
	case isWord(n, "mask"):
		p.next()
		m := p.next()
		ma, err := netip.ParseAddr(m.text)
		if m.kind != tWord || err != nil || !ma.Is4() || !addr.Is4() {
			return addr, 0, p.errAt(m, "expected IPv4 mask")
		}
		b := ma.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		ones := 0
		for v&0x80000000 != 0 {
			ones++
			v <<= 1
		}
		if v != 0 {
			return addr, 0, p.errAt(m, "mask is not contiguous")
		}
		bits = ones
	}
	return addr, bits, nil
}

// relation: arith relop arith.
func (p *parser) relation() (node, error) {
	a, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	op := p.next()
	switch op.kind {
	case tEq, tNe, tLt, tLe, tGt, tGe:
	default:
		return nil, p.errAt(op, "expected comparison operator")
	}
	b, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	return &relation{op: op.kind, a: a, b: b}, nil
}

// startsArith reports whether the next tokens can only start an
// arithmetic expression, or might ("(").
func (p *parser) startsArith() bool {
	t := p.peek()
	switch t.kind {
	case tLParen, tMinus:
		return true
	case tWord:
		if t.escaped {
			return false
		}
		if isWord(t, "len") || isNumber(t.text) && p.peekN(1).kind >= tPlus {
			return true
		}
		if _, ok := arithConsts[t.text]; ok && p.peekN(1).kind >= tPlus {
			return true
		}
		if _, ok := protoNames[t.text]; ok && p.peekN(1).kind == tLBrack {
			return true
		}
	}
	return false
}

// Binary operator precedence, lowest first: | ^ & << >> + - * / %.
func arithPrec(k tokKind) int {
	switch k {
	case tPipe:
		return 1
	case tCaret:
		return 2
	case tAmp:
		return 3
	case tShl, tShr:
		return 4
	case tPlus, tMinus:
		return 5
	case tStar, tSlash, tPercent:
		return 6
	}
	return 0
}

// arith parses a binary expression whose operators bind tighter than
// minPrec.
func (p *parser) arith(minPrec int) (arith, error) {
	a, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		prec := arithPrec(op.kind)
		if prec == 0 || prec <= minPrec {
			return a, nil
		}
		p.next()
		b, err := p.arith(prec)
		if err != nil {
			return nil, err
		}
		if n, ok := b.(numArith); ok && n.v == 0 && (op.kind == tSlash || op.kind == tPercent) {
			return nil, p.errAt(op, "division by zero")
		}
		a = binArith{op: op.kind, a: a, b: b}
	}
}

func (p *parser) unary() (arith, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.nest-- }()
	t := p.next()
	switch t.kind {
	case tMinus:
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return negArith{a}, nil
	case tLParen:
		a, err := p.arith(0)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errAt(c, "expected )")
		}
		return a, nil
	case tWord:
		if t.escaped {
			break
		}
		if t.text == "len" {
			return lenArith{}, nil
		}
		if v, ok := arithConsts[t.text]; ok {
			return numArith{v}, nil
		}
		if isNumber(t.text) {
			v, err := parseNumber(t.text)
			if err != nil {
				return nil, p.errAt(t, "number out of range")
			}
			return numArith{v}, nil
		}
		pr, ok := protoNames[t.text]
		if !ok || p.peek().kind != tLBrack {
			break
		}
		p.next()
		off, err := p.arith(0)
		if err != nil {
			return nil, err
		}
		size := 1
		if p.peek().kind == tColon {
			p.next()
			s := p.next()
			switch s.text {
			case "1", "2", "4":
				size = int(s.text[0] - '0')
			default:
				return nil, p.errAt(s, "expected size 1, 2 or 4")
			}
		}
		if c := p.next(); c.kind != tRBrack {
			return nil, p.errAt(c, "expected ]")
		}
		return &loadArith{proto: pr, off: off, size: size, depth: p.depth, pos: t.pos, tok: t.text}, nil
	}
	return nil, p.errAt(t, "expected arithmetic expression")
}

func (p *parser) number() (uint32, error) {
	t := p.next()
	if t.kind != tWord || !isNumber(t.text) {
		return 0, p.errAt(t, "expected number")
	}
	v, err := parseNumber(t.text)
	if err != nil {
		return 0, p.errAt(t, "number out of range")
	}
	return v, nil
}

// isNumber reports whether s is a decimal, 0x hexadecimal or 0 octal
// number, as pcap writes them.
func isNumber(s string) bool {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return false
	}
	_, err := parseNumber(s)
	return err == nil || strings.Contains(err.Error(), "range")
}

func parseNumber(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 0, 32)
	return uint32(v), err
}

func allNumbers(parts []string) bool {
	for _, s := range parts {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return false
		}
	}
	return true
}

func isName(s string) bool {
	return s != "" && strings.Trim(s, "0123456789.:") != "" && !strings.Contains(s, ":")
}

func portNumber(s string) (uint32, error) {
	if isNumber(s) {
		v, err := parseNumber(s)
		if err != nil || v > 65535 {
			return 0, errPortRange
		}
		return v, nil
	}
	if v, ok := services[s]; ok {
		return v, nil
	}
	return 0, errUnknownPort
}

type parseErr string

func (e parseErr) Error() string { return string(e) }

const (
	errPortRange   = parseErr("port out of range 0-65535")
	errUnknownPort = parseErr("unknown port name")
)

// parseMAC parses xx:xx:xx:xx:xx:xx, xx-xx-..., or xxxx.xxxx.xxxx.
func parseMAC(s string) ([6]byte, bool) {
	var mac [6]byte
	var digits []byte
	switch {
	case strings.Count(s, ":") == 5, strings.Count(s, "-") == 5:
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' }) {
			if len(part) == 1 {
				part = "0" + part
			}
			digits = append(digits, part...)
		}
	case strings.Count(s, ".") == 2:
		for _, part := range strings.Split(s, ".") {
			if len(part) != 4 {
				return mac, false
			}
			digits = append(digits, part...)
		}
	default:
		return mac, false
	}
	if len(digits) != 12 {
		return mac, false
	}
	for i := range mac {
		v, err := strconv.ParseUint(string(digits[2*i:2*i+2]), 16, 8)
		if err != nil {
			return mac, false
		}
		mac[i] = byte(v)
	}
	return mac, true
}

// maskOf returns the mask of the first bits bits, in addr's family.
func maskOf(addr netip.Addr, bits int) netip.Addr {
	var b [16]byte
	for i := 0; i < bits; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	if addr.Is4() {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

func andAddr(a, m netip.Addr) netip.Addr {
	x, y := a.As16(), m.As16()
	if a.Is4() {
		y = netip.AddrFrom4(m.As4()).As16()
		for i := 0; i < 12; i++ {
			y[i] = 0xff
		}
	}
	for i := range x {
		x[i] &= y[i]
	}
	r := netip.AddrFrom16(x)
	if a.Is4() {
		return r.Unmap()
	}
	return r
}
