package filter

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"slices"

	"github.com/metaflow-go/metaflow/capture"
)

// The generator turns the parse tree into conditions for one link type:
// a tree of and/or/not over leaf tests (a few straight-line instructions
// that leave a value in A, then one conditional jump). Leaves follow the
// order of libpcap's gencode so that a load beyond the captured data,
// which rejects the packet, happens where it happens in tcpdump's
// programs.

type cond interface{}

type cConst bool
type cAnd struct{ a, b cond }
type cOr struct{ a, b cond }
type cNot struct{ a cond }
type cTest struct {
	pre []ins  // computes A (and maybe X)
	jop uint16 // jEq, jGt, jGe or jSet, with srcK or srcX
	k   uint32
}

func and(a, b cond) cond {
	if x, ok := a.(cConst); ok {
		if !x {
			return cConst(false)
		}
		return b
	}
	if y, ok := b.(cConst); ok {
		if !y {
			return cConst(false)
		}
		return a
	}
	return cAnd{a, b}
}

func or(a, b cond) cond {
	if x, ok := a.(cConst); ok {
		if x {
			return cConst(true)
		}
		return b
	}
	if y, ok := b.(cConst); ok {
		if y {
			return cConst(true)
		}
		return a
	}
	return cOr{a, b}
}

func not(a cond) cond {
	if x, ok := a.(cConst); ok {
		return !x
	}
	return cNot{a}
}

func ors(cs ...cond) cond {
	r := cond(cConst(false))
	for _, c := range cs {
		r = or(r, c)
	}
	return r
}

func ands(cs ...cond) cond {
	r := cond(cConst(true))
	for _, c := range cs {
		r = and(r, c)
	}
	return r
}

// Leaf helpers.

func ldAbs(size int, off uint32) ins { return ins{op: opLD | sizeCode(size) | modeABS, k: off} }
func ldInd(size int, off uint32) ins { return ins{op: opLD | sizeCode(size) | modeIND, k: off} }
func ldxMSH(off uint32) ins          { return ins{op: opLDX | sizeB | modeMSH, k: off} }

func sizeCode(size int) uint16 {
	switch size {
	case 1:
		return sizeB
	case 2:
		return sizeH
	}
	return sizeW
}

// test compares the value loaded by pre (optionally masked) with k.
func test(jop uint16, k uint32, pre ...ins) cond {
	return cTest{pre: pre, jop: jop | srcK, k: k}
}

func eqAbs(size int, off, k uint32) cond { return test(jEq, k, ldAbs(size, off)) }

func maskedEqAbs(size int, off, mask, k uint32) cond {
	if mask == 0 {
		return cConst(true)
	}
	full := uint32(0xffffffff) >> (32 - 8*size)
	if mask == full {
		return eqAbs(size, off, k)
	}
	return test(jEq, k, ldAbs(size, off), ins{op: opALU | aluAND | srcK, k: mask})
}

// linkInfo says where the network layer starts and how the network
// protocol is told on one link type.
type linkInfo struct {
	lt capture.LinkType
	nl uint32 // offset of the network layer with no VLAN tags
}

type gen struct {
	link    linkInfo
	scratch int // scratch memory slots in use
}

// Link types a filter can be compiled for.
var links = [...]linkInfo{
	{capture.LinkEthernet, 14},
	{capture.LinkLinuxSLL, 16},
	{capture.LinkLinuxSLL2, 20},
	{capture.LinkNull, 4},
	{capture.LinkLoop, 4},
	{capture.LinkRaw, 0},
	{capture.LinkIPv4, 0},
	{capture.LinkIPv6, 0},
}

func linkIndex(lt capture.LinkType) int {
	for i, l := range links {
		if l.lt == lt {
			return i
		}
	}
	return -1
}

const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherRARP = 0x8035
	etherIPv6 = 0x86dd
)

// nl returns the network-layer offset below depth VLAN tags.
func (g *gen) nl(depth int) uint32 { return g.link.nl + 4*uint32(depth) }

