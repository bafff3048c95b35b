package mysql

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// idleConns is how many connections the idle memory tests hold open.
const idleConns = 10_000

// chunk is one payload of a recorded connection.
type chunk struct {
	dir l7.Direction
	seq uint32
	b   []byte
}

// conversationPrefix returns the in-order payloads of the TCP connection
// of the capture at path whose client port is port, or with port 0 of the
// busiest one (the most payload packets; the first such in capture
// order), at most max of them, cut after its last
// server-to-client payload: a connection whose requests were answered
// and that now waits, open, for its next request. Retransmitted bytes are
// dropped.
func conversationPrefix(t *testing.T, path string, port uint16, max int) []chunk {
	t.Helper()
	type key struct{ a, b netip.AddrPort }
	conns := map[key][]chunk{}
	next := map[netip.AddrPort]uint32{}
	client := map[key]netip.AddrPort{}
	var order []key
	for _, p := range l7test.Packets(t, path) {
		if p.UDP {
			continue
		}
		k := key{p.Src, p.Dst}
		if p.Dst.Addr().Less(p.Src.Addr()) || p.Dst.Addr() == p.Src.Addr() && p.Dst.Port() < p.Src.Port() {
			k = key{p.Dst, p.Src}
		}
		if _, ok := client[k]; !ok {
			c := p.Src
			if p.Flags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn|decode.TCPAck {
				c = p.Dst
			}
			client[k] = c
			order = append(order, k)
		}
		if p.Flags&decode.TCPSyn != 0 {
			next[p.Src] = p.Seq + 1
			continue
		}
		if len(p.Payload) == 0 {
			continue
		}
		if n, ok := next[p.Src]; ok && int32(p.Seq+uint32(len(p.Payload))-n) <= 0 {
			continue // a retransmission
		}
		next[p.Src] = p.Seq + uint32(len(p.Payload))
		dir := l7.ToServer
		if p.Src != client[k] {
			dir = l7.ToClient
		}
		conns[k] = append(conns[k], chunk{dir, p.Seq, p.Payload})
	}
	var best []chunk
	for _, k := range order {
		if port != 0 && client[k].Port() == port {
			best = conns[k]
			break
		}
		if port == 0 && len(conns[k]) > len(best) {
			best = conns[k]
		}
	}
	best = best[:min(len(best), max)]
	for len(best) > 0 && best[len(best)-1].dir != l7.ToClient {
		best = best[:len(best)-1]
	}
	if len(best) == 0 {
		t.Fatalf("%s: no answered connection", path)
	}
	return best
}

// idleBytes opens n connections in one engine whose registry
// holds d alone, feeds each the chunks of conv and leaves it open, and
// returns the heap bytes per connection that the engine then holds, and
// the records it emitted.
func idleBytes(t *testing.T, d l7.Decoder, conv []chunk, n int) (float64, int) {
	t.Helper()
	reg, err := l7.NewRegistry(d)
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	e, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(*l7.Record) { records++ }})
	if err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddrPort("10.9.0.1:3306")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	ts := int64(1_700_000_000e9)
	for i := range n {
		a := [4]byte{10, 1, byte(i >> 8), byte(i)}
		c := e.Open(l7.ConnInfo{
			ID:        uint64(i + 1),
			Client:    netip.AddrPortFrom(netip.AddrFrom4(a), uint16(40000+i%20000)),
			Server:    server,
			Transport: l7.TCP,
			Oriented:  true,
		}, ts)
		for _, ch := range conv {
			ts += 1000
			c.Data(ch.dir, ts, ch.seq, ch.b)
		}
	}
	// The sync.Pool of parser scratch empties over two collections: what
	// stays is what the open connections hold.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(e)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n), records
}

// TestParser_IdleMemory measures the heap an idle MySQL connection holds
// in the engine (its Conn and its parser) after recorded conversations
// (text queries; prepared statements; the compressed protocol), and
// bounds it: the parser keeps its framing, the connection's names and
// capabilities and its prepared statements between messages, and gives the
// values of the last message (endpoint, result text), the inflated bytes
// and the deflate reader back to pools.
func TestParser_IdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections")
	}
	for _, tc := range []struct {
		name, file string
		port       uint16
		max        int // chunks of the conversation
		conns      int
		bound      int
	}{
		{"queries", "mysql.pcap", 57230, 60, idleConns, idleBound},
		{"prepared", "mysql.pcap", 57246, 60, idleConns, idleBound + stmtBound},
		// The login and a query answered by one compressed frame.
		{"compressed", "mysql-compressed.pcap", 0, 5, idleConns, idleBound},
		// Then a response of 100 KiB inflated, in 69 segments, and
		// another query: fewer connections, to stay fast.
		{"compressed-large", "mysql-compressed.pcap", 0, 80, idleConns / 10, idleBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conv := conversationPrefix(t, testutil.Testdata(t, filepath.Join("l7", tc.file)), tc.port, tc.max)
			per, records := idleBytes(t, New(nil), conv, tc.conns)
			t.Logf("%d chunks per connection, %d records, %.0f bytes per idle connection", len(conv), records/tc.conns, per)
			if records < tc.conns {
				t.Fatalf("%d records for %d connections: the conversation was not decoded", records, tc.conns)
			}
			if per > float64(tc.bound) {
				t.Errorf("%.0f bytes per idle connection, want at most %d", per, tc.bound)
			}
		})
	}
}

