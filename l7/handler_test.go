package l7_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// TestEngine_HandlerAllocs drives the engine through a flow.Table with
// decoded packets of one keep-alive connection and checks that a request
// and its response cost no allocation in steady state, and that the l4
// record gets the l7 counters.
func TestEngine_HandlerAllocs(t *testing.T) {
	reg := mustRegistry(t)
	var n int
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(*l7.Record) { n++ }})
	if err != nil {
		t.Fatal(err)
	}
	var l4 []flow.Record
	tab := flow.NewTable(flow.Config{Handler: eng, OnRecord: func(r *flow.Record) { l4 = append(l4, *r) }})
	c, s := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	m := decode.Meta{IPVersion: 4, Proto: decode.ProtoTCP, L4Decoded: true, TTL: 64, WinScale: -1}
	ts := int64(1_700_000_000e9)
	cseq, sseq := uint32(1000), uint32(5000)
	send := func(fromClient bool, flags uint8, payload []byte) {
		ts += 10_000
		m.Timestamp = ts
		m.TCPFlags = flags
		m.Payload = payload
		m.PayloadLen = len(payload)
		m.WireLen = 54 + len(payload)
		m.IPLen = 40 + len(payload)
		m.Window = 1000
		if fromClient {
			m.Src, m.Dst, m.SrcPort, m.DstPort = c, s, 40000, 7000
			m.Seq, m.Ack = cseq, sseq
			cseq += uint32(len(payload))
		} else {
			m.Src, m.Dst, m.SrcPort, m.DstPort = s, c, 7000, 40000
			m.Seq, m.Ack = sseq, cseq
			sseq += uint32(len(payload))
		}
		if flags&decode.TCPSyn != 0 {
			if fromClient {
				cseq++
			} else {
				sseq++
			}
		}
		tab.Packet(&m)
	}
	send(true, decode.TCPSyn, nil)
	send(false, decode.TCPSyn|decode.TCPAck, nil)
	send(true, decode.TCPAck, nil)
	req, resp := []byte("GET /x\n"), []byte("+ok\n")
	step := func() {
		send(true, decode.TCPAck|decode.TCPPsh, req)
		send(false, decode.TCPAck|decode.TCPPsh, resp)
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%v allocs per request/response through flow.Table, want 0", a)
	}
	tab.Flush()
	if len(l4) != 1 {
		t.Fatalf("%d l4 records, want 1", len(l4))
	}
	r := l4[0]
	want := uint32(100 + 1001)
	if r.L7Protocol != "LINE" || r.L7Request != want || r.L7Response != want || n != int(want) {
		t.Errorf("l4 record l7 %q req %d resp %d, l7 records %d; want LINE %d %d %d", r.L7Protocol, r.L7Request, r.L7Response, n, want, want, want)
	}
}

// flowRig drives an engine as a flow table's handler with packets between
// the client 10.0.0.1 (any port) and the server 10.0.0.2 (port srv), 10 µs
// apart, and keeps the records as "TYPE resource|status".
type flowRig struct {
	eng  *l7.Engine
	tab  *flow.Table
	got  []string
	ts   int64
	srv  uint16
	c, s netip.Addr
}

func newFlowRig(t *testing.T, cfg l7.Config, srv uint16) *flowRig {
	r := &flowRig{ts: 1_700_000_000e9, srv: srv, c: netip.MustParseAddr("10.0.0.1"), s: netip.MustParseAddr("10.0.0.2")}
	cfg.Registry = mustRegistry(t)
	cfg.OnRecord = func(rec *l7.Record) {
		r.got = append(r.got, string(rec.RequestType)+" "+string(rec.RequestResource)+"|"+rec.Status.String())
	}
	eng, err := l7.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.eng, r.tab = eng, flow.NewTable(flow.Config{Handler: eng})
	return r
}

// tcp sends a TCP segment of the connection from client port port.
func (r *flowRig) tcp(port uint16, fromClient bool, flags uint8, seq, ack uint32, payload string) {
	r.send(decode.Meta{Proto: decode.ProtoTCP, WinScale: -1, TCPFlags: flags, Seq: seq, Ack: ack, Window: 1000,
		WireLen: 54 + len(payload), IPLen: 40 + len(payload)}, port, fromClient, payload)
}

