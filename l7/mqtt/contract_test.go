package mqtt

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// conversations are MQTT sessions for the contract checks: 3.1.1 with
// every packet type, QoS 0/1/2 both ways with the same packet ids on each
// side, several packets per segment; MQTT 5 with properties, topic aliases
// and a PUBLISH over several segments; a capture starting mid-stream.
func conversations() []*l7test.Conversation {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:1883")
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	return []*l7test.Conversation{
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(connect(level311, "dev-1")).
			Response(connack(false, 0)).
			Request(subscribe(false, 1, "a/#", "b/+")).
			Response(suback(false, 1, 1, 0x80)).
			Request(cat(publish(false, 0, 0, "a/0", "zero"), publish(false, 1, 2, "a/1", "one"), publish(false, 2, 3, "a/2", "two"))).
			Response(cat(ack(tPuback, 2), ack(tPubrec, 3), publish(false, 1, 2, "a/1", "one"))).
			Request(cat(ack(tPubrel, 3), ack(tPuback, 2))).
			Response(ack(tPubcomp, 3)).
			Request(pingreq).
			Response(pingresp).
			Request(newPkt(tUnsubscribe, 2).u16(4).str("a/#").bytes()).
			Response(ack(tUnsuback, 4)).
			Request(disconnect),
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(connect(level5, "v5")).
			Response(connack(true, 0)).
			Request(publish(true, 1, 1, "t/long", "p1", topicAlias(3), userProp("traceparent", tp))).
			Request(publish(true, 2, 2, "", strings.Repeat("p", 6000), topicAlias(3))).
			Response(cat(newPkt(tPuback, 0).u16(1).u8(0x10).bytes(), newPkt(tPubrec, 0).u16(2).u8(0).props().bytes())).
			Request(ack(tPubrel, 2)).
			Response(ack(tPubcomp, 2)).
			Request(subscribe(true, 5, "s/#")).
			Response(suback(true, 5, 0x87)).
			Request(newPkt(tAuth, 0).u8(0x19).props(propStr(0x15, "SCRAM")).bytes()).
			Response(newPkt(tDisconnect, 0).u8(0x8e).props().bytes()),
		// One packet per round trip: the kit's hole cases run on it.
		l7test.NewConversation(cli, srv, l7.TCP).
			Request(connect(level311, "dev-2")).
			Response(connack(false, 0)).
			Request(subscribe(false, 1, "a/#")).
			Response(suback(false, 1, 1)).
			Request(publish(false, 1, 2, "a/1", strings.Repeat("m", 100))).
			Response(ack(tPuback, 2)).
			Request(pingreq).
			Response(pingresp).
			Request(newPkt(tUnsubscribe, 2).u16(4).str("a/#").bytes()).
			Response(ack(tUnsuback, 4)),
		l7test.NewConversation(cli, srv, l7.TCP).NoHandshake().
			Request([]byte(strings.Repeat("x", 300))).
			Response(publish(false, 1, 7, "late", "x")).
			Request(ack(tPuback, 7)).
			Request(pingreq).
			Response(pingresp),
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