// idleBound bounds the bytes of an idle connection: the engine's Conn
// and the parser without its scratch (368 bytes). With the scratch, the
// table of prepared statements made with the parser, the deflate reader
// and the inflated bytes held, it was 4,000 bytes (queries), 44,600
// (compressed) and 77,200 (compressed-large).
const idleBound = 1100

// stmtBound bounds the bytes of the prepared statements' table with two
// statements of about 80 bytes.
const stmtBound = 900

// TestParser_Idle: over the compressed protocol, Idle between frames
// keeps the inflated start of a packet that the next frame completes and
// gives back everything else, and the parser decodes what one never idle
// decodes.
func TestParser_Idle(t *testing.T) {
	caps := uint32(baseCaps | ClientCompress)
	rs := resultSet(40, false)
	half := len(rs) / 2
	steps := []step{
		{l7.ToClient, greetingPkt("8.0.36", caps)},
		{l7.ToServer, loginPkt(caps, "root", "shop")},
		{l7.ToClient, okPkt(2, 0, 2)},
		{l7.ToServer, compress(t, 0, 6, query("select a from t where b = 'long enough to be worth deflating'"))},
		{l7.ToClient, compress(t, 1, 6, rs[:half])}, // ends inside a row
		{l7.ToClient, compress(t, 2, 6, rs[half:])},
		{l7.ToServer, compress(t, 0, 0, query("select nope"))},
		{l7.ToClient, compress(t, 1, 6, errPkt(1, 1054, "Unknown column 'nope'"))},
	}
	for _, split := range []bool{false, true} {
		p, ref := newParser(), newParser()
		msgs := 0
		for i, s := range steps {
			got, err := run(t, p, []step{s}, split)
			if err != nil {
				t.Fatal(err)
			}
			msgs += len(got)
			want, _ := run(t, ref, []step{s}, split)
			if summary(got) != summary(want) {
				t.Errorf("split %v step %d: got\n%s\nwant\n%s", split, i, summary(got), summary(want))
			}
			p.Idle()
			if p.sc != nil {
				t.Errorf("split %v step %d: an idle parser holds its scratch", split, i)
			}
			for d, pb := range p.plain {
				switch {
				case pb != nil && p.plainOff[d] >= len(pb.b):
					t.Errorf("split %v step %d: an idle parser holds parsed bytes", split, i)
				case i == 4 && d == server && len(p.unparsed(d)) == 0:
					t.Errorf("split %v step %d: the start of a cut packet is lost", split, i)
				}
			}
		}
		if msgs != 4 || !p.Compressed() {
			t.Errorf("split %v: %d messages (compressed %v), want 4", split, msgs, p.Compressed())
		}
	}
}

// TestParser_IdlePendingDatabase: the database a USE or COM_INIT_DB names
// survives Idle until the server's answer, and its buffer goes back once
// no change is pending.
func TestParser_IdlePendingDatabase(t *testing.T) {
	p := newParser()
	steps := []struct {
		s       step
		db      string
		pending bool
	}{
		{step{l7.ToServer, pkt(0, []byte{ComInitDB}, []byte("other"))}, "", true},
		{step{l7.ToClient, okPkt(1, 0, 2)}, "other", false},
		{step{l7.ToServer, query("USE `third`")}, "other", true},
		{step{l7.ToClient, errPkt(1, 1049, "Unknown database 'third'")}, "other", false},
		{step{l7.ToServer, query("use shop")}, "other", true},
		{step{l7.ToClient, okPkt(1, 0, 2)}, "shop", false},
	}
	for i, st := range steps {
		if _, err := run(t, p, []step{st.s}, false); err != nil {
			t.Fatal(err)
		}
		p.Idle()
		if got := string(p.Database()); got != st.db {
			t.Errorf("step %d: database %q, want %q", i, got, st.db)
		}
		if (p.pendingDB != nil) != st.pending {
			t.Errorf("step %d: pending buffer held %v, want %v", i, p.pendingDB != nil, st.pending)
		}
	}
}