// handshake sends the three-way handshake of the connection from client
// port port: client ISN 1000, server ISN 5000.
func (r *flowRig) handshake(port uint16) {
	r.tcp(port, true, decode.TCPSyn, 1000, 0, "")
	r.tcp(port, false, decode.TCPSyn|decode.TCPAck, 5000, 1001, "")
	r.tcp(port, true, decode.TCPAck, 1001, 5001, "")
}

// udp sends a datagram of the flow from client port port.
func (r *flowRig) udp(port uint16, fromClient bool, payload string) {
	r.send(decode.Meta{Proto: decode.ProtoUDP, WireLen: 42 + len(payload), IPLen: 28 + len(payload)}, port, fromClient, payload)
}

func (r *flowRig) send(m decode.Meta, port uint16, fromClient bool, payload string) {
	r.ts += 10_000
	m.IPVersion, m.L4Decoded, m.TTL, m.Timestamp = 4, true, 64, r.ts
	if payload != "" {
		m.Payload = []byte(payload)
	}
	m.PayloadLen = len(payload)
	if fromClient {
		m.Src, m.Dst, m.SrcPort, m.DstPort = r.c, r.s, port, r.srv
	} else {
		m.Src, m.Dst, m.SrcPort, m.DstPort = r.s, r.c, r.srv, port
	}
	r.tab.Packet(&m)
}

// TestEngine_LazyConn: a flow gets L7 state only at its first payload (a
// SYN, SYN-ACK and RST make none), and that state still reassembles from
// the handshake's sequence numbers: a first request whose two segments
// arrive swapped is decoded whole.
func TestEngine_LazyConn(t *testing.T) {
	r := newFlowRig(t, l7.Config{}, 7000)
	eng, pkt := r.eng, r.tcp
	// A refused connection: no L7 state.
	pkt(40001, true, decode.TCPSyn, 100, 0, "")
	pkt(40001, false, decode.TCPRst|decode.TCPAck, 0, 101, "")
	// A handshake, then the first request's second segment before its first.
	r.handshake(40002)
	if st := eng.Stats(); st.OpenConns != 0 {
		t.Errorf("%d conns open before any payload, want 0", st.OpenConns)
	}
	pkt(40002, true, decode.TCPAck|decode.TCPPsh, 1005, 5001, "swapped\n")
	pkt(40002, true, decode.TCPAck, 1001, 5001, "GET ")
	pkt(40002, false, decode.TCPAck|decode.TCPPsh, 5001, 1013, "+ok\n")
	if st := eng.Stats(); st.OpenConns != 1 {
		t.Errorf("%d conns open, want 1", st.OpenConns)
	}
	r.tab.Flush()
	if got := r.got; len(got) != 1 || got[0] != "GET swapped|Ok" {
		t.Errorf("records %q, want [\"GET swapped|Ok\"]", got)
	}
}

// TestEngine_RetireUnknown: a flow whose inference gives up before any
// message keeps no Conn (open_conns drops to 0 while the flow is open),
// and its later bytes are still counted, as a Conn would count them.
func TestEngine_RetireUnknown(t *testing.T) {
	r := newFlowRig(t, l7.Config{MaxFlowInferAttempts: 2}, 9)
	eng := r.eng
	seq := [2]uint32{1001, 5001}
	pkt := func(fromClient bool, payload string) {
		d := 0
		if !fromClient {
			d = 1
		}
		r.tcp(40001, fromClient, decode.TCPAck|decode.TCPPsh, seq[d], seq[1-d], payload)
		seq[d] += uint32(len(payload))
	}
	pkt(true, "\x01\x02\x03 no protocol here")
	if st := eng.Stats(); st.OpenConns != 0 || st.BufferedBytes == 0 || st.InferFailures != 1 {
		t.Fatalf("open_conns %d, buffered_bytes %d, infer_failures %d after one unknown chunk; want 0 (parked), > 0 (held for inference), 1",
			st.OpenConns, st.BufferedBytes, st.InferFailures)
	}
	pkt(false, "\x04\x05\x06 nor here")
	pkt(true, "\x07\x08 still nothing")
	pkt(false, "\x09 and more")
	st := eng.Stats()
	if st.OpenConns != 0 || st.InferFailures != 2 {
		t.Errorf("open_conns %d, infer_failures %d after inference gave up; want 0 and 2", st.OpenConns, st.InferFailures)
	}
	if want := uint64(len("\x01\x02\x03 no protocol here") + len("\x04\x05\x06 nor here") + len("\x07\x08 still nothing") + len("\x09 and more")); st.Segments != 4 || st.Bytes != want || st.UninferredBytes != want {
		t.Errorf("segments %d bytes %d uninferred %d; want 4, %d, %d", st.Segments, st.Bytes, st.UninferredBytes, want, want)
	}
	r.tab.Flush()
	if records := len(r.got); records != 0 || eng.Stats().Records != 0 {
		t.Errorf("%d l7 records, want 0", records)
	}
}

