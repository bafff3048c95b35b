package mysql

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// pkt frames a MySQL packet.
func pkt(seq byte, body ...[]byte) []byte {
	var b []byte
	for _, x := range body {
		b = append(b, x...)
	}
	h := []byte{byte(len(b)), byte(len(b) >> 8), byte(len(b) >> 16), seq}
	return append(h, b...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func greetingPkt(version string, caps uint32) []byte {
	b := []byte{10}
	b = append(b, version...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 42) // connection id
	b = append(b, "12345678"...)                // auth data 1
	b = append(b, 0)                            // filler
	b = binary.LittleEndian.AppendUint16(b, uint16(caps))
	b = append(b, 33)                          // charset
	b = binary.LittleEndian.AppendUint16(b, 2) // status
	b = binary.LittleEndian.AppendUint16(b, uint16(caps>>16))
	b = append(b, 21)
	b = append(b, make([]byte, 10)...)
	b = append(b, "123456789012\x00mysql_native_password\x00"...)
	return pkt(0, b)
}

func loginPkt(caps uint32, user, db string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, caps)
	b = binary.LittleEndian.AppendUint32(b, 1<<24)
	b = append(b, 33)
	b = append(b, make([]byte, 23)...)
	if len(user) == 0 && caps&ClientSSL != 0 {
		return pkt(1, b)
	}
	b = append(b, user...)
	b = append(b, 0, 20)
	b = append(b, make([]byte, 20)...)
	if caps&ClientConnectWithDB != 0 {
		b = append(b, db...)
		b = append(b, 0)
	}
	b = append(b, "mysql_native_password\x00"...)
	return pkt(1, b)
}

func okPkt(seq byte, affected byte, status uint16) []byte {
	return pkt(seq, []byte{0, affected, 0, byte(status), byte(status >> 8), 0, 0})
}

func eofPkt(seq byte, status uint16) []byte {
	return pkt(seq, []byte{0xfe, 0, 0, byte(status), byte(status >> 8)})
}

func errPkt(seq byte, code uint16, msg string) []byte {
	return pkt(seq, []byte{0xff, byte(code), byte(code >> 8)}, []byte("#42000"), []byte(msg))
}

func colDef(seq byte, name string) []byte {
	lstr := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	return pkt(seq, lstr("def"), lstr("db"), lstr("t"), lstr("t"), lstr(name), lstr(name),
		[]byte{0x0c, 33, 0, 0, 1, 0, 0, 0xfd, 0, 0, 0, 0, 0})
}

func textRow(seq byte, vals ...string) []byte {
	var b []byte
	for _, v := range vals {
		b = append(b, byte(len(v)))
		b = append(b, v...)
	}
	return pkt(seq, b)
}

func query(sql string) []byte { return pkt(0, []byte{ComQuery}, []byte(sql)) }

// resultSet builds a text result set of n rows of one column.
func resultSet(n int, deprecateEOF bool) []byte {
	seq := byte(1)
	next := func() byte { seq++; return seq - 1 }
	b := cat(pkt(next(), []byte{1}), colDef(next(), "a"))
	if !deprecateEOF {
		b = append(b, eofPkt(next(), 2)...)
	}
	for i := range n {
		b = append(b, textRow(next(), strings.Repeat("x", i%10))...)
	}
	if deprecateEOF {
		return append(b, pkt(next(), []byte{0xfe, 0, 0, 2, 0, 0, 0})...)
	}
	return append(b, eofPkt(next(), 2)...)
}

type step struct {
	dir  l7.Direction
	data []byte
}

// run feeds the steps through one parser, each step's bytes in one piece
// (or byte by byte with split), and returns the messages.
func run(t *testing.T, p *Parser, steps []step, split bool) ([]l7.Message, error) {
	t.Helper()
	var out []l7.Message
	for _, s := range steps {
		var buf []byte
		data := s.data
		for len(data) > 0 || len(buf) > 0 {
			if split && len(data) > 0 {
				buf = append(buf, data[0])
				data = data[1:]
			} else if len(data) > 0 {
				buf = append(buf, data...)
				data = nil
			}
			var m l7.Message
			n, ok, err := p.Parse(buf, s.dir, &m)
			if n > len(buf) {
				t.Fatalf("n %d > %d", n, len(buf))
			}
			if ok {
				m.RequestType = append([]byte(nil), m.RequestType...)
				m.RequestResource = append([]byte(nil), m.RequestResource...)
				m.RequestDomain = append([]byte(nil), m.RequestDomain...)
				m.Endpoint = append([]byte(nil), m.Endpoint...)
				m.Result = append([]byte(nil), m.Result...)
				m.Exception = append([]byte(nil), m.Exception...)
				out = append(out, m)
			}
			buf = buf[n:]
			if err == l7.ErrNeedMore {
				if len(data) == 0 {
					break
				}
				continue
			}
			if err != nil {
				return out, err
			}
			if n == 0 && len(data) == 0 {
				break
			}
		}
		if len(buf) > 0 {
			t.Fatalf("%d bytes left unparsed", len(buf))
		}
	}
	return out, nil
}

func summary(msgs []l7.Message) string {
	var s []string
	for _, m := range msgs {
		switch m.Kind {
		case l7.KindRequest:
			x := "req " + string(m.RequestType) + " " + string(m.RequestResource) + " db=" + string(m.RequestDomain)
			if m.HasRequestID {
				x += " id=" + strconv.Itoa(int(m.RequestID))
			}
			if m.NoResponse {
				x += " noresp"
			}
			s = append(s, x)
		case l7.KindResponse:
			x := "resp " + m.Status.String() + " " + string(m.Result)
			if m.HasCode {
				x += " code=" + strconv.Itoa(int(m.Code)) + " " + string(m.Exception)
			}
			if m.HasRequestID {
				x += " id=" + strconv.Itoa(int(m.RequestID))
			}
			s = append(s, x)
		}
	}
	return strings.Join(s, "\n")
}

const baseCaps = ClientProtocol41 | ClientSecureConnection | ClientPluginAuth | ClientConnectWithDB

func TestParse_Session(t *testing.T) {
	prepOK := pkt(1, []byte{0, 7, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0})
	tests := []struct {
		name  string
		user  string // after the steps
		steps []step
		want  string
	}{
		{
			name: "classic",
			user: "root",
			steps: []step{
				{l7.ToClient, greetingPkt("8.0.36", baseCaps)},
				{l7.ToServer, loginPkt(baseCaps, "root", "shop")},
				{l7.ToClient, okPkt(2, 0, 2)},
				{l7.ToServer, query("select a from t")},
				{l7.ToClient, resultSet(3, false)},
				{l7.ToServer, query("insert into t values (1)")},
				{l7.ToClient, okPkt(1, 1, 2)},
				{l7.ToServer, pkt(0, []byte{ComInitDB}, []byte("other"))},
				{l7.ToClient, okPkt(1, 0, 2)},
				{l7.ToServer, query("select nope")},
				{l7.ToClient, errPkt(1, 1054, "Unknown column 'nope'")},
				{l7.ToServer, pkt(0, []byte{ComPing})},
				{l7.ToClient, okPkt(1, 0, 2)},
				{l7.ToServer, pkt(0, []byte{ComQuit})},
			},
			want: `req COM_QUERY select a from t db=shop
resp Ok rows=3
req COM_QUERY insert into t values (1) db=shop
resp Ok affected_rows=1
req COM_INIT_DB other db=other
resp Ok affected_rows=0
req COM_QUERY select nope db=other
resp ServerError  code=1054 Unknown column 'nope'
req COM_PING  db=other
resp Ok affected_rows=0
req COM_QUIT  db=other noresp`,
		},
		{
			name: "deprecate eof and use",
			user: "app",
			steps: []step{
				{l7.ToClient, greetingPkt("10.11.6-MariaDB", baseCaps|ClientDeprecateEOF)},
				{l7.ToServer, loginPkt(baseCaps|ClientDeprecateEOF, "app", "")},
				{l7.ToClient, okPkt(2, 0, 2)},
				{l7.ToServer, query("USE `shop`;")},
				{l7.ToClient, okPkt(1, 0, 2)},
				{l7.ToServer, query("select a from t")},
				{l7.ToClient, resultSet(2, true)},
				{l7.ToServer, query("select a from empty")},
				{l7.ToClient, resultSet(0, true)},
			},
			want: "req COM_QUERY USE `shop`; db=\nresp Ok affected_rows=0\nreq COM_QUERY select a from t db=shop\nresp Ok rows=2\nreq COM_QUERY select a from empty db=shop\nresp Ok rows=0",
		},
		{
			name: "prepared statements",
			steps: []step{
				{l7.ToServer, pkt(0, []byte{ComStmtPrepare}, []byte("select a from t where b = ?"))},
				{l7.ToClient, cat(prepOK, colDef(2, "b"), eofPkt(3, 2), colDef(4, "a"), eofPkt(5, 2))},
				{l7.ToServer, pkt(0, []byte{ComStmtExecute, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 0, 1, 0, 0, 0})},
				{l7.ToClient, cat(pkt(1, []byte{1}), colDef(2, "a"), eofPkt(3, 2), pkt(4, []byte{0, 0, 1, 'x'}), pkt(5, []byte{0, 0, 1, 'y'}), eofPkt(6, 2))},
				{l7.ToServer, pkt(0, []byte{ComStmtBulkExecute, 7, 0, 0, 0, 0x80, 0, 0, 3, 0, 0, 1, 0, 0, 2})},
				{l7.ToClient, okPkt(1, 2, 2)},
				{l7.ToServer, pkt(0, []byte{ComStmtClose, 7, 0, 0, 0})},
			},
			want: `req COM_STMT_PREPARE select a from t where b = ? db=
resp Ok  id=7
req COM_STMT_EXECUTE select a from t where b = ? db= id=7
resp Ok rows=2
req COM_STMT_BULK_EXECUTE select a from t where b = ? db= id=7
resp Ok affected_rows=2
req COM_STMT_CLOSE select a from t where b = ? db= id=7 noresp`,
		},
		{
			name: "mariadb cached metadata",
			steps: []step{
				{l7.ToServer, pkt(0, []byte{ComStmtExecute, 2, 0, 0, 0, 0, 1, 0, 0, 0})},
				{l7.ToClient, cat(pkt(1, []byte{4, 0}), eofPkt(2, 2), pkt(3, []byte{0, 0, 1, 'x'}), eofPkt(4, 2))},
				{l7.ToServer, pkt(0, []byte{ComStmtExecute, 2, 0, 0, 0, 0, 1, 0, 0, 0})},
				{l7.ToClient, cat(pkt(1, []byte{1, 1}), colDef(2, "a"), eofPkt(3, 2), pkt(4, []byte{0, 0, 1, 'x'}), pkt(5, []byte{0, 0, 1, 'y'}), eofPkt(6, 2))},
			},
			want: "req COM_STMT_EXECUTE  db= id=2\nresp Ok rows=1\nreq COM_STMT_EXECUTE  db= id=2\nresp Ok rows=2",
		},
		{
			name: "multi results",
			steps: []step{
				{l7.ToServer, query("call p()")},
				{l7.ToClient, cat(pkt(1, []byte{1}), colDef(2, "a"), eofPkt(3, 0x0a), textRow(4, "1"), eofPkt(5, 0x0a),
					pkt(6, []byte{1}), colDef(7, "a"), eofPkt(8, 0x0a), textRow(9, "1"), textRow(10, "2"), eofPkt(11, 0x0a),
					okPkt(12, 0, 2))},
			},
			want: "req COM_QUERY call p() db=\nresp Ok rows=3",
		},
		{
			name: "login denied",
			steps: []step{
				{l7.ToClient, greetingPkt("5.7.18", baseCaps)},
				{l7.ToServer, loginPkt(baseCaps, "bob", "x")},
				{l7.ToClient, errPkt(2, 1045, "Access denied for user 'bob'")},
			},
			want: "resp ServerError  code=1045 Access denied for user 'bob'",
		},
		{
			name: "auth switch and caching_sha2 fast auth",
			steps: []step{
				{l7.ToClient, greetingPkt("8.0.32", baseCaps)},
				{l7.ToServer, loginPkt(baseCaps, "root", "")},
				{l7.ToClient, pkt(2, []byte{0xfe}, []byte("caching_sha2_password\x00"), make([]byte, 21))},
				{l7.ToServer, pkt(3, make([]byte, 32))},
				{l7.ToClient, pkt(4, []byte{1, 3})},
				{l7.ToClient, okPkt(5, 0, 2)},
				{l7.ToServer, pkt(0, []byte{ComStatistics})},
				{l7.ToClient, pkt(1, []byte("Uptime: 5  Threads: 1"))},
			},
			want: "req COM_STATISTICS  db=\nresp Ok ",
		},
		{
			name: "change user",
			user: "root2",
			steps: []step{
				{l7.ToServer, pkt(0, []byte{ComChangeUser}, []byte("root2\x00"), make([]byte, 22))},
				{l7.ToClient, pkt(1, []byte{0xfe}, []byte("mysql_native_password\x00"), make([]byte, 21))},
				{l7.ToServer, pkt(2, make([]byte, 20))},
				{l7.ToClient, errPkt(3, 1045, "Access denied")},
			},
			want: "req COM_CHANGE_USER root2 db=\nresp ServerError  code=1045 Access denied",
		},
		{
			name: "greeting replaced by error",
			steps: []step{
				{l7.ToClient, pkt(0, []byte{0xff, 0x6a, 0x04}, []byte("Host 'x' is not allowed to connect"))},
			},
			want: "resp ServerError  code=1130 Host 'x' is not allowed to connect",
		},
		{
			name: "field list and local infile",
			steps: []step{
				{l7.ToServer, pkt(0, []byte{ComFieldList}, []byte("t\x00"))},
				{l7.ToClient, cat(colDef(1, "a"), colDef(2, "b"), eofPkt(3, 2))},
				{l7.ToServer, query("load data local infile 'f' into table t")},
				{l7.ToClient, pkt(1, []byte{0xfb}, []byte("f"))},
				{l7.ToServer, cat(pkt(2, []byte("1\n2\n")), pkt(3))},
				{l7.ToClient, okPkt(4, 2, 2)},
			},
			want: "req COM_FIELD_LIST t db=\nresp Ok \nreq COM_QUERY load data local infile 'f' into table t db=\nresp Ok affected_rows=2",
		},
	}
	for _, tc := range tests {
		for _, split := range []bool{false, true} {
			name := tc.name
			if split {
				name += "/byte by byte"
			}
			t.Run(name, func(t *testing.T) {
				p := newParser()
				msgs, err := run(t, p, tc.steps, split)
				if err != nil {
					t.Fatal(err)
				}
				if got := summary(msgs); got != tc.want {
					t.Errorf("got\n%s\nwant\n%s", got, tc.want)
				}
				if tc.user != "" && string(p.User()) != tc.user {
					t.Errorf("user %q, want %q", p.User(), tc.user)
				}
			})
		}
	}
}

func TestParse_QueryAttributes(t *testing.T) {
	caps := uint32(baseCaps | ClientQueryAttributes)
	attrs := []byte{ComQuery, 2, 1, 0, 1, // 2 params, 1 set, null bitmap, bind flag
		253, 0, 2, 'i', 'd', // VAR_STRING "id"
		8, 0, 1, 'n', // LONGLONG "n"
		3, 'a', 'b', 'c', // "abc"
		1, 0, 0, 0, 0, 0, 0, 0} // 1
	steps := []step{
		{l7.ToClient, greetingPkt("8.0.36", caps)},
		{l7.ToServer, loginPkt(caps, "root", "")},
		{l7.ToClient, okPkt(2, 0, 2)},
		{l7.ToServer, pkt(0, attrs, []byte("select 1"))},
		{l7.ToClient, okPkt(1, 0, 2)},
		{l7.ToServer, pkt(0, []byte{ComQuery, 0, 1}, []byte("select 2"))},
	}
	msgs, err := run(t, newParser(), steps, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summary(msgs), "req COM_QUERY select 1 db=\nresp Ok affected_rows=0\nreq COM_QUERY select 2 db="; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestParse_Stop(t *testing.T) {
	t.Run("tls", func(t *testing.T) {
		p := newParser()
		_, err := run(t, p, []step{
			{l7.ToClient, greetingPkt("8.0.36", baseCaps|ClientSSL)},
			{l7.ToServer, loginPkt(baseCaps|ClientSSL, "", "")},
		}, false)
		if err != l7.ErrStop || p.Stopped() != StopTLS {
			t.Fatalf("err %v, stopped %v", err, p.Stopped())
		}
	})
	t.Run("zstd", func(t *testing.T) {
		p := newParser()
		_, err := run(t, p, []step{
			{l7.ToClient, greetingPkt("8.0.36", baseCaps|ClientZstdCompression)},
			{l7.ToServer, loginPkt(baseCaps|ClientZstdCompression, "root", "")},
			{l7.ToClient, okPkt(2, 0, 2)},
		}, false)
		if err != l7.ErrStop || p.Stopped() != StopCompressed {
			t.Fatalf("err %v, stopped %v", err, p.Stopped())
		}
		var m l7.Message
		if _, _, err := p.Parse(query("select 1"), l7.ToServer, &m); err != l7.ErrStop {
			t.Fatalf("after stop: %v", err)
		}
	})
}

// compress frames packets as the compressed protocol does: as is when
// level is 0, else deflated.
func compress(t testing.TB, seq byte, level int, packets ...[]byte) []byte {
	plain := cat(packets...)
	if level == 0 {
		return cat([]byte{byte(len(plain)), byte(len(plain) >> 8), byte(len(plain) >> 16), seq, 0, 0, 0}, plain)
	}
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		panic(err)
	}
	w.Write(plain)
	w.Close()
	z := b.Bytes()
	return cat([]byte{byte(len(z)), byte(len(z) >> 8), byte(len(z) >> 16), seq, byte(len(plain)), byte(len(plain) >> 8), byte(len(plain) >> 16)}, z)
}

func TestParse_Compressed(t *testing.T) {
	caps := uint32(baseCaps | ClientCompress)
	rs := resultSet(40, false)
	half := len(rs) / 2
	steps := []step{
		{l7.ToClient, greetingPkt("8.0.36", caps)},
		{l7.ToServer, loginPkt(caps, "root", "shop")},
		{l7.ToClient, okPkt(2, 0, 2)},
		{l7.ToServer, compress(t, 0, 0, query("select a from t"))},
		// A result set split across two deflated frames.
		{l7.ToClient, cat(compress(t, 1, 6, rs[:half]), compress(t, 2, 6, rs[half:]))},
		{l7.ToServer, compress(t, 0, 6, query("select nope from t where x = 'a long enough statement to be worth deflating'"))},
		{l7.ToClient, compress(t, 1, 0, errPkt(1, 1054, "Unknown column 'nope'"))},
	}
	for _, split := range []bool{false, true} {
		p := newParser()
		msgs, err := run(t, p, steps, split)
		if err != nil {
			t.Fatal(err)
		}
		want := "req COM_QUERY select a from t db=shop\nresp Ok rows=40\n" +
			"req COM_QUERY select nope from t where x = 'a long enough statement to be worth deflating' db=shop\n" +
			"resp ServerError  code=1054 Unknown column 'nope'"
		if got := summary(msgs); got != want || !p.Compressed() {
			t.Errorf("split %v: got\n%s\nwant\n%s", split, got, want)
		}
	}
	t.Run("mid-stream", func(t *testing.T) {
		frame := compress(t, 0, 0, query("SELECT 1"))
		if v := New(nil).Check(frame, l7.ToServer, l7.TCP); v != l7.Request {
			t.Errorf("Check = %v", v)
		}
		msgs, err := run(t, newParser(), []step{{l7.ToServer, frame}}, false)
		if err != nil || summary(msgs) != "req COM_QUERY SELECT 1 db=" {
			t.Fatalf("%v %q", err, summary(msgs))
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		frame := compress(t, 0, 6, query(strings.Repeat("select 1 ", 20)))
		frame[8] ^= 0x01 // zlib FCHECK
		p := newParser()
		p.compressed, p.phase = true, phaseCommand
		var m l7.Message
		if _, ok, err := p.Parse(frame, l7.ToServer, &m); ok || err != l7.ErrStop || p.Stopped() != StopCompressed {
			t.Fatalf("ok %v err %v stopped %v", ok, err, p.Stopped())
		}
	})
}

// A 16 MiB-1 packet and its continuation are skipped as they arrive; the
// parser never holds more than its bounded prefix.
func TestParse_LongPackets(t *testing.T) {
	p := newParser()
	sql := "insert into t values ('" + strings.Repeat("x", maxPayload) // fills the first packet
	first := pkt(0, []byte{ComQuery}, []byte(sql[:maxPayload-1]))
	cont := pkt(1, []byte("');"))
	stream := cat(first, cont, query("select 1"))
	var msgs []l7.Message
	for off, i := 0, 0; off < len(stream); i++ {
		end := min(off+1460, len(stream)) // one segment at a time, nothing kept
		var m l7.Message
		n, ok, err := p.Parse(stream[off:end], l7.ToServer, &m)
		if err == l7.ErrNeedMore {
			// Need the bounded prefix: give it a bigger window.
			end = min(off+bodyCap+headerLen, len(stream))
			n, ok, err = p.Parse(stream[off:end], l7.ToServer, &m)
		}
		if err != nil {
			t.Fatalf("at %d: %v", off, err)
		}
		if ok {
			m.RequestResource = append([]byte(nil), m.RequestResource[:min(20, len(m.RequestResource))]...)
			msgs = append(msgs, m)
		}
		off += n
	}
	if len(msgs) != 2 || string(msgs[0].RequestResource) != "insert into t values" || msgs[0].Length != maxPayload+headerLen ||
		string(msgs[1].RequestResource) != "select 1" {
		t.Fatalf("messages %q", summary(msgs))
	}
}

func TestParse_Malformed(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"zero-length command", pkt(0), ErrEmptyCommand},
		{"unknown command", pkt(0, []byte{0x99}), ErrUnknownCommand},
		{"sleep", pkt(0, []byte{ComSleep}), ErrUnknownCommand},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m l7.Message
			n, ok, err := newParser().Parse(tc.data, l7.ToServer, &m)
			var pe *l7.ParseError
			if ok || n != len(tc.data) || !errors.As(err, &pe) || pe.Protocol != Name || !errors.Is(err, tc.want) || !errors.Is(err, l7.ErrMalformed) {
				t.Fatalf("Parse = (%d, %v, %v)", n, ok, err)
			}
		})
	}
	// A capture starting inside a binary result set: rows (0x00 header)
	// and the end are no response of their own.
	msgs, err := run(t, newParser(), []step{
		{l7.ToClient, cat(pkt(5, []byte{0, 0, 1, 'x'}), pkt(6, []byte{0, 0, 1, 'y'}), eofPkt(7, 2))},
		{l7.ToServer, query("select 1")},
		{l7.ToClient, okPkt(1, 0, 2)},
	}, false)
	if err != nil || summary(msgs) != "req COM_QUERY select 1 db=\nresp Ok affected_rows=0" {
		t.Fatalf("mid-response start: %v %q", err, summary(msgs))
	}
	// Zero-length packets from the server, odd sequence ids: no message, no
	// error, no panic.
	var m l7.Message
	p := newParser()
	// They belong to no message (Trailing): each call consumes one.
	noise := cat(pkt(7), pkt(200, []byte{0xfe}))
	for off := 0; off < len(noise); {
		n, ok, err := p.Parse(noise[off:], l7.ToClient, &m)
		if n <= 0 || ok || err != nil || !p.Trailing(l7.ToClient) {
			t.Fatalf("server noise at %d: (%d, %v, %v)", off, n, ok, err)
		}
		off += n
	}
}

