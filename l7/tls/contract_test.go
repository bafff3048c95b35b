package tls

import (
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

func conversations() []*l7test.Conversation {
	cli := netip.MustParseAddrPort("10.0.0.1:40000")
	srv := netip.MustParseAddrPort("10.0.0.2:443")
	ch := record(22, 0x0301, buildClientHello(sniExt("example.com"), alpnExt("h2", "http/1.1")))
	sh13 := record(22, 0x0303, buildServerHello(0x1301, ext(43, u16(0x0304))))
	sh12 := record(22, 0x0303, cat(buildServerHello(0xc02f), hs(11, make([]byte, 2000)), hs(14, nil)))
	ccs := record(20, 0x0303, []byte{1})
	app := func(n int) []byte { return record(23, 0x0303, make([]byte, n)) }
	return []*l7test.Conversation{
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(ch).Response(cat(sh13, ccs, app(900))).Request(cat(ccs, app(60), app(300))).Response(app(5000)),
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(ch).Response(sh12).Request(record(21, 0x0303, []byte{2, 48})),
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(ch).Response(record(21, 0x0303, []byte{2, 70})),
	}
}

// TestContract runs the kit's contract checks: the conversations through
// the pipeline as scripted and in segmented, retransmitted, reordered and
// lossy variants.
func TestContract(t *testing.T) {
	l7test.CheckContract(t, New(nil), conversations()...)
}

func FuzzDecoder(f *testing.F) {
	l7test.FuzzDecoder(f, New(nil), conversations()...)
}