// llProto tests that the network protocol is ethertype et.
func (g *gen) llProto(et uint32, depth int) cond {
	switch g.link.lt {
	case capture.LinkEthernet:
		return eqAbs(2, 12+4*uint32(depth), et)
	case capture.LinkLinuxSLL:
		return eqAbs(2, 14, et)
	case capture.LinkLinuxSLL2:
		return eqAbs(2, 0, et)
	case capture.LinkNull, capture.LinkLoop:
		// A 32-bit address family: host byte order of the capturing
		// machine for NULL (both orders are tried: families are small),
		// network order for LOOP. IPv6 has a different value per BSD.
		var fams []uint32
		switch et {
		case etherIPv4:
			fams = []uint32{2}
		case etherIPv6:
			fams = []uint32{30, 24, 28}
		default:
			return cConst(false)
		}
		var c cond = cConst(false)
		for _, f := range fams {
			c = or(c, eqAbs(4, 0, f))
			if g.link.lt == capture.LinkNull {
				c = or(c, eqAbs(4, 0, swap32(f)))
			}
		}
		return c
	case capture.LinkRaw:
		switch et {
		case etherIPv4:
			return test(jEq, 0x40, ldAbs(1, 0), ins{op: opALU | aluAND | srcK, k: 0xf0})
		case etherIPv6:
			return test(jEq, 0x60, ldAbs(1, 0), ins{op: opALU | aluAND | srcK, k: 0xf0})
		}
		return cConst(false)
	case capture.LinkIPv4:
		return cConst(et == etherIPv4)
	case capture.LinkIPv6:
		return cConst(et == etherIPv6)
	}
	return cConst(false)
}

func swap32(v uint32) uint32 {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return binary.LittleEndian.Uint32(b[:])
}

// ipProto: IPv4 with protocol p.
func (g *gen) ipProto(p uint32, depth int) cond {
	return and(g.llProto(etherIPv4, depth), eqAbs(1, g.nl(depth)+9, p))
}

// ip6Proto: IPv6 with next header p, directly or after a fragment header.
func (g *gen) ip6Proto(p uint32, depth int) cond {
	nl := g.nl(depth)
	return and(g.llProto(etherIPv6, depth), or(eqAbs(1, nl+6, p),
		and(eqAbs(1, nl+6, 44), eqAbs(1, nl+40, p))))
}

// notFragment: an IPv4 packet that is the first fragment or no fragment.
func (g *gen) notFragment(depth int) cond {
	return not(test(jSet, 0x1fff, ldAbs(2, g.nl(depth)+6)))
}

func (g *gen) errorf(pr *prim, format string, args ...any) error {
	return &SyntaxError{Pos: pr.pos, Token: pr.tok, Msg: fmt.Sprintf(format, args...)}
}

// node generates the condition of a parse tree.
func (g *gen) node(n node) (cond, error) {
	switch n := n.(type) {
	case trueNode:
		return cConst(true), nil
	case binNode:
		a, err := g.node(n.a)
		if err != nil {
			return nil, err
		}
		b, err := g.node(n.b)
		if err != nil {
			return nil, err
		}
		if n.and {
			return and(a, b), nil
		}
		return or(a, b), nil
	case notNode:
		a, err := g.node(n.a)
		if err != nil {
			return nil, err
		}
		return not(a), nil
	case *prim:
		return g.prim(n)
	case *relation:
		return g.relation(n)
	}
	panic(fmt.Sprintf("filter: unknown node %T", n))
}

func (g *gen) isEthernet() bool { return g.link.lt == capture.LinkEthernet }

