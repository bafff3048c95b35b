package mysql

import (
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// conversations are MySQL exchanges for the contract checks: a handshake,
// queries with result sets, OK and ERR, prepared statements, and a
// capture that starts after the handshake.
func conversations() []*l7test.Conversation {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:3306")
	caps := uint32(ClientProtocol41 | ClientSecureConnection | ClientPluginAuth | ClientConnectWithDB)
	prepare := pkt(0, []byte{ComStmtPrepare}, []byte("SELECT ? FROM t"))
	prepareOK := cat(pkt(1, []byte{0, 7, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}), colDef(2, "?"), eofPkt(3, 2), colDef(4, "a"), eofPkt(5, 2))
	execute := pkt(0, []byte{ComStmtExecute, 7, 0, 0, 0, 0, 1, 0, 0, 0})
	return []*l7test.Conversation{
		l7test.NewConversation(cli, srv, l7.TCP).
			Response(greetingPkt("8.0.36", caps)).
			Request(loginPkt(caps, "root", "shop")).
			Response(okPkt(2, 0, 2)).
			Request(query("SELECT a FROM t")).
			Response(resultSet(30, false)).
			Request(query("UPDATE t SET a = 1")).
			Response(okPkt(1, 3, 2)).
			Request(query("SELEC oops")).
			Response(errPkt(1, 1064, "You have an error in your SQL syntax")).
			Request(prepare).
			Response(prepareOK).
			Request(execute).
			Response(resultSet(2, false)).
			Request(pkt(0, []byte{ComQuit})),
		// One statement per round trip: the kit's hole cases run on it.
		l7test.NewConversation(cli, srv, l7.TCP).NoHandshake().
			Request(query("SELECT a FROM t")).
			Response(resultSet(3, false)).
			Request(query("UPDATE t SET a = 2")).
			Response(okPkt(1, 3, 2)).
			Request(query("SELECT b FROM u")).
			Response(resultSet(40, false)).
			Request(query("DELETE FROM t")).
			Response(errPkt(1, 1142, "DELETE command denied")),
		l7test.NewConversation(cli, srv, l7.TCP).NoHandshake().
			Request(query("select 1")).
			Response(resultSet(1, false)).
			Request(pkt(0, []byte{ComPing})).
			Response(okPkt(1, 0, 2)),
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
