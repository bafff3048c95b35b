package builtin_test

import (
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
)

// FuzzEngine drives the engine with every built-in decoder through random
// segments: the input is cut into steps whose first byte picks the
// direction, an out-of-order or retransmitted sequence number, a hole or a
// snaplen cut. Contract: no panic, every record's response follows its
// request, and what is pending drains at Close.
func FuzzEngine(f *testing.F) {
	for _, s := range []string{
		"\x00GET /a HTTP/1.1\r\nHost: x\r\n\r\n\x01HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"\x00*2\r\n$3\r\nGET\r\n$1\r\nk\r\n\x01$1\r\nv\r\n\x01-ERR x\r\n",
		"\x01J\x00\x00\x00\x0a5.7.30\x00\x01\x00\x00\x00\x00\x21\x00\x00\x00\x03SELECT 1",
		"\x00\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01",
		"\x04GET / HTTP/1.1\r\nHost: a\r\n\x05HTTP/1.1 404 Not Found\r\nConnection",
	} {
		f.Add([]byte(s), uint8(6))
		f.Add([]byte(s), uint8(17))
	}
	f.Fuzz(func(t *testing.T, in []byte, transport uint8) {
		reg, err := builtin.Registry()
		if err != nil {
			t.Fatal(err)
		}
		eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {
			if d, ok := r.ResponseDuration(); ok && d < 0 {
				t.Errorf("response_duration %d < 0", d)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		tr := l7.TCP
		if transport&1 == 1 {
			tr = l7.UDP
		}
		c := eng.Open(l7.ConnInfo{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:40000"),
			Server: netip.MustParseAddrPort("10.0.0.2:80"), Transport: tr}, 0)
		var seq [2]uint32
		ts := int64(1)
		for len(in) > 0 {
			ctl := in[0]
			in = in[1:]
			n := len(in)
			if n > 64 && ctl&0x40 != 0 {
				n = 64
			}
			chunk := in[:n]
			in = in[n:]
			dir := l7.Direction(ctl & 1)
			ts += int64(ctl>>4) * 1000
			s := seq[dir]
			if ctl&0x08 != 0 && s > 10 {
				s -= 10 // overlap: retransmitted bytes
			}
			missing := 0
			if ctl&0x04 != 0 && len(chunk) > 8 {
				missing = 8 // snaplen cut: the last 8 bytes were not captured
				chunk = chunk[:len(chunk)-8]
			}
			if ctl&0x02 != 0 {
				c.Gap(dir, ts, 5)
				seq[dir] += 5
				s = seq[dir]
			}
			c.Segment(dir, ts, s, seq[dir^1], 0x10, chunk, missing)
			if end := s + uint32(len(chunk)+missing); end-seq[dir] < 1<<31 {
				seq[dir] = end
			}
		}
		c.Close(ts)
		if st := eng.Stats(); st.PendingSessions != 0 {
			t.Fatalf("%d sessions pending after Close", st.PendingSessions)
		}
	})
}
