package flow

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/metaflow-go/metaflow/capture/decode"
)

const (
	fS = decode.TCPSyn
	fA = decode.TCPAck
	fF = decode.TCPFin
	fR = decode.TCPRst
	fP = decode.TCPPsh
)

var (
	cliAddr = netip.MustParseAddr("10.0.0.1")
	srvAddr = netip.MustParseAddr("10.0.0.2")
)

// conn builds the packets of one TCP connection between a client and a
// server, tracking sequence numbers the way the peers would.
type conn struct {
	t        *testing.T
	tab      *Table
	now      int64
	cli, srv netip.AddrPort
	seq      [2]uint32 // next seq of client, server
	win      [2]uint16
}

func newConn(t *testing.T, tab *Table) *conn {
	return &conn{
		t: t, tab: tab, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano(),
		cli: netip.AddrPortFrom(cliAddr, 51000), srv: netip.AddrPortFrom(srvAddr, 80),
		seq: [2]uint32{1000, 50000}, win: [2]uint16{65535, 65535},
	}
}

// after advances the clock.
func (c *conn) after(d time.Duration) *conn { c.now += int64(d); return c }

// meta builds a segment from side d (0 client, 1 server).
func (c *conn) meta(d int, flags uint8, seq uint32, n int) decode.Meta {
	m := decode.Meta{
		Timestamp: c.now, IPVersion: 4, Proto: decode.ProtoTCP, L4Decoded: true,
		TCPFlags: flags, Seq: seq, Ack: c.seq[1-d], Window: c.win[d], WinScale: -1,
		PayloadLen: n, WireLen: 54 + n,
	}
	a, b := c.cli, c.srv
	if d == 1 {
		a, b = b, a
	}
	m.Src, m.SrcPort, m.Dst, m.DstPort = a.Addr(), a.Port(), b.Addr(), b.Port()
	return m
}

// send sends a segment carrying n bytes and advances the sender's seq.
func (c *conn) send(d int, flags uint8, n int) *conn {
	m := c.meta(d, flags, c.seq[d], n)
	c.tab.Packet(&m)
	adv := uint32(n)
	if flags&(fS|fF) != 0 {
		adv++
	}
	c.seq[d] += adv
	return c
}

// resend sends a segment at an explicit seq without advancing.
func (c *conn) resend(d int, flags uint8, seq uint32, n int) *conn {
	m := c.meta(d, flags, seq, n)
	c.tab.Packet(&m)
	return c
}

func (c *conn) handshake() *conn {
	c.send(0, fS, 0).after(100 * time.Microsecond)
	c.send(1, fS|fA, 0).after(300 * time.Microsecond)
	return c.send(0, fA, 0)
}

type collector struct{ recs []Record }

func (c *collector) table(cfg Config) *Table {
	cfg.OnRecord = func(r *Record) { c.recs = append(c.recs, *r) }
	return NewTable(cfg)
}

func (c *collector) one(t *testing.T) Record {
	t.Helper()
	if len(c.recs) != 1 {
		t.Fatalf("got %d records, want 1: %+v", len(c.recs), c.recs)
	}
	return c.recs[0]
}