// TestEngine_ParkUDP: a UDP flow whose datagrams no decoder recognised yet
// holds no Conn between them (open_conns 0), yet its inference goes on
// where it stopped: a later request is decoded and paired, and a flow that
// used up its tries stays off.
func TestEngine_ParkUDP(t *testing.T) {
	r := newFlowRig(t, l7.Config{MaxFlowInferAttempts: 3}, 9)
	eng, pkt := r.eng, r.udp
	pkt(40001, true, "\x01 no protocol")
	pkt(40001, false, "\x02 nor here")
	if st := eng.Stats(); st.OpenConns != 0 || st.InferFailures != 2 {
		t.Fatalf("open_conns %d, infer_failures %d after two unknown datagrams; want 0 and 2", st.OpenConns, st.InferFailures)
	}
	pkt(40001, true, "GET a\n")
	pkt(40001, false, "+ok\n")
	if st := eng.Stats(); st.OpenConns != 1 {
		t.Errorf("open_conns %d once a decoder took the flow, want 1", st.OpenConns)
	}
	// Another flow uses up its 3 tries: its request is not decoded.
	pkt(40002, true, "\x01 no protocol")
	pkt(40002, true, "\x02 nor here")
	pkt(40002, true, "\x03 nor there")
	pkt(40002, true, "GET b\n")
	st := eng.Stats()
	if st.InferFailures != 5 || st.InferAttempts != 6 {
		t.Errorf("infer_failures %d, infer_attempts %d; want 5 and 6", st.InferFailures, st.InferAttempts)
	}
	if want := uint64(len("\x01 no protocol") + len("\x02 nor here") + len("\x01 no protocol") + len("\x02 nor here") + len("\x03 nor there") + len("GET b\n")); st.UninferredBytes != want {
		t.Errorf("uninferred_bytes %d, want %d", st.UninferredBytes, want)
	}
	r.tab.Flush()
	if got := r.got; len(got) != 1 || got[0] != "GET a|Ok" {
		t.Errorf("records %q, want [\"GET a|Ok\"]", got)
	}
}

// TestEngine_ParkTCP: a TCP flow whose first bytes no decoder recognised
// holds no Conn until its next packet (open_conns 0), but keeps the bytes
// and its place in the stream: a request whose start came alone is
// recognised with the next piece, after a pure ACK, and paired; a flow
// that ends parked gives its held bytes back as uninferred.
func TestEngine_ParkTCP(t *testing.T) {
	r := newFlowRig(t, l7.Config{}, 7000)
	eng, pkt := r.eng, r.tcp
	const a, p = decode.TCPAck, decode.TCPAck | decode.TCPPsh
	r.handshake(40001)
	pkt(40001, true, p, 1001, 5001, "GE")
	if st := eng.Stats(); st.OpenConns != 0 || st.BufferedBytes == 0 {
		t.Fatalf("open_conns %d, buffered_bytes %d after an unrecognised piece; want 0 (parked) and > 0", st.OpenConns, st.BufferedBytes)
	}
	pkt(40001, false, a, 5001, 1003, "")
	pkt(40001, true, p, 1003, 5001, "T a\n")
	pkt(40001, false, p, 5001, 1007, "+ok\n")
	// Another flow ends parked.
	pkt(40002, true, decode.TCPSyn, 2000, 0, "")
	pkt(40002, false, decode.TCPSyn|decode.TCPAck, 6000, 2001, "")
	pkt(40002, true, p, 2001, 6001, "\x01\x02 nothing")
	pkt(40002, true, decode.TCPRst, 2012, 0, "")
	r.tab.Flush()
	if got := r.got; len(got) != 1 || got[0] != "GET a|Ok" {
		t.Errorf("records %q, want [\"GET a|Ok\"]", got)
	}
	st := eng.Stats()
	if st.UninferredBytes != uint64(len("\x01\x02 nothing")) {
		t.Errorf("uninferred_bytes %d, want %d", st.UninferredBytes, len("\x01\x02 nothing"))
	}
	if st.BufferedBytes != 0 || st.OpenConns != 0 {
		t.Errorf("buffered_bytes %d, open_conns %d at the end; want 0", st.BufferedBytes, st.OpenConns)
	}
}

