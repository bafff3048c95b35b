package dns

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// TestCutAndGaps (DNS over TCP): after a hole ending on a message
// boundary the next message is found; a query cut by a hole is dropped
// and its answer comes out alone, not paired with the next query; an
// answer lost in a hole leaves its query unanswered; an answer cut by a
// hole or by the end of the capture is made from what there is (Flush);
// every complete exchange after a hole is paired with its own answer.
func TestCutAndGaps(t *testing.T) {
	reg, err := l7.NewRegistry(New(nil))
	if err != nil {
		t.Fatal(err)
	}
	cli := netip.MustParseAddrPort("10.0.0.1:40000")
	srv := netip.MustParseAddrPort("10.0.0.2:53")
	conv := func() *l7test.Conversation { return l7test.NewConversation(cli, srv, l7.TCP) }
	names := []string{"", "one.example", "two.example", "three.example"}
	q := func(i int) []byte { return tcpFrame(query(uint16(i), names[i], TypeA)) }
	a := func(i int) []byte {
		return tcpFrame(newMsg(uint16(i), 0x8180, 1, 1, 0, 0).name(names[i]).u16(TypeA, classIN).rr(TypeA, 60, []byte{10, 0, 0, byte(i)}).b)
	}
	for _, tc := range []struct {
		name string
		c    *l7test.Conversation
		want []string // query name|status|result
	}{
		{"hole on a query boundary", conv().Request(q(1)).Response(a(1)).Gap(l7.ToServer, len(q(2))).Response(a(2)).Request(q(3)).Response(a(3)),
			[]string{"one.example|Ok", "|Ok", "three.example|Ok"}},
		{"hole inside a query", conv().Request(q(1)).Response(a(1)).Request(q(2)[:9]).Gap(l7.ToServer, 5).Request(q(2)[14:]).Response(a(2)).Request(q(3)).Response(a(3)),
			[]string{"one.example|Ok", "|Ok", "three.example|Ok"}},
		{"answer lost in a hole", conv().Request(q(1)).Response(a(1)).Request(q(2)).Gap(l7.ToClient, len(a(2))).Request(q(3)).Response(a(3)),
			[]string{"one.example|Ok", "two.example|Unknown", "three.example|Ok"}},
		// The answer's header and question were there: Flush makes it.
		{"hole inside an answer", conv().Request(q(1)).Response(a(1)).Request(q(2)).Response(a(2)[:20]).Gap(l7.ToClient, 10).Response(a(2)[30:]).Request(q(3)).Response(a(3)),
			[]string{"one.example|Ok", "two.example|Ok", "three.example|Ok"}},
		// The capture ends inside the last answer, after its header: an
		// NXDOMAIN still says ClientError.
		{"capture ends inside an answer", conv().Request(q(1)).Response(a(1)).Request(q(2)).
			Response(tcpFrame(newMsg(2, 0x8183, 1, 0, 1, 0).name(names[2]).u16(TypeA, classIN).
				rr(TypeSOA, 60, make([]byte, 40)).b)[:2+headerLen+4]).NoClose(),
			[]string{"one.example|Ok", "two.example|ClientError"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := l7test.RunConversation(t, tc.c, l7.Config{Registry: reg})
			var got []string
			for _, r := range res.Records {
				got = append(got, string(r.RequestResource)+"|"+r.Status.String())
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
