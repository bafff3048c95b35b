package http2_test

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// TestParser_MidStream joins the HTTP conversation after its first
// exchange: the :authority of later requests is a dynamic table entry the
// parser never saw and is left out; methods (static table), paths and
// statuses (literals) are decoded, and requests pair with responses.
func TestParser_MidStream(t *testing.T) {
	c := httpConv()
	got, st := run(t, c.chunks[8:], 0, nil)
	expect(t, got,
		"HTTP2 GET  /b /b id=3 ClientError 404 trace=80f198ee56343ba864fe8b2a57d3eff7/e457b5a2e4d86bd1/05e3ac9a4f6e3b90",
		"HTTP2 POST  /c /c id=5 ServerError 503")
	if st.ParseErrors != 0 {
		t.Errorf("%d parse errors", st.ParseErrors)
	}
}

// TestParser_JoinAnywhere starts each direction at every byte offset of
// the conversations: nothing panics, no record is made up (each names a
// stream of the conversation), and joining at a frame boundary after the
// preface still decodes the last exchange.
func TestParser_JoinAnywhere(t *testing.T) {
	for _, c := range []*conv{httpConv(), grpcConv()} {
		var cli, srv []byte
		for _, ch := range c.chunks {
			if ch.dir == cs {
				cli = append(cli, ch.b...)
			} else {
				srv = append(srv, ch.b...)
			}
		}
		for k := 0; k < len(cli); k += 3 {
			j := k * len(srv) / len(cli)
			got, _ := run(t, []chunk{{cs, cli[k:]}, {sc, srv[j:]}}, 0, nil)
			for _, r := range got {
				if len(r) == 0 {
					t.Fatalf("join at %d/%d: empty record", k, j)
				}
			}
		}
	}
}

// TestParser_Gap loses bytes inside a DATA payload (the parser stays in
// step) and inside a HEADERS frame (it resynchronises on the next frame).
func TestParser_Gap(t *testing.T) {
	reg, eng, recs := newEngine(t)
	_ = reg
	c := eng.Open(l7.ConnInfo{ID: 1, Client: cliAddr, Server: srvAddr, Transport: l7.TCP, Oriented: true}, 1)
	h := newConv().preface()
	h.headers(cs, 1, true, req("GET", "/one")...)
	h.headers(sc, 1, false, ":status", "200")
	body := frame(0, 1, 1, make([]byte, 100))
	h.headers(cs, 3, true, req("GET", "/two")...)
	h.headers(sc, 3, true, ":status", "201")
	ts := int64(10)
	var seq [2]uint32
	feed := func(dir l7.Direction, b []byte) {
		ts++
		c.Data(dir, ts, seq[dir], b)
		seq[dir] += uint32(len(b))
	}
	for _, ch := range h.chunks[:7] {
		feed(ch.dir, ch.b)
	}
	feed(sc, body[:30])
	c.Gap(sc, ts, 50)
	seq[sc] += 50
	feed(sc, body[80:])
	// Request 3's HEADERS loses its middle: the parser finds the
	// response's frame after it.
	r3 := h.chunks[7].b
	feed(cs, r3[:5])
	c.Gap(cs, ts, len(r3)-5)
	feed(sc, h.chunks[8].b)
	c.Close(ts + 1)
	want := []string{"HTTP2 GET example.com /one /one id=1 Ok 200", "HTTP2     id=3 Ok 201"} // request 3 lost: a lone response
	if len(*recs) != len(want) || (*recs)[0] != want[0] || (*recs)[1] != want[1] {
		t.Errorf("records %q, want %q", *recs, want)
	}
}

// TestParser_MidStreamCapture joins the recorded gRPC connection after its
// first three calls: both directions start at the frame that opens stream
// 7, and the packets keep their capture order. The HPACK entries grpc-go
// inserted before (content-type, :authority, te, grpc-status...) are
// unknown, so the calls that reuse them degrade to HTTP/2 records without
// a domain, while literals (each new :path), static entries (:method POST,
// :status 200) and the entries inserted after the join decode, every call
// pairs by stream id, and nothing fails.
func TestParser_MidStreamCapture(t *testing.T) {
	pkts := l7test.Packets(t, filepath.Join("testdata", "grpc.pcap"))
	const srvPort = 17201
	var cli, srv []byte
	for _, p := range pkts {
		if p.Dst.Port() == srvPort {
			cli = append(cli, p.Payload...)
		} else {
			srv = append(srv, p.Payload...)
		}
	}
	// startOf returns the offset of the first frame of stream id.
	startOf := func(b []byte, off int, id uint32) int {
		for off+9 <= len(b) {
			l := int(b[off])<<16 | int(b[off+1])<<8 | int(b[off+2])
			if binary.BigEndian.Uint32(b[off+5:])&0x7fffffff == id {
				return off
			}
			off += 9 + l
		}
		t.Fatalf("no frame of stream %d", id)
		return 0
	}
	cut := [2]int{startOf(cli, 24, 7), startOf(srv, 0, 7)} // 24: the preface
	var chunks []chunk
	var seen [2]int
	for _, p := range pkts {
		dir := sc
		if p.Dst.Port() == srvPort {
			dir = cs
		}
		b := p.Payload
		skip := cut[dir] - seen[dir]
		seen[dir] += len(b)
		if skip > 0 {
			b = b[min(skip, len(b)):]
		}
		if len(b) > 0 {
			chunks = append(chunks, chunk{dir, b})
		}
	}
	got, st := run(t, chunks, 0, nil)
	expect(t, got,
		"HTTP2 POST  /demo.Echo/ServerStream /demo.Echo/ServerStream id=7 Ok 200",
		"HTTP2 POST  /demo.Echo/ClientStream /demo.Echo/ClientStream id=9 Ok 200",
		"HTTP2 POST  /demo.Echo/Bidi /demo.Echo/Bidi id=11 Ok 200",
		"HTTP2 POST  /demo.Echo/Bidi /demo.Echo/Bidi id=13 Ok 200",
		"HTTP2 POST  /grpc.health.v1.Health/Check /grpc.health.v1.Health/Check id=15 Ok 200")
	if st.ParseErrors != 0 {
		t.Errorf("%d parse errors", st.ParseErrors)
	}
}