// TestEngine_InferPieces: a request whose start comes in pieces ("GE",
// "T a\n") is recognised from the held piece and the next one together,
// not from the second piece alone ("T a").
func TestEngine_InferPieces(t *testing.T) {
	h := newHarness(t, l7.Config{})
	c := h.open(1)
	c.Segment(l7.ToServer, 1, 1000, 0, 0, []byte("GE"), 0)
	c.Segment(l7.ToServer, 2, 1002, 0, 0, []byte("T a\n"), 0)
	c.Segment(l7.ToClient, 3, 5000, 0, 0, []byte("+ok\n"), 0)
	c.Close(4)
	if got := h.summary(); len(got) != 1 || got[0] != "GET a|ok|Ok" {
		t.Errorf("records %q, want [\"GET a|ok|Ok\"]", got)
	}
	if st := h.eng.Stats(); st.InferFailures != 1 || st.UninferredBytes != 0 {
		t.Errorf("infer_failures %d, uninferred_bytes %d; want 1 and 0", st.InferFailures, st.UninferredBytes)
	}
}

// TestEngine_Rest: a flow idle past IdleDelay with nothing in flight but
// requests waiting rests (no Conn, still open); its next request wakes it
// and pairs as before, and its l4 record, taken while it rests, carries
// every request of the flow. An ACK leaves it at rest. A flow with a
// request waiting for its response rests too, and its response pairs with
// it.
func TestEngine_Rest(t *testing.T) {
	r := newFlowRig(t, l7.Config{}, 7000)
	var l4 []flow.Record
	r.tab = flow.NewTable(flow.Config{Handler: r.eng, OnRecord: func(rec *flow.Record) { l4 = append(l4, *rec) }})
	eng, pkt := r.eng, r.tcp
	const a, p = decode.TCPAck, decode.TCPAck | decode.TCPPsh
	r.handshake(40001)
	pkt(40001, true, p, 1001, 5001, "GET a\n")
	pkt(40001, false, p, 5001, 1007, "+ok\n")
	pkt(40002, true, p, 7000, 9000, "GET b\n") // no response yet
	r.ts += int64(3 * l7.IdleDelay)
	pkt(40003, true, p, 3000, 4000, "GET c\n") // moves the engine's clock
	r.ts += int64(3 * l7.IdleDelay)
	pkt(40003, false, p, 4000, 3006, "+ok\n")
	if st := eng.Stats(); st.OpenConns != 3 || st.RestingConns != 2 || st.PendingSessions != 1 {
		t.Fatalf("open_conns %d, resting_conns %d, pending %d after idling; want 3, 2 (40001; 40002 with its request waiting; 40003 just had one) and 1",
			st.OpenConns, st.RestingConns, st.PendingSessions)
	}
	pkt(40001, true, a, 1007, 5005, "") // an ACK leaves the flow at rest
	if st := eng.Stats(); st.RestingConns != 2 {
		t.Errorf("resting_conns %d after 40001's ACK, want 2", st.RestingConns)
	}
	pkt(40001, true, p, 1007, 5005, "GET d\n")
	pkt(40001, false, p, 5005, 1013, "+ok\n")
	if st := eng.Stats(); st.RestingConns != 1 {
		t.Errorf("resting_conns %d after 40001's request, want 1 (40002)", st.RestingConns)
	}
	r.ts += int64(3 * l7.IdleDelay)
	pkt(40002, false, p, 9000, 7006, "+ok\n")
	if st := eng.Stats(); st.OpenConns != 3 || st.RestingConns != 2 {
		t.Errorf("open_conns %d, resting_conns %d at the last response; want 3 and 2 (40001, 40003)", st.OpenConns, st.RestingConns)
	}
	r.tab.Flush()
	want := []string{"GET a|Ok", "GET c|Ok", "GET d|Ok", "GET b|Ok"}
	if len(r.got) != len(want) {
		t.Fatalf("records %q, want %q", r.got, want)
	}
	for i := range want {
		if r.got[i] != want[i] {
			t.Errorf("record %d %q, want %q", i, r.got[i], want[i])
		}
	}
	if len(l4) != 3 {
		t.Fatalf("%d l4 records, want 3", len(l4))
	}
	for _, f := range l4 {
		n := uint32(1)
		if f.ClientPort == 40001 {
			n = 2
		}
		if f.L7Protocol != "LINE" || f.L7Request != n || f.L7Response != n {
			t.Errorf("port %d: l4 l7 %q req %d resp %d, want LINE %d %d", f.ClientPort, f.L7Protocol, f.L7Request, f.L7Response, n, n)
		}
	}
	if st := eng.Stats(); st.OpenConns != 0 || st.RestingConns != 0 {
		t.Errorf("open_conns %d, resting_conns %d at the end; want 0", st.OpenConns, st.RestingConns)
	}
}

