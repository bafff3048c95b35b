package http1_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http1"
)

// conn replays one keep-alive TCP connection from memory as Ethernet
// frames, through decode, the flow table and the engine.
type conn struct {
	dec        *decode.Decoder
	tab        *flow.Table
	pkt        capture.Packet
	meta       decode.Meta
	ts         time.Time
	cseq, sseq uint32
	req, resp  []byte // frames; seq and ack are patched per packet
	ctl        []byte // a payload-less frame for the handshake
	paired     int
	last       l7.Record
}

const (
	flagSyn = 0x02
	flagAck = 0x10
	flagPsh = 0x08
)

// frame builds an Ethernet/IPv4/TCP frame with the given payload.
func frame(fromClient bool, payload []byte) []byte {
	b := make([]byte, 14+20+20+len(payload))
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(40+len(payload)))
	ip[6] = 0x40
	ip[8], ip[9] = 64, 6
	src, dst := []byte{10, 9, 0, 1}, []byte{10, 9, 0, 2}
	sport, dport := uint16(40000), uint16(80)
	if !fromClient {
		src, dst, sport, dport = dst, src, dport, sport
	}
	copy(ip[12:16], src)
	copy(ip[16:20], dst)
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	tcp := b[34:54]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12] = 5 << 4
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	copy(b[54:], payload)
	return b
}

func newConn(tb testing.TB) *conn {
	c := &conn{ts: time.Unix(1_700_000_000, 0), cseq: 1000, sseq: 90000}
	reg, err := l7.NewRegistry(http1.New(nil))
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {
		if r.HasRequest && r.HasResponse {
			c.paired++
			c.last = *r
		}
	}})
	if err != nil {
		tb.Fatal(err)
	}
	c.tab = flow.NewTable(flow.Config{Handler: eng})
	c.dec = decode.NewDecoder(decode.Config{})
	c.req = frame(true, []byte("GET /api/items/42?v=1 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: bench/1\r\n"+
		"Accept: */*\r\n\r\n"))
	c.resp = frame(false, []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"id\":42}"))
	c.pkt.LinkType = capture.LinkEthernet
	c.send(frame(true, nil), true, flagSyn)
	c.cseq++
	c.send(frame(false, nil), false, flagSyn|flagAck)
	c.sseq++
	c.send(frame(true, nil), true, flagAck)
	return c
}

// send patches and feeds one frame.
func (c *conn) send(f []byte, fromClient bool, flags uint8) {
	seq, ack := c.cseq, c.sseq
	if !fromClient {
		seq, ack = c.sseq, c.cseq
	}
	binary.BigEndian.PutUint32(f[38:], seq)
	binary.BigEndian.PutUint32(f[42:], ack)
	f[47] = flags
	c.ts = c.ts.Add(10 * time.Microsecond)
	c.pkt.Timestamp, c.pkt.Data, c.pkt.Length = c.ts, f, len(f)
	if err := c.dec.Decode(&c.pkt, &c.meta); err != nil {
		panic(err)
	}
	c.tab.Packet(&c.meta)
	n := uint32(len(f) - 54)
	if fromClient {
		c.cseq += n
	} else {
		c.sseq += n
	}
}

// exchange sends one request and its response.
func (c *conn) exchange() {
	c.send(c.req, true, flagAck|flagPsh)
	c.send(c.resp, false, flagAck|flagPsh)
}

func TestPairing_KeepAlive(t *testing.T) {
	c := newConn(t)
	for range 1000 {
		c.exchange()
	}
	if c.paired != 1000 {
		t.Fatalf("%d paired records, want 1000", c.paired)
	}
	r := &c.last
	if r.L7Protocol != "HTTP" || string(r.RequestType) != "GET" || string(r.RequestResource) != "/api/items/42?v=1" ||
		string(r.Endpoint) != "/api/items/42" || string(r.RequestDomain) != "shop.example" ||
		r.ResponseCode != 200 || r.Status != l7.StatusOk || r.ResponseLength != 9 {
		t.Errorf("record %+v", r)
	}
	if d, ok := r.ResponseDuration(); !ok || d != 10 {
		t.Errorf("response_duration %d %v, want 10 µs", d, ok)
	}
	if a := testing.AllocsPerRun(1000, c.exchange); a != 0 {
		t.Errorf("%v allocations per request/response through decode, flow and engine, want 0", a)
	}
}

// BenchmarkPairing replays small keep-alive requests and responses from
// memory through decode, the flow table and the engine; one op is one
// request paired with its response. pairs/s is measured on the wall clock;
// pairs/cpu-s on the process's CPU time, which is what one core delivers
// when the machine is shared.
func BenchmarkPairing(b *testing.B) {
	b.Run("keepalive", func(b *testing.B) {
		c := newConn(b)
		b.ReportAllocs()
		b.SetBytes(int64(len(c.req) + len(c.resp)))
		start := c.paired
		t0 := time.Now()
		cpu0, cpuOK := cpuTime()
		for b.Loop() {
			c.exchange()
		}
		el := time.Since(t0)
		cpu1, _ := cpuTime()
		n := c.paired - start
		if n != b.N {
			b.Fatalf("%d paired of %d", n, b.N)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "pairs/s")
		if cpuOK && cpu1 > cpu0 {
			b.ReportMetric(float64(n)/(cpu1-cpu0).Seconds(), "pairs/cpu-s")
		}
	})
}
