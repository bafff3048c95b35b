package mysql

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

type benchCase struct {
	name       string
	dir        l7.Direction
	cmd        []byte // the command that precedes a response case (nil for requests)
	data       []byte
	compressed bool
}

func benchCases() []benchCase {
	return []benchCase{
		{"query", l7.ToServer, nil, query("SELECT id, name FROM users WHERE id = 42"), false},
		{"ok", l7.ToClient, query("update t set a = 1"), okPkt(1, 1, 2), false},
		{"err", l7.ToClient, query("select nope"), errPkt(1, 1054, "Unknown column 'nope' in 'field list'"), false},
		{"resultset-10rows", l7.ToClient, query("select a from t"), resultSet(10, false), false},
		{"resultset-100rows-deprecate-eof", l7.ToClient, query("select a from t"), resultSet(100, true), false},
		{"stmt-execute", l7.ToServer, nil, pkt(0, []byte{ComStmtExecute, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 0, 1, 0, 0, 0}), false},
		{"compressed-resultset-10rows", l7.ToClient, compress(nil, 0, 0, query("select a from t")), compress(nil, 1, 6, resultSet(10, false)), true},
		// A statement prepared again and again (its SQL kept in the
		// table), as database/sql does for each query with arguments.
		{"stmt-prepare", l7.ToClient, pkt(0, []byte{ComStmtPrepare}, []byte("SELECT name FROM users WHERE id = ?")),
			cat(pkt(1, []byte{0, 7, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}), colDef(2, "?"), eofPkt(3, 2), colDef(4, "name"), eofPkt(5, 2)), false},
	}
}

// parseAll consumes data as Parse is meant to be called and returns
// whether a message completed.
func parseAll(p *Parser, data []byte, dir l7.Direction, m *l7.Message) bool {
	done := false
	for len(data) > 0 {
		m.Reset()
		n, ok, err := p.Parse(data, dir, m)
		if err != nil {
			return false
		}
		done = done || ok
		data = data[n:]
	}
	return done
}

func TestAllocs(t *testing.T) {
	for _, tc := range benchCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := newParser()
			p.compressed = tc.compressed
			var m l7.Message
			allocs := testing.AllocsPerRun(100, func() {
				if tc.cmd != nil {
					parseAll(p, tc.cmd, l7.ToServer, &m)
				}
				if !parseAll(p, tc.data, tc.dir, &m) {
					t.Fatal("no message")
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocs per message", allocs)
			}
			d := New(nil)
			if a := testing.AllocsPerRun(100, func() { d.Check(tc.data, tc.dir, l7.TCP) }); a != 0 {
				t.Errorf("%v allocs per Check", a)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, tc := range benchCases() {
		b.Run(tc.name, func(b *testing.B) {
			p := newParser()
			p.compressed = tc.compressed
			var m l7.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				if tc.cmd != nil {
					parseAll(p, tc.cmd, l7.ToServer, &m)
				}
				parseAll(p, tc.data, tc.dir, &m)
			}
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	q := query("SELECT id, name FROM users WHERE id = 42")
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	d := New(nil)
	for b.Loop() {
		d.Check(q, l7.ToServer, l7.TCP)
	}
}

// BenchmarkCheckOther: Check on a full segment of another protocol, which
// it rejects after looking for a packet chain at every offset.
func BenchmarkCheckOther(b *testing.B) {
	text := []byte(strings.Repeat("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n", 40))[:1448]
	bin := make([]byte, 1448)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range bin {
		bin[i] = byte(r.Uint32())
	}
	small := make([]byte, 1448) // small integers, as in many binary protocols
	for i := range small {
		small[i] = byte(i % 7)
	}
	d := New(nil)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"text", text}, {"random", bin}, {"small", small}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				if d.Check(tc.data, l7.ToServer, l7.TCP) != l7.No {
					b.Fatal("accepted")
				}
			}
		})
	}
}