// TestEngine_RestAfterTimeout: a flow resting with a request waiting wakes
// when the request times out (its record is the Conn's), and rests again
// without it; its l4 record counts the timeout.
func TestEngine_RestAfterTimeout(t *testing.T) {
	r := newFlowRig(t, l7.Config{SessionTimeout: time.Second}, 7000)
	var l4 []flow.Record
	r.tab = flow.NewTable(flow.Config{Handler: r.eng, OnRecord: func(rec *flow.Record) { l4 = append(l4, *rec) }})
	eng, pkt := r.eng, r.tcp
	const p = decode.TCPAck | decode.TCPPsh
	pkt(40001, true, p, 1000, 5000, "GET a\n") // never answered
	r.ts += int64(3 * l7.IdleDelay)
	pkt(40002, true, p, 3000, 4000, "GET b\n") // moves the clock: 40001 is told idle
	pkt(40002, false, p, 4000, 3006, "+ok\n")
	if st := eng.Stats(); st.OpenConns != 2 || st.RestingConns != 1 || st.PendingSessions != 1 {
		t.Fatalf("open_conns %d, resting_conns %d, pending %d after idling; want 2, 1, 1", st.OpenConns, st.RestingConns, st.PendingSessions)
	}
	r.ts += int64(2 * time.Second)
	pkt(40002, true, p, 3006, 4004, "GET c\n") // 40001's request times out
	if st := eng.Stats(); st.OpenConns != 2 || st.RestingConns != 1 || st.Timeouts != 1 {
		t.Errorf("open_conns %d, resting_conns %d, timeouts %d after the timeout; want 2, 1 (40001), 1", st.OpenConns, st.RestingConns, st.Timeouts)
	}
	r.tab.Flush()
	want := []string{"GET b|Ok", "GET a|Timeout", "GET c|Unknown"}
	if len(r.got) != len(want) {
		t.Fatalf("records %q, want %q", r.got, want)
	}
	for i := range want {
		if r.got[i] != want[i] {
			t.Errorf("record %d %q, want %q", i, r.got[i], want[i])
		}
	}
	for _, f := range l4 {
		if f.ClientPort == 40001 && (f.L7Request != 1 || f.L7ServerTimeout != 1 || f.L7Protocol != "LINE") {
			t.Errorf("40001: l4 l7 %q req %d timeouts %d, want LINE 1 1", f.L7Protocol, f.L7Request, f.L7ServerTimeout)
		}
	}
}

