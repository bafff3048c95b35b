package http2_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http2"
)

// conv builds an HTTP/2 conversation frame by frame, with one HPACK
// encoder per direction as real peers have.
type conv struct {
	enc    [2]*hpack.Encoder
	hbuf   [2]bytes.Buffer
	chunks []chunk
}

type chunk struct {
	dir l7.Direction
	b   []byte
}

func newConv() *conv {
	c := &conv{}
	for i := range c.enc {
		c.enc[i] = hpack.NewEncoder(&c.hbuf[i])
	}
	return c
}

func frame(typ, flags uint8, stream uint32, payload []byte) []byte {
	b := make([]byte, 9, 9+len(payload))
	b[0], b[1], b[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	b[3], b[4] = typ, flags
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

// block encodes name/value pairs with dir's encoder.
func (c *conv) block(dir l7.Direction, kv ...string) []byte {
	c.hbuf[dir].Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		c.enc[dir].WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), c.hbuf[dir].Bytes()...)
}

func (c *conv) add(dir l7.Direction, b []byte) *conv {
	c.chunks = append(c.chunks, chunk{dir, b})
	return c
}

func (c *conv) preface() *conv {
	c.add(l7.ToServer, []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	c.add(l7.ToServer, frame(4, 0, 0, []byte{0, 3, 0, 0, 0, 100}))
	c.add(l7.ToClient, frame(4, 0, 0, nil))
	c.add(l7.ToServer, frame(4, 1, 0, nil))
	return c.add(l7.ToClient, frame(4, 1, 0, nil))
}

// headers adds a HEADERS frame (END_HEADERS, plus END_STREAM when end).
func (c *conv) headers(dir l7.Direction, stream uint32, end bool, kv ...string) *conv {
	fl := uint8(4)
	if end {
		fl |= 1
	}
	return c.add(dir, frame(1, fl, stream, c.block(dir, kv...)))
}

func (c *conv) data(dir l7.Direction, stream uint32, end bool, n int) *conv {
	fl := uint8(0)
	if end {
		fl = 1
	}
	return c.add(dir, frame(0, fl, stream, bytes.Repeat([]byte{'d'}, n)))
}

func (c *conv) bytes() []byte {
	var b []byte
	for _, ch := range c.chunks {
		b = append(b, ch.b...)
	}
	return b
}

// rec is the part of a record the tests compare.
func recString(r *l7.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s %s", r.L7Protocol, r.RequestType, r.RequestDomain, r.RequestResource, r.Endpoint)
	if r.HasRequestID {
		fmt.Fprintf(&b, " id=%d", r.RequestID)
	}
	if r.HasStatus {
		fmt.Fprintf(&b, " %s", r.Status)
	}
	if r.HasResponseCode {
		fmt.Fprintf(&b, " %d", r.ResponseCode)
	}
	if len(r.ResponseException) > 0 {
		fmt.Fprintf(&b, " exc=%q", r.ResponseException)
	}
	if len(r.TraceID) > 0 {
		fmt.Fprintf(&b, " trace=%s/%s/%s", r.TraceID, r.SpanID, r.ParentSpanID)
	}
	if len(r.XRequestID0)+len(r.XRequestID1) > 0 {
		fmt.Fprintf(&b, " xrid=%s/%s", r.XRequestID0, r.XRequestID1)
	}
	return b.String()
}

// run feeds the chunks to a fresh engine, each cut in pieces of at most
// piece bytes (0: whole), and returns the records.
func run(t testing.TB, chunks []chunk, piece int, cfg *http2.Config) ([]string, l7.Stats) {
	t.Helper()
	reg, err := l7.NewRegistry(http2.New(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var recs []string
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {
		recs = append(recs, recString(r))
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := eng.Open(l7.ConnInfo{ID: 1, Client: cliAddr, Server: srvAddr, Transport: l7.TCP, Oriented: true}, 1)
	var seq [2]uint32
	ts := int64(1000)
	for i, ch := range chunks {
		b := ch.b
		for len(b) > 0 {
			n := len(b)
			// Inference sees the first chunk whole, as it would a
			// first segment.
			if piece > 0 && n > piece && i > 0 {
				n = piece
			}
			ts += 1000
			c.Data(ch.dir, ts, seq[ch.dir], b[:n])
			seq[ch.dir] += uint32(n)
			b = b[n:]
		}
	}
	c.Close(ts + 1000)
	return recs, eng.Stats()
}

func expect(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func newEngine(t testing.TB) (*l7.Registry, *l7.Engine, *[]string) {
	t.Helper()
	reg, err := l7.NewRegistry(http2.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	recs := new([]string)
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {
		*recs = append(*recs, recString(r))
	}})
	if err != nil {
		t.Fatal(err)
	}
	return reg, eng, recs
}
