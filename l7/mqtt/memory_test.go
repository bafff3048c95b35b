package mqtt

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// idleConns is how many connections the idle memory tests hold open.
const idleConns = 10_000

// idleServer is the server of the idle memory tests' connections.
var idleServer = netip.MustParseAddrPort("10.9.0.1:1883")

// TestParser_IdleMemory measures the heap an idle MQTT connection holds
// in the engine (its Conn and its parser) after a recorded conversation,
// and after an MQTT 5 one whose client names topics by alias, and bounds
// it: the parser keeps its framing, the protocol version and its topic
// aliases between packets, and gives the values of the last packet (joined
// topic filters, decoded trace ids) back to a pool (Idle).
func TestParser_IdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections")
	}
	aliases := []l7test.Segment{
		{Dir: l7.ToServer, Seq: 1, Data: connect(level5, "sensor-0042")},
		{Dir: l7.ToClient, Seq: 1, Data: connack(true, 0)},
	}
	for i, topic := range []string{"plant/7/line/3/temperature", "plant/7/line/3/pressure", "plant/7/line/3/vibration"} {
		id := uint16(i + 1)
		aliases = append(aliases,
			l7test.Segment{Dir: l7.ToServer, Seq: 0, Data: publish(true, 1, id, topic, `{"v":1}`, topicAlias(id))},
			l7test.Segment{Dir: l7.ToClient, Seq: 0, Data: ack(tPuback, id)},
			l7test.Segment{Dir: l7.ToServer, Seq: 0, Data: publish(true, 1, id+10, "", `{"v":2}`, topicAlias(id))},
			l7test.Segment{Dir: l7.ToClient, Seq: 0, Data: ack(tPuback, id+10)})
	}
	for _, tc := range []struct {
		name  string
		conv  []l7test.Segment
		bound int
	}{
		{"mqtt-v311.pcap", l7test.ConnSegments(t, filepath.Join("testdata", "mqtt-v311.pcap"), 0, 40), idleBound},
		{"mqtt-v5.pcap", l7test.ConnSegments(t, filepath.Join("testdata", "mqtt-v5.pcap"), 0, 40), idleBound},
		{"v5-topic-aliases", aliases, idleBound + aliasBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			per, records := l7test.IdleBytesPerConn(t, New(nil), idleServer, tc.conv, idleConns)
			t.Logf("%d chunks per connection, %d records, %.0f bytes per idle connection", len(tc.conv), records/idleConns, per)
			if records < idleConns {
				t.Fatalf("%d records for %d connections: the conversation was not decoded", records, idleConns)
			}
			if per > float64(tc.bound) {
				t.Errorf("%.0f bytes per idle connection, want at most %d", per, tc.bound)
			}
		})
	}
}

// idleBound bounds the bytes of an idle connection: the engine's Conn
// and the parser without its scratch (64 bytes). With the scratch held,
// it was 2,240 bytes.
const idleBound = 1100

// aliasBound bounds the bytes of the topic alias table of one direction
// with three aliases defined (a fixed table of 16 topics of 128 bytes was
// 2,300 bytes).
const aliasBound = 600
