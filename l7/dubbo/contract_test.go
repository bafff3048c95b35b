package dubbo

import (
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

func conversations() []*l7test.Conversation {
	cli := netip.MustParseAddrPort("10.0.0.1:40000")
	srv := netip.MustParseAddrPort("10.0.0.2:20880")
	call := func(id uint64) []byte {
		return frame(0xc2, 0, id, invocation(svc, "greet", "Ljava/lang/String;", hstr("world"),
			hmap(hstr("traceparent"), hstr("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))))
	}
	ok := func(id uint64) []byte { return frame(0x02, 20, id, cat(hint(1), hstr("hello"))) }
	return []*l7test.Conversation{
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(call(1)).Response(ok(1)).
			Request(frame(0xe2, 0, 2, []byte{'N'})).Response(frame(0x22, 20, 2, []byte{'N'})).
			Request(cat(call(3), call(4))).Response(cat(ok(4), frame(0x02, 70, 3, hstr("failed")))),
		// One call per round trip: the kit's hole and cut cases run on it.
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(call(11)).Response(ok(11)).
			Request(call(12)).Response(frame(0x02, 70, 12, hstr("failed"))).
			Request(call(13)).Response(ok(13)).
			Request(call(14)).Response(ok(14)),
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(frame(0xc2, 0, 9, invocation(svc, "put", "[B", cat([]byte{'B', 0x4e, 0x20}, make([]byte, 20000)), hmap()))).
			Response(ok(9)),
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