func TestTable_CloseTypes(t *testing.T) {
	tests := []struct {
		name  string
		run   func(c *conn)
		want  CloseType
		check func(t *testing.T, r Record)
	}{
		{"Finish", func(c *conn) {
			c.handshake().after(time.Millisecond)
			c.send(0, fP|fA, 100).after(time.Millisecond)
			c.send(1, fP|fA, 200).after(time.Millisecond)
			c.send(0, fF|fA, 0).send(1, fF|fA, 0).send(0, fA, 0)
		}, CloseFinish, func(t *testing.T, r Record) {
			if r.FinCount != 2 || r.PacketTx != 5 || r.PacketRx != 3 || r.L4ByteTx != 100 || r.L4ByteRx != 200 {
				t.Errorf("counters: %+v", r)
			}
			if !r.HasRTT || r.RTTServer != 100 || r.RTTClient != 300 || r.RTT != 400 {
				t.Errorf("rtt %v/%d %d %d", r.HasRTT, r.RTT, r.RTTClient, r.RTTServer)
			}
			if r.ARTCount != 1 || r.ARTMax != 1000 {
				t.Errorf("art count %d max %d", r.ARTCount, r.ARTMax)
			}
		}},
		{"ServerReset refused port", func(c *conn) {
			c.send(0, fS, 0).send(1, fR|fA, 0)
		}, CloseServerReset, nil},
		{"ClientSynRepeat silent port", func(c *conn) {
			c.send(0, fS, 0).after(time.Second)
			c.resend(0, fS, c.seq[0]-1, 0).after(2 * time.Second)
			c.resend(0, fS, c.seq[0]-1, 0)
		}, CloseClientSynRepeat, func(t *testing.T, r Record) {
			if r.SynCount != 3 || r.RetransSyn != 2 || r.RetransTx != 2 {
				t.Errorf("syn %d retrans_syn %d retrans_tx %d", r.SynCount, r.RetransSyn, r.RetransTx)
			}
		}},
		{"ServerSynAckRepeat", func(c *conn) {
			c.send(0, fS, 0).send(1, fS|fA, 0).after(time.Second)
			c.resend(1, fS|fA, c.seq[1]-1, 0)
		}, CloseServerSynAckRepeat, func(t *testing.T, r Record) {
			if r.SynAckCount != 2 || r.RetransSynAck != 1 {
				t.Errorf("synack %d retrans %d", r.SynAckCount, r.RetransSynAck)
			}
		}},
		{"TcpServerRst mid-transfer", func(c *conn) {
			c.handshake().send(0, fP|fA, 10).send(1, fP|fA, 1000).send(1, fR|fA, 0)
		}, CloseTCPServerRst, nil},
		{"TcpClientRst", func(c *conn) {
			c.handshake().send(0, fP|fA, 10).send(1, fP|fA, 1000).send(0, fR|fA, 0)
		}, CloseTCPClientRst, nil},
		{"TcpFinClientRst health check", func(c *conn) {
			c.send(0, fS, 0).send(1, fS|fA, 0).send(0, fR, 0)
		}, CloseTCPFinClientRst, nil},
		{"ClientEstablishReset", func(c *conn) {
			c.send(0, fS, 0).send(1, fS|fA, 0).send(0, fP|fA, 5).send(0, fR, 0)
		}, CloseTCPClientRst, nil},
		{"ServerEstablishReset", func(c *conn) {
			c.send(0, fS, 0).send(1, fS|fA, 0).send(1, fR|fA, 0)
		}, CloseServerEstablishReset, nil},
		{"ServerHalfClose", func(c *conn) {
			c.handshake().send(0, fF|fA, 0).send(1, fA, 0)
		}, CloseServerHalfClose, nil},
		{"ClientHalfClose", func(c *conn) {
			c.handshake().send(1, fF|fA, 0).send(0, fA, 0)
		}, CloseClientHalfClose, nil},
		{"Timeout established", func(c *conn) {
			// A zero-µs sample would not count (DeepFlow's rule): time passes.
			c.handshake().send(0, fP|fA, 10).after(time.Millisecond).send(1, fA, 0)
		}, CloseTimeout, func(t *testing.T, r Record) {
			if r.SRTCount != 1 {
				t.Errorf("srt count %d", r.SRTCount)
			}
		}},
		{"ClientSourcePortReuse", func(c *conn) {
			c.send(0, fS, 0).resend(1, fA, 777, 0).send(0, fR, 0)
		}, CloseClientSourcePortReuse, nil},
		{"ServerQueueLack", func(c *conn) {
			c.handshake().send(0, fP|fA, 10)
			c.resend(1, fS|fA, c.seq[1]-1, 0)
		}, CloseServerQueueLack, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var col collector
			tab := col.table(Config{})
			c := newConn(t, tab)
			tc.run(c)
			tab.Flush()
			r := col.one(t)
			if r.CloseType != tc.want {
				t.Fatalf("close type %v, want %v", r.CloseType, tc.want)
			}
			if r.IP0 != cliAddr || r.ClientPort != 51000 || r.ServerPort != 80 {
				t.Errorf("orientation %v:%d -> %v:%d", r.IP0, r.ClientPort, r.IP1, r.ServerPort)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestTable_Timeouts(t *testing.T) {
	var col collector
	tab := col.table(Config{})
	c := newConn(t, tab)
	c.send(0, fS, 0).send(1, fR|fA, 0)
	// Another flow's packet 1s later expires the refused one (OpeningRst).
	c.after(999 * time.Millisecond)
	m := decode.Meta{Timestamp: c.now, IPVersion: 4, Proto: decode.ProtoUDP, L4Decoded: true,
		Src: cliAddr, Dst: srvAddr, SrcPort: 5353, DstPort: 53, WireLen: 80, PayloadLen: 38}
	tab.Packet(&m)
	if len(col.recs) != 0 {
		t.Fatalf("closed before the timeout: %+v", col.recs)
	}
	m.Timestamp += int64(time.Millisecond)
	tab.Packet(&m)
	if len(col.recs) != 1 || col.recs[0].CloseType != CloseServerReset {
		t.Fatalf("records %+v", col.recs)
	}
	// A single-direction UDP flow times out after Other (5s).
	m.Timestamp += int64(5 * time.Second)
	tab.Packet(&m)
	if len(col.recs) != 2 || col.recs[1].Protocol != decode.ProtoUDP || col.recs[1].PacketTx != 2 {
		t.Fatalf("records %+v", col.recs)
	}
	tab.Flush()
	if len(col.recs) != 3 || tab.Stats().ActiveFlows != 0 {
		t.Fatalf("after flush: %d records, stats %+v", len(col.recs), tab.Stats())
	}
}

func TestTable_Reopen(t *testing.T) {
	var col collector
	tab := col.table(Config{})
	c := newConn(t, tab)
	c.handshake().send(0, fF|fA, 0).send(1, fF|fA, 0).send(0, fA, 0)
	c.seq = [2]uint32{9000, 90000}
	c.handshake()
	tab.Flush()
	if len(col.recs) != 2 || col.recs[0].CloseType != CloseFinish || col.recs[1].CloseType != CloseTimeout {
		t.Fatalf("records %+v", col.recs)
	}
	if col.recs[0].FlowID == col.recs[1].FlowID {
		t.Errorf("flow ids not unique")
	}
	if tab.Stats().Reopened != 1 {
		t.Errorf("stats %+v", tab.Stats())
	}
}

func TestTable_SeqAnalysis(t *testing.T) {
	var col collector
	tab := col.table(Config{})
	c := newConn(t, tab)
	c.handshake()
	base := c.seq[0]
	c.send(0, fA, 100)              // [0,100)
	c.resend(0, fA, base+200, 100)  // gap [100,200)
	c.resend(0, fA, base+100, 100)  // fills the gap at once: out-of-order
	c.after(time.Second)            //
	c.resend(0, fA, base, 100)      // covered: retransmission
	c.resend(0, fA, base+400, 100)  // gap [300,400)
	c.after(time.Second)            //
	c.resend(0, fA, base+300, 100)  // fills the gap late: retransmission
	c.resend(0, fA, base+499, 1)    // keep-alive shape (1 byte below next): not counted
	c.seq[1]++                      //
	c.win[1] = 0                    //
	c.send(1, fA, 0).send(1, fA, 0) // two zero-window ACKs
	c.send(1, fR, 0)                // RST with window 0 does not count
	tab.Flush()
	r := col.one(t)
	if r.OOOTx != 1 || r.RetransTx != 2 || r.RetransRx != 0 || r.ZeroWinRx != 2 || r.ZeroWinTx != 0 {
		t.Errorf("ooo %d retrans %d/%d zero win %d/%d", r.OOOTx, r.RetransTx, r.RetransRx, r.ZeroWinTx, r.ZeroWinRx)
	}
}

func TestTable_SeqWrap(t *testing.T) {
	var col collector
	tab := col.table(Config{})
	c := newConn(t, tab)
	c.seq[0] = 0xffffff00
	c.handshake()
	for i := 0; i < 10; i++ {
		c.send(0, fA, 100)
	}
	c.resend(0, fA, c.seq[0]-100, 100)
	tab.Flush()
	r := col.one(t)
	if r.RetransTx != 1 || r.OOOTx != 0 {
		t.Errorf("retrans %d ooo %d", r.RetransTx, r.OOOTx)
	}
}

func TestFlow_Swap(t *testing.T) {
	var col collector
	var seen []Dir
	h := &funcHandler{packet: func(f *Flow, m *decode.Meta, d Dir) {
		seen = append(seen, d)
		if len(seen) == 1 && !f.Oriented() {
			if !f.Swap() {
				t.Errorf("Swap refused")
			}
		}
	}}
	tab := col.table(Config{Handler: h})
	// Mid-stream flow: the higher port (51000) is taken as the client; the
	// handler swaps it.
	c := newConn(t, tab)
	c.send(0, fP|fA, 10).send(1, fP|fA, 20)
	tab.Flush()
	r := col.one(t)
	if r.ClientPort != 80 || r.PacketTx != 1 || r.L4ByteTx != 20 || r.L4ByteRx != 10 {
		t.Errorf("after swap: %+v", r)
	}
	if seen[0] != DirTx || seen[1] != DirTx {
		t.Errorf("dirs %v", seen)
	}
	// A SYN-ACK seen first names the server and fixes the orientation.
	col.recs = nil
	tab = col.table(Config{Handler: &funcHandler{packet: func(f *Flow, m *decode.Meta, d Dir) {
		if !f.Oriented() || f.Swap() {
			t.Errorf("oriented flow swapped")
		}
	}}})
	c = newConn(t, tab)
	c.cli = netip.AddrPortFrom(cliAddr, 80)
	c.srv = netip.AddrPortFrom(srvAddr, 51000)
	c.send(1, fS|fA, 0).send(0, fA, 0)
	tab.Flush()
	r = col.one(t)
	if r.ClientPort != 80 || r.ServerPort != 51000 || r.CloseType != CloseTimeout {
		t.Errorf("syn-ack orientation: %+v", r)
	}
}

type funcHandler struct {
	packet func(*Flow, *decode.Meta, Dir)
	close  func(*Flow, *Record)
}

func (h *funcHandler) Packet(f *Flow, m *decode.Meta, d Dir) {
	if h.packet != nil {
		h.packet(f, m, d)
	}
}

func (h *funcHandler) Close(f *Flow, r *Record) {
	if h.close != nil {
		h.close(f, r)
	}
}

func TestTable_MaxFlows(t *testing.T) {
	var col collector
	tab := col.table(Config{MaxFlows: 10})
	m := decode.Meta{IPVersion: 4, Proto: decode.ProtoUDP, L4Decoded: true, Src: cliAddr, Dst: srvAddr, DstPort: 53, WireLen: 60}
	for i := 0; i < 25; i++ {
		m.SrcPort = uint16(1000 + i)
		tab.Packet(&m)
	}
	st := tab.Stats()
	if st.ActiveFlows != 10 || st.DroppedFlows != 15 || st.Counted != 10 {
		t.Fatalf("stats %+v", st)
	}
	tab.Flush()
	if len(col.recs) != 10 {
		t.Fatalf("%d records", len(col.recs))
	}
	// Slots are reused after the flush.
	tab.Packet(&m)
	if st := tab.Stats(); st.ActiveFlows != 1 || st.DroppedFlows != 15 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTable_Fragments(t *testing.T) {
	var col collector
	tab := col.table(Config{})
	// Reassembly on: two fragments without ports, then the one that
	// completes the datagram, decoded to L4.
	m := decode.Meta{IPVersion: 4, Proto: decode.ProtoUDP, Src: srvAddr, Dst: cliAddr, IPID: 7,
		IsFragment: true, FragOffset: 1480, WireLen: 1514}
	tab.Packet(&m)
	m.FragOffset = 2960
	tab.Packet(&m)
	m = decode.Meta{IPVersion: 4, Proto: decode.ProtoUDP, Src: srvAddr, Dst: cliAddr, IPID: 7,
		IsFragment: true, Reassembled: true, L4Decoded: true, SrcPort: 53, DstPort: 40000,
		WireLen: 600, PayloadLen: 4000}
	tab.Packet(&m)
	// Reassembly off: the first fragment first, then one more.
	m.IPID, m.Reassembled, m.FragOffset = 8, false, 0
	tab.Packet(&m)
	m.L4Decoded, m.FragOffset = false, 1480
	tab.Packet(&m)
	// A fragment of an unknown datagram.
	m.IPID = 9
	tab.Packet(&m)
	tab.Flush()
	r := col.one(t)
	if r.PacketRx != 5 || r.ByteRx != 1514*2+600*3 || r.L4ByteRx != 8000 || r.PacketTx != 0 {
		t.Errorf("record %+v", r)
	}
	st := tab.Stats()
	if st.FragMatched != 3 || st.FragUnmatched != 1 || st.Counted != 5 || st.Packets != 6 {
		t.Errorf("stats %+v", st)
	}
}

func TestTable_Snapshot(t *testing.T) {
	var col collector
	tab := col.table(Config{SnapshotInterval: 10 * time.Second})
	c := newConn(t, tab)
	c.handshake()
	for i := 0; i < 30; i++ {
		c.after(time.Second).send(0, fA, 10)
	}
	tab.Flush()
	var pkts uint64
	snaps := 0
	for _, r := range col.recs {
		pkts += r.PacketTx + r.PacketRx
		if r.Snapshot {
			snaps++
			if r.CloseType != CloseForcedReport {
				t.Errorf("snapshot close type %v", r.CloseType)
			}
		}
		if r.FlowID != col.recs[0].FlowID {
			t.Errorf("flow id changed")
		}
	}
	if snaps != 3 || pkts != 33 || col.recs[len(col.recs)-1].Snapshot {
		t.Errorf("%d snapshots, %d packets, records %d", snaps, pkts, len(col.recs))
	}
}

func TestRecord_AppendJSON(t *testing.T) {
	var col collector
	tab := col.table(Config{Handler: &funcHandler{close: func(f *Flow, r *Record) { r.L7Protocol = "HTTP"; r.L7Request = 1 }}})
	c := newConn(t, tab)
	c.handshake().send(0, fP|fA, 100).send(1, fP|fA, 200)
	tab.Flush()
	r := col.one(t)
	b := r.AppendJSON(nil)
	if !strings.HasPrefix(string(b), `{"type":"l4_flow_log","flow_id":`) {
		t.Errorf("prefix: %s", b)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	want := strings.Fields(`type flow_id start_time end_time duration ip_0 ip_1 client_port server_port
		protocol l7_protocol close_type packet_tx packet_rx byte_tx byte_rx l4_byte_tx l4_byte_rx
		rtt rtt_client rtt_server srt_max srt_sum srt_count art_max art_sum art_count retrans_tx retrans_rx
		zero_win_tx zero_win_rx ooo_tx ooo_rx syn_count synack_count retrans_syn retrans_synack fin_count
		l7_request l7_response l7_client_error l7_server_error l7_server_timeout`)
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("key %s missing", k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d keys, want %d: %s", len(got), len(want), b)
	}
	if got["start_time"] != "2026-01-02T03:04:05.000000000Z" || got["protocol"] != "TCP" ||
		got["l7_protocol"] != "HTTP" || got["ip_0"] != "10.0.0.1" || got["close_type"] != "Timeout" {
		t.Errorf("values: %s", b)
	}
	if a := testing.AllocsPerRun(100, func() { b = r.AppendJSON(b[:0]) }); a != 0 {
		t.Errorf("AppendJSON allocates %v", a)
	}
	if txt := string(r.AppendText(nil)); !strings.HasPrefix(txt, "flow ") || !strings.Contains(txt, "10.0.0.1:51000 -> 10.0.0.2:80") {
		t.Errorf("text %q", txt)
	}
}

func TestFlow_Size(t *testing.T) {
	// A flow takes its Flow, 8 bytes of links and 16 of index at half
	// load; a TCP flow its tcpState too: 252 of the 256 per flow.
	f, s := unsafe.Sizeof(Flow{}), unsafe.Sizeof(tcpState{})
	if f > 136 {
		t.Errorf("Flow is %d bytes, budget 136", f)
	}
	if f+s > 232 {
		t.Errorf("Flow and tcpState are %d+%d bytes, budget 232", f, s)
	}
}

func TestTable_PacketAllocs(t *testing.T) {
	tab := NewTable(Config{OnRecord: func(*Record) {}})
	c := newConn(t, tab)
	c.handshake()
	m := c.meta(0, fA, c.seq[0], 100)
	u := decode.Meta{IPVersion: 6, Proto: decode.ProtoUDP, L4Decoded: true,
		Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), SrcPort: 1, DstPort: 53}
	// Warm up: flows come and go (timeouts) without allocating once the
	// slab and index have grown.
	for i := 0; i < 5000; i++ {
		u.SrcPort = uint16(i)
		u.Timestamp = m.Timestamp
		tab.Packet(&u)
	}
	i := 0
	a := testing.AllocsPerRun(2000, func() {
		i++
		m.Seq += 100
		m.Timestamp += int64(time.Millisecond)
		tab.Packet(&m)
		u.SrcPort = uint16(i % 5000)
		u.Timestamp = m.Timestamp
		tab.Packet(&u)
	})
	if a != 0 {
		t.Errorf("Packet allocates %v per run", a)
	}
}

func TestTable_RetransSynSaturates(t *testing.T) {
	for _, tc := range []struct {
		name      string
		syns      int
		count, rt uint32
	}{
		{"one", 1, 1, 0},
		{"max", 65535, 65535, 65534},
		{"max+1", 65536, 65535, 65535},
		{"max+2", 65537, 65535, 65535},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []Record
			tab := NewTable(Config{OnRecord: func(r *Record) { got = append(got, *r) }})
			m := decode.Meta{IPVersion: 4, Proto: decode.ProtoTCP, L4Decoded: true, TCPFlags: fS,
				Src: cliAddr, Dst: srvAddr, SrcPort: 40000, DstPort: 80, WireLen: 60, Timestamp: 1}
			for i := 0; i < tc.syns; i++ {
				tab.Packet(&m)
				// The server's SYN-ACKs count the same way.
				s := m
				s.Src, s.Dst, s.SrcPort, s.DstPort, s.TCPFlags = srvAddr, cliAddr, 80, 40000, fS|fA
				tab.Packet(&s)
			}
			tab.Flush()
			if len(got) != 1 {
				t.Fatalf("%d records", len(got))
			}
			r := got[0]
			if r.SynCount != tc.count || r.RetransSyn != tc.rt || r.SynAckCount != tc.count || r.RetransSynAck != tc.rt {
				t.Errorf("syn %d/%d synack %d/%d, want %d/%d", r.SynCount, r.RetransSyn, r.SynAckCount, r.RetransSynAck, tc.count, tc.rt)
			}
		})
	}
}

// TestTable_FlushThenReuse: after Flush the table is empty and takes new
// flows in the freed slots, newest freed first, with the next generation.
func TestTable_FlushThenReuse(t *testing.T) {
	var ids []uint64
	tab := NewTable(Config{OnRecord: func(r *Record) { ids = append(ids, r.FlowID) }})
	m := decode.Meta{IPVersion: 4, Proto: decode.ProtoUDP, L4Decoded: true, Src: cliAddr, Dst: srvAddr,
		DstPort: 53, WireLen: 80, Timestamp: 1}
	send := func(ports ...uint16) {
		for _, p := range ports {
			m.SrcPort = p
			m.Timestamp++
			tab.Packet(&m)
		}
	}
	send(1000, 1001, 1002, 1000)
	tab.Flush()
	if st := tab.Stats(); st.ActiveFlows != 0 || st.Records != 3 {
		t.Fatalf("after the first Flush: %+v", st)
	}
	send(1001, 1003, 1001, 1004, 1005)
	tab.Flush()
	// Slots 2, 1, 0 are reused in that order, then slot 3 is new; Flush
	// reports in slot order.
	want := []uint64{1, 2, 3, 1<<32 | 1, 1<<32 | 2, 1<<32 | 3, 4}
	if !slices.Equal(ids, want) {
		t.Errorf("ids %x, want %x", ids, want)
	}
	if st := tab.Stats(); st.ActiveFlows != 0 || st.Records != 7 || st.Flows != 7 {
		t.Errorf("stats %+v", st)
	}
}

func TestAppendMicros_MatchesFloat(t *testing.T) {
	ref := func(us int64) string {
		switch {
		case us < 1000 && us > -1000:
			return strconv.FormatInt(us, 10) + "us"
		case us < 1000000 && us > -1000000:
			return strconv.FormatFloat(float64(us)/1e3, 'f', -1, 64) + "ms"
		}
		return strconv.FormatFloat(float64(us)/1e6, 'f', -1, 64) + "s"
	}
	vals := []int64{0, 1, -1, 999, -999, 1000, -1000, 1001, 1500, -1500, 999999, -999999, 1000000, -1000000,
		1234567, 3200000, 1e15 - 1, 1e15, -1e15 + 1, -1e15, 1 << 53, 1<<53 - 1, -(1 << 53), -(1<<53 - 1), math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 300000; i++ {
		v := int64(r.Uint64() >> (r.Uint64() % 64))
		if r.Uint64()&1 == 0 {
			v = -v
		}
		vals = append(vals, v)
	}
	for _, v := range vals {
		if got, want := string(appendMicros(nil, v)), ref(v); got != want {
			t.Fatalf("appendMicros(%d) = %s, want %s", v, got, want)
		}
	}
}

func TestFlow_NextSeq(t *testing.T) {
	type seen struct {
		next, lo, hi uint32
		ok, gap      bool
	}
	var got seen
	h := &funcHandler{packet: func(f *Flow, m *decode.Meta, d Dir) {
		got = seen{}
		got.next, got.ok = f.NextSeq(d)
		got.lo, got.hi, got.gap = f.SeqGap(d)
	}}
	tab := NewTable(Config{Handler: h})
	c := newConn(t, tab)
	c.send(0, fS, 0)
	if want := (seen{next: 1001, ok: true}); got != want {
		t.Fatalf("after the SYN: %+v, want %+v", got, want)
	}
	c.send(1, fS|fA, 0).send(0, fA, 0)
	// The client's second segment arrives ahead of its first: the gap
	// starts right after the SYN.
	c.resend(0, fA|fP, 1011, 5)
	if want := (seen{next: 1016, ok: true, lo: 1001, hi: 1011, gap: true}); got != want {
		t.Fatalf("after a segment ahead: %+v, want %+v", got, want)
	}
	c.resend(0, fA|fP, 1001, 10)
	if want := (seen{next: 1016, ok: true}); got != want {
		t.Fatalf("after the gap filled: %+v, want %+v", got, want)
	}
}

// TestFlow_CarriedPayload: a flow reports payload from its first packet
// that carries some (that packet included), and keeps reporting it.
func TestFlow_CarriedPayload(t *testing.T) {
	var col collector
	var got []bool
	tab := col.table(Config{Handler: &funcHandler{packet: func(f *Flow, m *decode.Meta, d Dir) {
		got = append(got, f.CarriedPayload())
	}}})
	c := newConn(t, tab)
	c.send(0, fS, 0).send(1, fS|fA, 0).send(0, fA, 0).send(0, fP|fA, 10).send(1, fA, 0)
	want := []bool{false, false, false, true, true}
	if len(got) != len(want) {
		t.Fatalf("%d Packet calls, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d: CarriedPayload %v, want %v", i, got[i], want[i])
		}
	}
}
