package kafka

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
var idleServer = netip.MustParseAddrPort("10.9.0.1:9092")

// TestParser_IdleMemory measures the heap an idle Kafka connection holds
// in the engine (its Conn and its parser) after a recorded conversation,
// all its requests answered, then with one more request awaiting its
// response (a consumer's Fetch waiting for records, say), and bounds it:
// the parser keeps its framing and the requests in flight between
// messages, and gives the values of the last message (topic, version text,
// trace ids) and its table of requests in flight, when none is, back to
// pools (Idle).
func TestParser_IdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections")
	}
	conv := l7test.ConnSegments(t, filepath.Join("testdata", "kafka-latest.pcap"), 0, 40)
	var first l7test.Segment // the conversation's first request, sent again
	for _, c := range conv {
		if c.Dir == l7.ToServer {
			first = c
			break
		}
	}
	for _, tc := range []struct {
		name     string
		conv     []l7test.Segment
		requests int // records per connection
		bound    int
	}{
		{"answered", conv, 4, idleBound},
		{"request-in-flight", append(conv[:len(conv):len(conv)], first), 4, idleBound + inflightBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			per, records := l7test.IdleBytesPerConn(t, New(nil), idleServer, tc.conv, idleConns)
			t.Logf("%d chunks per connection, %d records, %.0f bytes per idle connection", len(tc.conv), records/idleConns, per)
			if records < tc.requests*idleConns {
				t.Fatalf("%d records for %d connections: the conversation was not decoded", records, idleConns)
			}
			if per > float64(tc.bound) {
				t.Errorf("%.0f bytes per idle connection, want at most %d", per, tc.bound)
			}
		})
	}
}

// idleBound bounds the bytes of an idle connection: the engine's Conn
// (about 550 bytes) and the parser without its scratch and table of
// requests in flight (96 bytes, two requests in flight included; 128
// with the state of a Metadata mapping in it: 673 bytes measured then,
// 641 now). With them held, it was 1,690 bytes.
const idleBound = 720

// inflightBound bounds the bytes a request in flight adds: the engine's
// session (about 350), and the parser's table of requests in flight (512
// bytes) from the third on (the parser holds two itself: one request in
// flight measures about 1,020 bytes in all). With the scratch held, such
// a connection was 2,050 bytes.
const inflightBound = 1100
