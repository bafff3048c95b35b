package mysql

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// idleConns is how many connections the idle memory tests hold open.
const idleConns = 10_000

// idleServer is the server of the idle memory tests' connections.
var idleServer = netip.MustParseAddrPort("10.9.0.1:3306")

// TestParser_IdleMemory measures the heap an idle MySQL connection holds
// in the engine (its Conn and its parser) after recorded conversations
// (text queries; prepared statements; the compressed protocol), and
// bounds it: the parser keeps its framing, the connection's names and
// capabilities and its prepared statements between messages, and gives the
// values of the last message (endpoint, result text), the inflated bytes
// and the deflate decoder's tables back to pools.
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
			conv := l7test.ConnSegments(t, testutil.Testdata(t, filepath.Join("l7", tc.file)), tc.port, tc.max)
			per, records := l7test.IdleBytesPerConn(t, New(nil), idleServer, conv, tc.conns)
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