func (g *gen) prim(pr *prim) (cond, error) {
	d := pr.depth
	switch pr.kind {
	case kProto:
		switch pr.q.proto {
		case pIP:
			return g.llProto(etherIPv4, d), nil
		case pIP6:
			return g.llProto(etherIPv6, d), nil
		case pARP:
			return g.llProto(etherARP, d), nil
		case pRARP:
			return g.llProto(etherRARP, d), nil
		case pTCP, pUDP, pSCTP:
			p := ipProtoNum[pr.q.proto]
			return or(g.ipProto(p, d), g.ip6Proto(p, d)), nil
		case pICMP, pIGMP:
			return g.ipProto(ipProtoNum[pr.q.proto], d), nil
		case pICMP6:
			return g.ip6Proto(58, d), nil
		}
		return nil, g.errorf(pr, "expected a qualifier after %s", pr.tok)
	case kIPProto:
		switch pr.q.proto {
		case pIP:
			return g.ipProto(pr.lo, d), nil
		case pIP6:
			return g.ip6Proto(pr.lo, d), nil
		}
		return or(g.ipProto(pr.lo, d), g.ip6Proto(pr.lo, d)), nil
	case kEtherProto:
		return g.llProto(pr.lo, d), nil
	case kHost:
		return g.host(pr), nil
	case kEtherHost, kBroadcast, kMulticast:
		if !g.isEthernet() {
			return nil, g.errorf(pr, "Ethernet addresses on link type %v", g.link.lt)
		}
		switch pr.kind {
		case kBroadcast:
			return and(eqAbs(4, 2, 0xffffffff), eqAbs(2, 0, 0xffff)), nil
		case kMulticast:
			return test(jSet, 1, ldAbs(1, 0)), nil
		}
		m := pr.mac
		hi := uint32(m[0])<<8 | uint32(m[1])
		lo := binary.BigEndian.Uint32(m[2:])
		src := and(eqAbs(4, 8, lo), eqAbs(2, 6, hi))
		dst := and(eqAbs(4, 2, lo), eqAbs(2, 0, hi))
		return direction(pr.q.dir, src, dst), nil
	case kLen:
		if pr.less {
			return not(test(jGt, pr.lo, ins{op: opLD | sizeW | modeLEN})), nil
		}
		return test(jGe, pr.lo, ins{op: opLD | sizeW | modeLEN}), nil
	case kVLAN:
		if !g.isEthernet() {
			return nil, g.errorf(pr, "no VLAN support for link type %v", g.link.lt)
		}
		off := 12 + 4*uint32(d)
		c := ors(eqAbs(2, off, 0x8100), eqAbs(2, off, 0x88a8), eqAbs(2, off, 0x9100))
		if pr.hasID {
			c = and(c, maskedEqAbs(2, off+2, 0x0fff, pr.lo))
		}
		return c, nil
	case kPort:
		return g.port(pr), nil
	}
	panic(fmt.Sprintf("filter: unknown primitive kind %d", pr.kind))
}

func direction(d dir, src, dst cond) cond {
	switch d {
	case dSrc:
		return src
	case dDst:
		return dst
	case dAnd:
		return and(src, dst)
	}
	return or(src, dst)
}

// addrTest compares the address at off with pr's address under its mask,
// 32 bits at a time.
func addrTest(off uint32, addr, mask netip.Addr) cond {
	a, m := addr.AsSlice(), mask.AsSlice()
	var c cond = cConst(true)
	for i := 0; i < len(a); i += 4 {
		c = and(c, maskedEqAbs(4, off+uint32(i), binary.BigEndian.Uint32(m[i:]), binary.BigEndian.Uint32(a[i:])))
	}
	return c
}

func (g *gen) host(pr *prim) cond {
	d, nl := pr.depth, g.nl(pr.depth)
	if pr.addr.Is6() {
		return and(g.llProto(etherIPv6, d),
			direction(pr.q.dir, addrTest(nl+8, pr.addr, pr.mask), addrTest(nl+24, pr.addr, pr.mask)))
	}
	ip := and(g.llProto(etherIPv4, d),
		direction(pr.q.dir, addrTest(nl+12, pr.addr, pr.mask), addrTest(nl+16, pr.addr, pr.mask)))
	arpAddrs := direction(pr.q.dir, addrTest(nl+14, pr.addr, pr.mask), addrTest(nl+24, pr.addr, pr.mask))
	switch pr.q.proto {
	case pIP:
		return ip
	case pARP:
		return and(g.llProto(etherARP, d), arpAddrs)
	case pRARP:
		return and(g.llProto(etherRARP, d), arpAddrs)
	}
	return or(ip, and(or(g.llProto(etherARP, d), g.llProto(etherRARP, d)), arpAddrs))
}

