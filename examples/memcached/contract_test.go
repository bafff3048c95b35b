package memcached_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/examples/memcached"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

var (
	kitClient = netip.MustParseAddrPort("10.0.0.1:40000")
	kitServer = netip.MustParseAddrPort("10.0.0.2:17111")
)

// conversations are scripted exchanges for the public decoder kit.
func conversations() []*l7test.Conversation {
	conv := func() *l7test.Conversation { return l7test.NewConversation(kitClient, kitServer, l7.TCP) }
	return []*l7test.Conversation{
		conv().
			Request([]byte("set greeting 0 0 5\r\nhello\r\n")).Response([]byte("STORED\r\n")).
			Request([]byte("get greeting absent\r\n")).Response([]byte("VALUE greeting 0 5\r\nhello\r\nEND\r\n")).
			Request([]byte("incr n 1\r\n")).Response([]byte("NOT_FOUND\r\n")),
		// Pipelined, with noreply, an unknown command and errors.
		conv().
			Request([]byte("set a 0 0 1 noreply\r\nx\r\nget a\r\nbogus\r\nincr a 1\r\ndelete a noreply\r\nversion\r\n")).
			Response([]byte("VALUE a 0 1\r\nx\r\nEND\r\nERROR\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nVERSION 1.6.18\r\n")),
		// A value larger than a segment, and a stats listing.
		conv().
			Request([]byte("set big 0 0 4000\r\n" + strings.Repeat("v", 4000) + "\r\n")).Response([]byte("STORED\r\n")).
			Request([]byte("gets big\r\n")).Response([]byte("VALUE big 0 4000 7\r\n" + strings.Repeat("v", 4000) + "\r\nEND\r\n")).
			Request([]byte("stats\r\n")).Response([]byte("STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n")).
			Request([]byte("quit\r\n")),
	}
}

// TestContract runs the conversations, and random variants of them (cut
// into pieces, with holes and retransmissions), through the engine with
// the public decoder kit, checking the l7.Parser contract on every call.
func TestContract(t *testing.T) {
	l7test.CheckContract(t, memcached.New(nil), conversations()...)
}

// FuzzContract fuzzes conversations through the engine with the public
// decoder kit, seeded with the scripted ones.
func FuzzContract(f *testing.F) {
	l7test.FuzzDecoder(f, memcached.New(nil), conversations()...)
}
