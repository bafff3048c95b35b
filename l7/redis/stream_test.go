package redis

import (
	"errors"
	"io"
	"net/netip"
	"sort"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/l7"
)

// This file replays the TCP connections of a capture through one Parser
// per connection, with a small in-order reassembly of its own, so that the
// decoder is tested on real traffic independently of the engine.

type segment struct {
	seq  uint32
	data []byte
}

type replayHalf struct {
	init bool
	next uint32
	buf  []byte    // bytes not consumed by the parser yet
	ooo  []segment // segments past a hole
}

type replayConn struct {
	client, server netip.AddrPort
	known          bool // client and server are known
	parser         l7.Parser
	replayHalf     [2]replayHalf
	stopped        bool
	errs           int
	raw            [2][]byte // the first bytes of each direction (fuzz seeds)
}

type replayMsg struct {
	client, server netip.AddrPort
	m              l7.Message // byte fields copied
}

type replayResult struct {
	msgs []replayMsg
	errs int      // parse errors other than ErrNeedMore and ErrStop
	raw  [][]byte // the first bytes of each direction of each connection
}

type connKey struct{ a, b netip.AddrPort }

func keyOf(x, y netip.AddrPort) connKey {
	if x.Addr().Less(y.Addr()) || (x.Addr() == y.Addr() && x.Port() < y.Port()) {
		return connKey{x, y}
	}
	return connKey{y, x}
}

// replay feeds every TCP connection of the capture at path to parsers
// made by d. Directions are set by the SYN, else by d.Check on the first
// payload, else the higher port is the client.
func replay(t testing.TB, path string, d l7.Decoder) replayResult {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer src.Close()
	dec := decode.NewDecoder(decode.Config{})
	conns := map[connKey]*replayConn{}
	var order []*replayConn
	var res replayResult
	var pkt capture.Packet
	var meta decode.Meta
	for {
		if err := src.ReadPacket(&pkt); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("read %s: %v", path, err)
		}
		if dec.Decode(&pkt, &meta) != nil || meta.Proto != decode.ProtoTCP || !meta.L4Decoded {
			continue
		}
		s := netip.AddrPortFrom(meta.Src, meta.SrcPort)
		dd := netip.AddrPortFrom(meta.Dst, meta.DstPort)
		k := keyOf(s, dd)
		c := conns[k]
		if c == nil {
			c = &replayConn{parser: d.NewParser(l7.TCP)}
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
		h := &c.replayHalf[dir]
		if meta.TCPFlags&decode.TCPSyn != 0 {
			h.init, h.next = true, meta.Seq+1
			continue
		}
		if len(meta.Payload) == 0 {
			continue
		}
		if r := &c.raw[dir]; len(*r) < rawKeep {
			*r = append(*r, meta.Payload[:min(len(meta.Payload), rawKeep-len(*r))]...)
		}
		c.add(h, meta.Seq, meta.Payload)
		c.feed(dir, &res)
	}
	// Holes that never filled: report them as gaps, then deliver the rest.
	for _, c := range order {
		for dir := range c.replayHalf {
			h := &c.replayHalf[dir]
			for len(h.ooo) > 0 && !c.stopped {
				sort.Slice(h.ooo, func(i, j int) bool { return int32(h.ooo[i].seq-h.ooo[j].seq) < 0 })
				gap := int(int32(h.ooo[0].seq - h.next))
				h.buf = h.buf[:0]
				c.parser.Gap(l7.Direction(dir), gap)
				h.next = h.ooo[0].seq
				c.drain(h)
				c.feed(l7.Direction(dir), &res)
			}
		}
	}
	for _, c := range order {
		for _, r := range c.raw {
			if len(r) > 0 {
				res.raw = append(res.raw, r)
			}
		}
	}
	return res
}

const rawKeep = 2048

func (c *replayConn) add(h *replayHalf, seq uint32, p []byte) {
	if !h.init {
		h.init, h.next = true, seq
	}
	rel := int32(seq - h.next)
	if rel > 0 {
		h.ooo = append(h.ooo, segment{seq, append([]byte(nil), p...)})
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

func (c *replayConn) feed(dir l7.Direction, res *replayResult) {
	h := &c.replayHalf[dir]
	var m l7.Message
	for len(h.buf) > 0 && !c.stopped {
		m.Reset()
		n, ok, err := c.parser.Parse(h.buf, dir, &m)
		if n < 0 || n > len(h.buf) {
			panic("parser consumed outside its input")
		}
		if ok {
			res.msgs = append(res.msgs, replayMsg{client: c.client, server: c.server, m: copyMsg(&m)})
		}
		h.buf = h.buf[n:]
		switch {
		case err == nil:
			if n == 0 && !ok {
				panic("parser made no progress without an error")
			}
		case errors.Is(err, l7.ErrNeedMore):
			return
		case errors.Is(err, l7.ErrStop):
			c.stopped = true
			return
		default:
			res.errs++
			c.errs++
			c.parser.Gap(dir, 0)
		}
	}
	if len(h.buf) == 0 {
		h.buf = h.buf[:0:0]
	}
}

func copyMsg(m *l7.Message) l7.Message {
	c := *m
	for _, f := range []*[]byte{&c.Version, &c.RequestType, &c.RequestDomain, &c.RequestResource,
		&c.Endpoint, &c.Exception, &c.Result, &c.TraceID, &c.SpanID, &c.ParentSpanID,
		&c.XRequestID, &c.UserAgent} {
		if *f != nil {
			*f = append([]byte{}, *f...)
		}
	}
	return c
}