// port: TCP, UDP or SCTP port (range) over IPv6 (no extension headers,
// as in pcap) or over unfragmented IPv4 or a first fragment.
func (g *gen) port(pr *prim) cond {
	d, nl := pr.depth, g.nl(pr.depth)
	protos := []uint32{132, 6, 17}
	if p, ok := ipProtoNum[pr.q.proto]; ok {
		protos = []uint32{p}
	}
	inSet := func(off uint32) cond {
		var c cond = cConst(false)
		for _, p := range protos {
			c = or(c, eqAbs(1, off, p))
		}
		return c
	}
	portIs := func(load ins) cond {
		if pr.lo == pr.hi {
			return test(jEq, pr.lo, load)
		}
		return and(test(jGe, pr.lo, load), not(test(jGt, pr.hi, load)))
	}
	ip6 := and(g.llProto(etherIPv6, d), and(inSet(nl+6),
		direction(pr.q.dir, portIs(ldAbs(2, nl+40)), portIs(ldAbs(2, nl+42)))))
	// The transport header follows the IPv4 options: X = 4 * IHL.
	ind := func(off uint32) cond { return withX(portIs(ldInd(2, nl+off)), nl) }
	ip := and(g.llProto(etherIPv4, d), ands(inSet(nl+9), g.notFragment(d),
		direction(pr.q.dir, ind(0), ind(2))))
	return or(ip6, ip)
}

// withX prefixes the leaf tests of c with a load of the IPv4 header length
// into X.
func withX(c cond, nl uint32) cond {
	switch c := c.(type) {
	case cTest:
		c.pre = append([]ins{ldxMSH(nl)}, c.pre...)
		return c
	case cNot:
		return cNot{withX(c.a, nl)}
	case cAnd:
		return cAnd{withX(c.a, nl), withX(c.b, nl)}
	case cOr:
		return cOr{withX(c.a, nl), withX(c.b, nl)}
	}
	return c
}

// relation generates a comparison of packet data: the protocol conditions
// of its loads, in order, then the comparison.
func (g *gen) relation(r *relation) (cond, error) {
	var conds []cond
	g.scratch = 0
	b, err := g.arith(r.b, &conds)
	if err != nil {
		return nil, err
	}
	k, bConst := constOf(b)
	slot := uint32(g.scratch)
	if !bConst {
		if slot >= 16 {
			return nil, &SyntaxError{Pos: -1, Msg: "expression too complex (scratch memory)"}
		}
		g.scratch++
	}
	a, err := g.arith(r.a, &conds)
	if err != nil {
		return nil, err
	}
	var jop uint16
	negate := false
	switch r.op {
	case tEq:
		jop = jEq
	case tNe:
		jop, negate = jEq, true
	case tGt:
		jop = jGt
	case tGe:
		jop = jGe
	case tLt:
		jop, negate = jGe, true
	case tLe:
		jop, negate = jGt, true
	}
	var t cTest
	if bConst {
		t = cTest{pre: a, jop: jop | srcK, k: k}
	} else {
		pre := append(append(b, ins{op: opST, k: slot}), a...)
		t = cTest{pre: append(pre, ins{op: opLDX | modeMEM, k: slot}), jop: jop | srcX}
	}
	var c cond = t
	if negate {
		c = cNot{t}
	}
	// A protocol loaded from twice is tested once.
	var uniq []cond
	for _, x := range conds {
		if !slices.ContainsFunc(uniq, func(y cond) bool { return reflect.DeepEqual(x, y) }) {
			uniq = append(uniq, x)
		}
	}
	return ands(append(uniq, c)...), nil
}

