package l7test

import (
	"errors"
	"net/netip"
	"sort"
	"testing"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/l7"
)

// Msg is one message a replayed parser produced, with its connection.
type Msg struct {
	Client, Server netip.AddrPort
	M              l7.Message // byte fields copied
}

// Replay is what ReplayTCP produced for one capture.
type Replay struct {
	Msgs []Msg    // in the order the parsers produced them
	Errs int      // parse errors other than l7.ErrNeedMore and l7.ErrStop
	Raw  [][]byte // the first RawKeep bytes of each direction of each connection (fuzz seeds)
}

// RawKeep is how many bytes of each direction Replay.Raw keeps.
const RawKeep = 2048

// ReplayTCP feeds every TCP connection of the capture at path to its own
// parser made by d, after a small in-order reassembly of its own, so that
// a decoder is tested on real traffic independently of the engine.
// Directions are set by the SYN, else by d.Check on the first payload,
// else the higher port is the client. A parse error is counted and reported
// to the parser as a gap of 0 bytes; holes that never fill are reported as
// gaps at the end of the capture, then the bytes after them are delivered.
// A parser that consumes outside its input, or makes no progress without
// an error, fails the test.
func ReplayTCP(tb testing.TB, path string, d l7.Decoder) *Replay {
	tb.Helper()
	conns := map[connKey]*replayConn{}
	var order []*replayConn
	res := &Replay{}
	EachPacket(tb, path, func(_ int, meta *decode.Meta) {
		if meta.Proto != decode.ProtoTCP || !meta.L4Decoded {
			return
		}
		s := netip.AddrPortFrom(meta.Src, meta.SrcPort)
		dd := netip.AddrPortFrom(meta.Dst, meta.DstPort)
		k := keyOf(s, dd)
		c := conns[k]
		if c == nil {
			c = &replayConn{tb: tb, res: res, parser: d.NewParser(l7.TCP)}
			conns[k] = c
			order = append(order, c)
		}
		if meta.TCPFlags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn && !c.known {
			c.client, c.server, c.known = s, dd, true
		}
		if !c.known && len(meta.Payload) > 0 {
			switch d.Check(meta.Payload, l7.ToServer, l7.TCP) {
			case l7.Request:
				c.client, c.server = s, dd
			case l7.Response:
				c.client, c.server = dd, s
			default:
				if s.Port() > dd.Port() {
					c.client, c.server = s, dd
				} else {
					c.client, c.server = dd, s
				}
			}
			c.known = true
		}
		dir := l7.ToServer
		if c.known && s == c.server {
			dir = l7.ToClient
		}
		h := &c.half[dir]
		if meta.TCPFlags&decode.TCPSyn != 0 {
			h.init, h.next = true, meta.Seq+1
			return
		}
		if len(meta.Payload) == 0 {
			return
		}
		if r := &c.raw[dir]; len(*r) < RawKeep {
			*r = append(*r, meta.Payload[:min(len(meta.Payload), RawKeep-len(*r))]...)
		}
		c.add(h, meta.Seq, meta.Payload)
		c.feed(dir)
	})
	// Holes that never filled: report them as gaps, then deliver the rest.
	for _, c := range order {
		for dir := range c.half {
			h := &c.half[dir]
			for len(h.ooo) > 0 && !c.stopped {
				sort.Slice(h.ooo, func(i, j int) bool { return int32(h.ooo[i].seq-h.ooo[j].seq) < 0 })
				gap := int(int32(h.ooo[0].seq - h.next))
				h.buf = h.buf[:0]
				c.parser.Gap(l7.Direction(dir), gap)
				h.next = h.ooo[0].seq
				c.drain(h)
				c.feed(l7.Direction(dir))
			}
		}
	}
	for _, c := range order {
		for _, r := range c.raw {
			if len(r) > 0 {
				res.Raw = append(res.Raw, r)
			}
		}
	}
	return res
}

// StreamSeeds returns the first RawKeep bytes of each direction of each
// TCP connection of the captures at paths, replayed with d: fuzz seeds
// from real traffic.
func StreamSeeds(tb testing.TB, d l7.Decoder, paths ...string) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, path := range paths {
		out = append(out, ReplayTCP(tb, path, d).Raw...)
	}
	return out
}

type oooSegment struct {
	seq  uint32
	data []byte
}

type replayHalf struct {
	init bool
	next uint32
	buf  []byte       // bytes not consumed by the parser yet
	ooo  []oooSegment // segments past a hole
}

type replayConn struct {
	tb             testing.TB
	res            *Replay
	client, server netip.AddrPort
	known          bool // client and server are known
	parser         l7.Parser
	half           [2]replayHalf
	stopped        bool
	raw            [2][]byte // the first bytes of each direction
}

type connKey struct{ a, b netip.AddrPort }

func keyOf(x, y netip.AddrPort) connKey {
	if x.Addr().Less(y.Addr()) || (x.Addr() == y.Addr() && x.Port() < y.Port()) {
		return connKey{x, y}
	}
	return connKey{y, x}
}

func (c *replayConn) add(h *replayHalf, seq uint32, p []byte) {
	if !h.init {
		h.init, h.next = true, seq
	}
	rel := int32(seq - h.next)
	if rel > 0 {
		h.ooo = append(h.ooo, oooSegment{seq, append([]byte(nil), p...)})
		return
	}
	if int(-rel) >= len(p) {
		return // retransmission
	}
	p = p[-rel:]
	h.buf = append(h.buf, p...)
	h.next += uint32(len(p))
	c.drain(h)
}

// drain moves buffered segments that now continue the stream into buf.
func (c *replayConn) drain(h *replayHalf) {
	for moved := true; moved; {
		moved = false
		for i := 0; i < len(h.ooo); i++ {
			sg := h.ooo[i]
			rel := int32(sg.seq - h.next)
			if rel > 0 {
				continue
			}
			if int(-rel) < len(sg.data) {
				h.buf = append(h.buf, sg.data[-rel:]...)
				h.next += uint32(len(sg.data) + int(rel))
			}
			h.ooo = append(h.ooo[:i], h.ooo[i+1:]...)
			moved = true
			i--
		}
	}
}

func (c *replayConn) feed(dir l7.Direction) {
	h := &c.half[dir]
	var m l7.Message
	for len(h.buf) > 0 && !c.stopped {
		m.Reset()
		n, ok, err := c.parser.Parse(h.buf, dir, &m)
		if n < 0 || n > len(h.buf) {
			c.tb.Fatalf("parser consumed %d of %d bytes", n, len(h.buf))
		}
		if ok {
			c.res.Msgs = append(c.res.Msgs, Msg{Client: c.client, Server: c.server, M: CloneMessage(&m)})
		}
		h.buf = h.buf[n:]
		switch {
		case err == nil:
			if n == 0 && !ok {
				c.tb.Fatalf("parser made no progress without an error")
			}
		case errors.Is(err, l7.ErrNeedMore):
			return
		case errors.Is(err, l7.ErrStop):
			c.stopped = true
			return
		default:
			c.res.Errs++
			c.parser.Gap(dir, 0)
		}
	}
	if len(h.buf) == 0 {
		h.buf = h.buf[:0:0]
	}
}
