package dns

import (
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// conversations are DNS exchanges for the contract checks: over UDP with
// an answer, an NXDOMAIN and a truncated response, and over TCP with
// several messages per segment and an oversized length.
func conversations() []*l7test.Conversation {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.53:53")
	answer := newMsg(0x1234, 0x8180, 1, 2, 0, 0).name("www.example.com").u16(TypeA, classIN).
		rr(TypeCNAME, 60, append([]byte{3, 'c', 'd', 'n'}, 0xc0, 12)).
		rr(TypeA, 60, []byte{93, 184, 216, 34}).b
	nx := newMsg(0x77, 0x8183, 1, 0, 0, 0).name("nope.example").u16(TypeAAAA, classIN).b
	tc := newMsg(0x78, 0x8380, 1, 0, 0, 0).name("big.example").u16(TypeTXT, classIN).b
	return []*l7test.Conversation{
		l7test.NewConversation(cli, srv, l7.UDP).
			Request(query(0x1234, "www.example.com", TypeA)).
			Request(query(0x77, "nope.example", TypeAAAA)).
			Response(nx).
			Response(answer).
			Request(query(0x78, "big.example", TypeTXT)).
			Response(tc),
		// One query per round trip over TCP: the kit's hole cases run on it.
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(tcpFrame(query(0x1234, "www.example.com", TypeA))).
			Response(tcpFrame(answer)).
			Request(tcpFrame(query(0x77, "nope.example", TypeAAAA))).
			Response(tcpFrame(nx)).
			Request(tcpFrame(query(0x78, "big.example", TypeTXT))).
			Response(tcpFrame(tc)).
			Request(tcpFrame(query(0x79, "www.example.com", TypeA))).
			Response(tcpFrame(newMsg(0x79, 0x8180, 1, 1, 0, 0).name("www.example.com").u16(TypeA, classIN).
				rr(TypeA, 60, []byte{93, 184, 216, 34}).b)),
		l7test.NewConversation(cli, netip.MustParseAddrPort("10.0.0.53:53"), l7.TCP).
			Request(tcpFrame(query(0x1234, "www.example.com", TypeA), query(0x77, "nope.example", TypeAAAA))).
			Response(tcpFrame(answer)).
			Response(tcpFrame(nx)).
			Request(tcpFrame(query(0x78, "big.example", TypeTXT))).
			Response(tcpFrame(tc)).
			Request([]byte{0, 5, 1, 2, 3, 4, 5}),
	}
}

func TestContract(t *testing.T) {
	l7test.CheckContract(t, New(nil), conversations()...)
}

// FuzzContract fuzzes conversations through the engine under the contract
// checks (l7test.FuzzDecoder).
func FuzzContract(f *testing.F) {
	l7test.FuzzDecoder(f, New(nil), conversations()...)
}