// constOf reports the constant a straight-line computation loads, if it
// is just "ld #k".
func constOf(code []ins) (uint32, bool) {
	if len(code) == 1 && code[0].op == opLD|modeIMM {
		return code[0].k, true
	}
	return 0, false
}

// arith returns code leaving the value of e in A, and appends the
// protocol conditions of its loads to conds. It uses scratch slots from
// g.scratch up.
func (g *gen) arith(e arith, conds *[]cond) ([]ins, error) {
	if v, ok := fold(e); ok {
		return []ins{{op: opLD | modeIMM, k: v}}, nil
	}
	switch e := e.(type) {
	case lenArith:
		return []ins{{op: opLD | sizeW | modeLEN}}, nil
	case negArith:
		a, err := g.arith(e.a, conds)
		if err != nil {
			return nil, err
		}
		return append(a, ins{op: opALU | aluNEG}), nil
	case binArith:
		op := aluOps[e.op]
		b, err := g.arith(e.b, conds)
		if err != nil {
			return nil, err
		}
		if k, ok := constOf(b); ok {
			a, err := g.arith(e.a, conds)
			if err != nil {
				return nil, err
			}
			return append(a, ins{op: opALU | op | srcK, k: k}), nil
		}
		slot := uint32(g.scratch)
		if slot >= 16 {
			return nil, &SyntaxError{Pos: -1, Msg: "expression too complex (scratch memory)"}
		}
		g.scratch++
		a, err := g.arith(e.a, conds)
		g.scratch--
		if err != nil {
			return nil, err
		}
		code := append(b, ins{op: opST, k: slot})
		code = append(code, a...)
		return append(code, ins{op: opLDX | modeMEM, k: slot}, ins{op: opALU | op | srcX}), nil
	case *loadArith:
		return g.load(e, conds)
	}
	panic(fmt.Sprintf("filter: unknown arithmetic %T", e))
}

var aluOps = map[tokKind]uint16{
	tPlus: aluADD, tMinus: aluSUB, tStar: aluMUL, tSlash: aluDIV, tPercent: aluMOD,
	tAmp: aluAND, tPipe: aluOR, tCaret: aluXOR, tShl: aluLSH, tShr: aluRSH,
}

// fold evaluates a constant expression.
func fold(e arith) (uint32, bool) {
	switch e := e.(type) {
	case numArith:
		return e.v, true
	case negArith:
		v, ok := fold(e.a)
		return -v, ok
	case binArith:
		a, ok := fold(e.a)
		if !ok {
			return 0, false
		}
		b, ok := fold(e.b)
		if !ok {
			return 0, false
		}
		switch e.op {
		case tPlus:
			return a + b, true
		case tMinus:
			return a - b, true
		case tStar:
			return a * b, true
		case tSlash:
			if b == 0 {
				return 0, false
			}
			return a / b, true
		case tPercent:
			if b == 0 {
				return 0, false
			}
			return a % b, true
		case tAmp:
			return a & b, true
		case tPipe:
			return a | b, true
		case tCaret:
			return a ^ b, true
		case tShl:
			if b >= 32 {
				return 0, true
			}
			return a << b, true
		case tShr:
			if b >= 32 {
				return 0, true
			}
			return a >> b, true
		}
	}
	return 0, false
}

