package mysql

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// TestCutAndGaps: messages cut by the end of the input or by holes give
// the records of the contract (RECORDS.md): a command cut by the end is
// emitted from what was captured; after a hole ending on a message
// boundary the next command is found; a command cut by a hole still pairs
// with its own response; a response lost or cut by a hole is not paired
// with the next command; every complete exchange after a hole is paired
// with its own response.
func TestCutAndGaps(t *testing.T) {
	reg, err := l7.NewRegistry(New(nil))
	if err != nil {
		t.Fatal(err)
	}
	cli := netip.MustParseAddrPort("10.0.0.1:40000")
	srv := netip.MustParseAddrPort("10.0.0.2:3306")
	conv := func() *l7test.Conversation { return l7test.NewConversation(cli, srv, l7.TCP) }
	q := func(n int) []byte { return query("SELECT * FROM t" + strconv.Itoa(n) + " WHERE id = 1") }
	ok := func(affected byte) []byte { return okPkt(1, affected, 2) }
	rs := resultSet(20, false)
	bigRS := resultSet(600, true) // sequence ids wrap past 255 to 0 and 1
	// The compressed protocol, from the handshake.
	zcaps := uint32(baseCaps | ClientCompress)
	zconv := func() *l7test.Conversation {
		return conv().Response(greetingPkt("10.11.6-MariaDB", zcaps)).Request(loginPkt(zcaps, "app", "")).Response(okPkt(2, 0, 2))
	}
	zq := func(n int) []byte { return compress(t, 0, 0, q(n)) }
	zok := func(affected byte) []byte { return compress(t, 1, 0, ok(affected)) }
	zrs := compress(t, 1, 6, rs)
	for _, tc := range []struct {
		name string
		c    *l7test.Conversation
		want []string // request resource|status|result or code
	}{
		{"command cut by the end", conv().Request(q(1)).Response(ok(1)).Request(q(2)[:12]).NoClose(),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|affected_rows=1", "SELECT |Unknown|"}},
		{"error cut by the end", conv().Request(q(1)).Response(errPkt(1, 1146, "Table 't1' doesn't exist")[:20]).NoClose(),
			[]string{"SELECT * FROM t1 WHERE id = 1|ServerError|1146"}},
		{"result set cut by the end", conv().Request(q(1)).Response(rs[:len(rs)/2]).NoClose(),
			[]string{"SELECT * FROM t1 WHERE id = 1|Unknown|"}},
		{"hole on a command boundary", conv().Request(q(1)).Response(ok(1)).Gap(l7.ToServer, len(q(2))).Response(ok(2)).Request(q(3)).Response(ok(3)),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|affected_rows=1", "|Ok|affected_rows=2", "SELECT * FROM t3 WHERE id = 1|Ok|affected_rows=3"}},
		{"hole inside a command", conv().Request(q(1)).Response(ok(1)).Request(q(2)[:14]).Gap(l7.ToServer, 6).Request(q(2)[20:]).Response(ok(2)).Request(q(3)).Response(ok(3)),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|affected_rows=1", "SELECT * |Ok|affected_rows=2", "SELECT * FROM t3 WHERE id = 1|Ok|affected_rows=3"}},
		{"response lost in a hole", conv().Request(q(1)).Response(ok(1)).Request(q(2)).Gap(l7.ToClient, len(ok(2))).Request(q(3)).Response(ok(3)),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|affected_rows=1", "SELECT * FROM t2 WHERE id = 1|Unknown|", "SELECT * FROM t3 WHERE id = 1|Ok|affected_rows=3"}},
		{"hole inside a result set", conv().Request(q(1)).Response(rs[:100]).Gap(l7.ToClient, 50).Response(rs[150:]).Request(q(2)).Response(ok(2)).Request(q(3)).Response(rs),
			[]string{"SELECT * FROM t1 WHERE id = 1|Unknown|", "SELECT * FROM t2 WHERE id = 1|Ok|affected_rows=2", "SELECT * FROM t3 WHERE id = 1|Ok|rows=20"}},
		{"hole on a response boundary", conv().Request(q(1)).Response(rs).Request(q(2)).Gap(l7.ToClient, len(rs)).Request(q(3)).Response(ok(3)),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|rows=20", "SELECT * FROM t2 WHERE id = 1|Unknown|", "SELECT * FROM t3 WHERE id = 1|Ok|affected_rows=3"}},
		{"joined inside a result set", conv().NoHandshake().Response(rs[37:]).Request(q(1)).Response(ok(1)),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|affected_rows=1"}},
		{"joined inside a long result set", conv().NoHandshake().Response(bigRS[300:]).Request(q(1)).Response(ok(1)).Request(q(2)).Response(rs),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|affected_rows=1", "SELECT * FROM t2 WHERE id = 1|Ok|rows=20"}},
		{"joined inside a command", conv().NoHandshake().Request(q(1)[7:]).Response(ok(1)).Request(q(2)).Response(ok(2)),
			[]string{"|Ok|affected_rows=1", "SELECT * FROM t2 WHERE id = 1|Ok|affected_rows=2"}},
		{"compressed: hole on a command boundary", zconv().Request(zq(1)).Response(zok(1)).Gap(l7.ToServer, len(zq(2))).Response(zok(2)).Request(zq(3)).Response(zok(3)),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|affected_rows=1", "|Ok|affected_rows=2", "SELECT * FROM t3 WHERE id = 1|Ok|affected_rows=3"}},
		{"compressed: response lost in a hole", zconv().Request(zq(1)).Response(zok(1)).Request(zq(2)).Gap(l7.ToClient, len(zok(2))).Request(zq(3)).Response(zok(3)),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|affected_rows=1", "SELECT * FROM t2 WHERE id = 1|Unknown|", "SELECT * FROM t3 WHERE id = 1|Ok|affected_rows=3"}},
		{"compressed: hole inside a deflated result set", zconv().Request(zq(1)).Response(zrs[:30]).Gap(l7.ToClient, 20).Response(zrs[50:]).Request(zq(2)).Response(zok(2)).Request(zq(3)).Response(zrs),
			[]string{"SELECT * FROM t1 WHERE id = 1|Unknown|", "SELECT * FROM t2 WHERE id = 1|Ok|affected_rows=2", "SELECT * FROM t3 WHERE id = 1|Ok|rows=20"}},
		{"compressed: hole inside a command", zconv().Request(zq(1)).Response(zok(1)).Request(zq(2)[:10]).Gap(l7.ToServer, 5).Request(zq(2)[15:]).Response(zok(2)).Request(zq(3)).Response(zok(3)),
			[]string{"SELECT * FROM t1 WHERE id = 1|Ok|affected_rows=1", "|Ok|affected_rows=2", "SELECT * FROM t3 WHERE id = 1|Ok|affected_rows=3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := l7test.RunConversation(t, tc.c, l7.Config{Registry: reg})
			var got []string
			for _, r := range res.Records {
				x := string(r.ResponseResult)
				if r.HasResponseCode {
					x = strconv.Itoa(int(r.ResponseCode))
				}
				got = append(got, string(r.RequestResource)+"|"+r.Status.String()+"|"+x)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("records\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestCheck_MidStream: Check recognises a connection joined inside a
// response: whole packets in sequence after a cut one, or a deflated frame
// numbered past 3; it declines text and a lone cut packet.
func TestCheck_MidStream(t *testing.T) {
	d := New(nil)
	rs := resultSet(40, false)
	big := compress(t, 9, 6, rs)
	for _, tc := range []struct {
		name string
		data []byte
		want l7.Verdict
	}{
		{"rows after a cut one", rs[60:], l7.Response},
		{"deflated frame 9", big, l7.Response},
		{"cut row alone", textRow(5, strings.Repeat("x", 200))[50:], l7.No},
		{"text", []byte(strings.Repeat("SELECT 1 FROM t; ", 20)), l7.No},
		{"rows starting past 256 bytes", append([]byte(strings.Repeat("y", 300)), rs[60:]...), l7.No},
	} {
		if got := d.Check(tc.data, l7.ToClient, l7.TCP); got != tc.want {
			t.Errorf("%s: Check = %v, want %v", tc.name, got, tc.want)
		}
	}
}
