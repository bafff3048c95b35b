package http2_test

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
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