// load generates proto[off:size]: the protocol's condition goes to conds;
// the code loads relative to the protocol header.
func (g *gen) load(e *loadArith, conds *[]cond) ([]ins, error) {
	d, nl := e.depth, g.nl(e.depth)
	var base uint32
	transport := false
	switch e.proto {
	case pEther:
		base = 0
	case pIP:
		*conds = append(*conds, g.llProto(etherIPv4, d))
		base = nl
	case pIP6:
		*conds = append(*conds, g.llProto(etherIPv6, d))
		base = nl
	case pARP:
		*conds = append(*conds, g.llProto(etherARP, d))
		base = nl
	case pRARP:
		*conds = append(*conds, g.llProto(etherRARP, d))
		base = nl
	case pTCP, pUDP, pSCTP, pICMP, pIGMP:
		*conds = append(*conds, and(g.ipProto(ipProtoNum[e.proto], d), g.notFragment(d)))
		base, transport = nl, true
	case pICMP6:
		*conds = append(*conds, and(g.llProto(etherIPv6, d), eqAbs(1, nl+6, 58)))
		base = nl + 40
	default:
		return nil, &SyntaxError{Pos: e.pos, Token: e.tok, Msg: "no such protocol for data access"}
	}
	size := sizeCode(e.size)
	if v, ok := fold(e.off); ok {
		if transport {
			return []ins{ldxMSH(nl), {op: opLD | size | modeIND, k: base + v}}, nil
		}
		return []ins{{op: opLD | size | modeABS, k: base + v}}, nil
	}
	off, err := g.arith(e.off, conds)
	if err != nil {
		return nil, err
	}
	if !transport {
		return append(off, ins{op: opMISC | miscTAX}, ins{op: opLD | size | modeIND, k: base}), nil
	}
	slot := uint32(g.scratch)
	if slot >= 16 {
		return nil, &SyntaxError{Pos: e.pos, Token: e.tok, Msg: "expression too complex (scratch memory)"}
	}
	code := append(off, ins{op: opST, k: slot}, ldxMSH(nl), ins{op: opLD | modeMEM, k: slot},
		ins{op: opALU | aluADD | srcX}, ins{op: opMISC | miscTAX}, ins{op: opLD | size | modeIND, k: base})
	return code, nil
}

// fact is what a path through the program knows about a value loaded
// from a fixed offset: it equals v, or it differs from v.
type fact struct {
	load ins
	v    uint32
	eq   bool
}

// simple returns the load and constant of a leaf that tests one value at
// a fixed offset for equality.
func simple(c cond) (ins, uint32, bool) {
	t, ok := c.(cTest)
	if !ok || len(t.pre) != 1 || t.jop != jEq|srcK {
		return ins{}, 0, false
	}
	if mode := t.pre[0].op & 0xe0; t.pre[0].op&0x07 != opLD || mode != modeABS {
		return ins{}, 0, false
	}
	return t.pre[0], t.k, true
}

// implied returns facts plus what c being true (or false) tells.
func implied(c cond, outcome bool, facts []fact) []fact {
	switch c := c.(type) {
	case cTest:
		if load, k, ok := simple(c); ok {
			return append(slices.Clip(facts), fact{load, k, outcome})
		}
	case cNot:
		return implied(c.a, !outcome, facts)
	case cAnd:
		if outcome {
			return implied(c.b, true, implied(c.a, true, facts))
		}
	case cOr:
		if !outcome {
			return implied(c.b, false, implied(c.a, false, facts))
		}
	}
	return facts
}

// simplify removes tests whose outcome is known on every path that
// reaches them, such as the IPv6 half of "tcp" in "ip and tcp". A removed
// test reloads a value already loaded on that path, so no load that could
// reject a short packet is lost.
func simplify(c cond, facts []fact) cond {
	switch c := c.(type) {
	case cTest:
		if load, k, ok := simple(c); ok {
			for _, f := range facts {
				if f.load != load {
					continue
				}
				if f.eq {
					return cConst(f.v == k)
				}
				if f.v == k {
					return cConst(false)
				}
			}
		}
		return c
	case cNot:
		return not(simplify(c.a, facts))
	case cAnd:
		a := simplify(c.a, facts)
		return and(a, simplify(c.b, implied(a, true, facts)))
	case cOr:
		a := simplify(c.a, facts)
		return or(a, simplify(c.b, implied(a, false, facts)))
	}
	return c
}