func TestParse_Gap(t *testing.T) {
	p := newParser()
	steps := []step{
		{l7.ToServer, query("select a from t")},
		{l7.ToClient, resultSet(3, false)[:30]},
	}
	if _, err := run(t, p, steps[:1], false); err != nil {
		t.Fatal(err)
	}
	var m l7.Message
	p.Parse(steps[1].data, l7.ToClient, &m)
	p.Gap(l7.ToClient, 100)
	// The rest of the lost response is dropped until the next command.
	if n, ok, err := p.Parse([]byte("garbage after the hole"), l7.ToClient, &m); n != 22 || ok || err != nil {
		t.Fatalf("after gap: (%d, %v, %v)", n, ok, err)
	}
	msgs, err := run(t, p, []step{{l7.ToServer, query("select 2")}, {l7.ToClient, okPkt(1, 0, 2)}}, false)
	if err != nil || summary(msgs) != "req COM_QUERY select 2 db=\nresp Ok affected_rows=0" {
		t.Fatalf("after resync: %v %q", err, summary(msgs))
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want l7.Verdict
	}{
		{"greeting", greetingPkt("8.0.36", baseCaps), l7.Response},
		{"greeting error", pkt(0, []byte{0xff, 0x6a, 0x04}, []byte("Host 'x' is not allowed")), l7.Response},
		{"login", loginPkt(baseCaps, "root", "db"), l7.Request},
		{"query", query("select 1"), l7.Request},
		{"ping", pkt(0, []byte{ComPing}), l7.Request},
		{"execute", pkt(0, []byte{ComStmtExecute, 7, 0, 0, 0, 0, 1, 0, 0, 0}), l7.Request},
		{"ok", okPkt(1, 0, 2), l7.Response},
		{"result set", resultSet(1, false), l7.Response},
		{"err", errPkt(1, 1064, "syntax"), l7.Response},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), l7.No},
		{"redis", []byte("*1\r\n$4\r\nPING\r\n"), l7.No},
		{"tls", []byte{0x16, 3, 1, 0, 0x50, 1, 0, 0, 0x4c, 3, 3}, l7.No},
		{"binary query", pkt(0, []byte{ComQuery, 0x01, 0x02}), l7.No},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := New(nil).Check(tc.data, l7.ToServer, l7.TCP); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
		})
	}
	if New(nil).Check(query("select 1"), l7.ToServer, l7.UDP) != l7.No {
		t.Error("Check accepted UDP")
	}
}

func TestCheck_Random(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 1500)
	const runs = 1000000
	hits := 0
	for range runs {
		b := buf[:5+r.IntN(300)]
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if New(nil).Check(b, l7.ToServer, l7.TCP) != l7.No {
			hits++
		}
	}
	if hits > 20 {
		t.Errorf("%d of %d random payloads passed Check", hits, runs)
	}
	t.Logf("%d of %d random payloads passed Check", hits, runs)
}