// TestEngine_RestPending: the requests of a flow resting with them waiting
// come out as its Conn's would: an overflow at MaxSessions wakes the flow
// for its oldest request (Unknown; the flow then owes a response and stays
// awake), a response wakes it and pairs, and the end of input emits what
// still waits (Unknown), each with the flow's endpoints.
func TestEngine_RestPending(t *testing.T) {
	r := newFlowRig(t, l7.Config{}, 7000)
	var recs []l7.Record
	cfg := l7.Config{MaxSessions: 3, Registry: mustRegistry(t), OnRecord: func(rec *l7.Record) {
		r.got = append(r.got, string(rec.RequestType)+" "+string(rec.RequestResource)+"|"+rec.Status.String())
		recs = append(recs, *rec)
	}}
	eng, err := l7.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.eng, r.tab = eng, flow.NewTable(flow.Config{Handler: eng})
	pkt := r.tcp
	const p = decode.TCPAck | decode.TCPPsh
	pkt(40001, true, p, 1000, 5000, "GET a\n")
	pkt(40002, true, p, 2000, 6000, "GET b\n")
	r.ts += int64(3 * l7.IdleDelay)
	pkt(40003, true, p, 3000, 7000, "GET z\n") // moves the clock
	pkt(40003, false, p, 7000, 3006, "+ok\n")
	if st := eng.Stats(); st.RestingConns != 2 || st.PendingSessions != 2 {
		t.Fatalf("resting_conns %d, pending %d after idling; want 2 and 2", st.RestingConns, st.PendingSessions)
	}
	// 40004's second request overflows the oldest waiting: 40001's.
	pkt(40004, true, p, 4000, 8000, "GET c\n")
	pkt(40004, true, p, 4006, 8000, "GET d\n")
	if st := eng.Stats(); st.SessionsOverflowed != 1 || st.RestingConns != 1 || st.PendingSessions != 3 {
		t.Errorf("overflowed %d, resting_conns %d, pending %d; want 1, 1 (40002), 3", st.SessionsOverflowed, st.RestingConns, st.PendingSessions)
	}
	pkt(40002, false, p, 6000, 2006, "+ok\n")
	r.tab.Flush()
	want := []string{"GET z|Ok", "GET a|Unknown", "GET b|Ok", "GET c|Unknown", "GET d|Unknown"}
	ports := []uint16{40003, 40001, 40002, 40004, 40004}
	if len(r.got) != len(want) {
		t.Fatalf("records %q, want %q", r.got, want)
	}
	for i := range want {
		if r.got[i] != want[i] {
			t.Errorf("record %d %q, want %q", i, r.got[i], want[i])
		}
		if recs[i].Client.Port() != ports[i] || recs[i].Server.Port() != 7000 || recs[i].L7Protocol != "LINE" {
			t.Errorf("record %d: %s client %v server %v, want LINE from port %d to 7000", i, recs[i].L7Protocol, recs[i].Client, recs[i].Server, ports[i])
		}
	}
	if st := eng.Stats(); st.OpenConns != 0 || st.RestingConns != 0 || st.PendingSessions != 0 {
		t.Errorf("open_conns %d, resting_conns %d, pending %d at the end; want 0", st.OpenConns, st.RestingConns, st.PendingSessions)
	}
}

// TestEngine_FlushRestPending: Engine.Flush (without the flow table's
// Close) emits the requests of flows resting with them waiting.
func TestEngine_FlushRestPending(t *testing.T) {
	r := newFlowRig(t, l7.Config{}, 7000)
	eng, pkt := r.eng, r.tcp
	const p = decode.TCPAck | decode.TCPPsh
	pkt(40001, true, p, 1000, 5000, "GET a\n")
	r.ts += int64(3 * l7.IdleDelay)
	pkt(40003, true, p, 3000, 7000, "GET z\n") // moves the clock
	if st := eng.Stats(); st.RestingConns != 1 || st.PendingSessions != 2 {
		t.Fatalf("resting_conns %d, pending %d after idling; want 1 and 2", st.RestingConns, st.PendingSessions)
	}
	eng.Flush()
	if want := []string{"GET a|Unknown", "GET z|Unknown"}; len(r.got) != 2 || r.got[0] != want[0] || r.got[1] != want[1] {
		t.Errorf("records %q, want %q", r.got, want)
	}
	if st := eng.Stats(); st.OpenConns != 0 || st.RestingConns != 0 || st.PendingSessions != 0 {
		t.Errorf("open_conns %d, resting_conns %d, pending %d after Flush; want 0", st.OpenConns, st.RestingConns, st.PendingSessions)
	}
}
