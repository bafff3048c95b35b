package redis

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// conversations are Redis exchanges for the contract checks: RESP2 and
// RESP3 replies, pipelining, inline commands, pub/sub pushes and an error.
func conversations() []*l7test.Conversation {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:6379")
	conv := func() *l7test.Conversation { return l7test.NewConversation(cli, srv, l7.TCP) }
	big := strings.Repeat("v", 3000)
	return []*l7test.Conversation{
		conv().
			Request([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000\r\n" + big + "\r\n")).
			Response([]byte("+OK\r\n")).
			Request([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$4\r\nLLEN\r\n$1\r\nl\r\n")).
			Response([]byte("$3000\r\n" + big + "\r\n:7\r\n")).
			Request([]byte("PING\r\n")).
			Response([]byte("-ERR unknown\r\n")),
		conv().
			Request([]byte("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")).
			Response([]byte("%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n")).
			Request([]byte("*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n")).
			Response([]byte(">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n")).
			Response([]byte(">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n")),
		// One command per round trip: the kit's hole cases run on it.
		conv().
			Request([]byte("*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$2\r\nv1\r\n")).
			Response([]byte("+OK\r\n")).
			Request([]byte("*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n")).
			Response([]byte("$2\r\nv1\r\n")).
			Request([]byte("*2\r\n$4\r\nINCR\r\n$2\r\nk1\r\n")).
			Response([]byte("-ERR value is not an integer or out of range\r\n")).
			Request([]byte("*2\r\n$4\r\nLLEN\r\n$1\r\nl\r\n")).
			Response([]byte(":7\r\n")),
		conv().
			Request([]byte("*1\r\n$4\r\nPING\r\n")).
			Response([]byte("+PONG\r\n")).
			Request([]byte("*1\r\n$4\r\nPING\r\n&bad\r\n*1\r\n$4\r\nPING\r\n")).
			Response([]byte("+PONG\r\n+PONG\r\n")),
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
