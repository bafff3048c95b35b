package kafka

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// idleConns is how many connections the idle memory tests hold open.
const idleConns = 10_000

// chunk is one payload of a recorded connection.
type chunk struct {
	dir l7.Direction
	seq uint32
	b   []byte
}

// conversationPrefix returns the in-order payloads of the busiest TCP
// connection of the capture at path (the most payload packets; the first
// such in capture order), at most max of them, cut after its last
// server-to-client payload: a connection whose requests were answered
// and that now waits, open, for its next request. Retransmitted bytes are
// dropped.
func conversationPrefix(t *testing.T, path string, max int) []chunk {
	t.Helper()
	type key struct{ a, b netip.AddrPort }
	conns := map[key][]chunk{}
	next := map[netip.AddrPort]uint32{}
	client := map[key]netip.AddrPort{}
	var order []key
	for _, p := range l7test.Packets(t, path) {
		if p.UDP {
			continue
		}
		k := key{p.Src, p.Dst}
		if p.Dst.Addr().Less(p.Src.Addr()) || p.Dst.Addr() == p.Src.Addr() && p.Dst.Port() < p.Src.Port() {
			k = key{p.Dst, p.Src}
		}
		if _, ok := client[k]; !ok {
			c := p.Src
			if p.Flags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn|decode.TCPAck {
				c = p.Dst
			}
			client[k] = c
			order = append(order, k)
		}
		if p.Flags&decode.TCPSyn != 0 {
			next[p.Src] = p.Seq + 1
			continue
		}
		if len(p.Payload) == 0 {
			continue
		}
		if n, ok := next[p.Src]; ok && int32(p.Seq+uint32(len(p.Payload))-n) <= 0 {
			continue // a retransmission
		}
		next[p.Src] = p.Seq + uint32(len(p.Payload))
		dir := l7.ToServer
		if p.Src != client[k] {
			dir = l7.ToClient
		}
		conns[k] = append(conns[k], chunk{dir, p.Seq, p.Payload})
	}
	var best []chunk
	for _, k := range order {
		if len(conns[k]) > len(best) {
			best = conns[k]
		}
	}
	best = best[:min(len(best), max)]
	for len(best) > 0 && best[len(best)-1].dir != l7.ToClient {
		best = best[:len(best)-1]
	}
	if len(best) == 0 {
		t.Fatalf("%s: no answered connection", path)
	}
	return best
}

// idleBytes opens idleConns connections in one engine whose registry
// holds d alone, feeds each the chunks of conv and leaves it open, and
// returns the heap bytes per connection that the engine then holds, and
// the records it emitted.
func idleBytes(t *testing.T, d l7.Decoder, conv []chunk) (float64, int) {
	t.Helper()
	reg, err := l7.NewRegistry(d)
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	e, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(*l7.Record) { records++ }})
	if err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddrPort("10.9.0.1:9092")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	ts := int64(1_700_000_000e9)
	for i := range idleConns {
		a := [4]byte{10, 1, byte(i >> 8), byte(i)}
		c := e.Open(l7.ConnInfo{
			ID:        uint64(i + 1),
			Client:    netip.AddrPortFrom(netip.AddrFrom4(a), uint16(40000+i%20000)),
			Server:    server,
			Transport: l7.TCP,
			Oriented:  true,
		}, ts)
		for _, ch := range conv {
			ts += 1000
			c.Data(ch.dir, ts, ch.seq, ch.b)
		}
	}
	// The sync.Pool of parser scratch empties over two collections: what
	// stays is what the open connections hold.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(e)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / idleConns, records
}

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
	conv := conversationPrefix(t, filepath.Join("testdata", "kafka-latest.pcap"), 40)
	var first chunk // the conversation's first request, sent again
	for _, c := range conv {
		if c.dir == l7.ToServer {
			first = c
			break
		}
	}
	for _, tc := range []struct {
		name     string
		conv     []chunk
		requests int // records per connection
		bound    int
	}{
		{"answered", conv, 4, idleBound},
		{"request-in-flight", append(conv[:len(conv):len(conv)], first), 4, idleBound + inflightBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			per, records := idleBytes(t, New(nil), tc.conv)
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
// requests in flight (136 bytes). With them held, it was 1,690 bytes.
const idleBound = 800

// inflightBound bounds the bytes a request in flight adds: the parser's
// table of requests in flight (512 bytes) and the engine's session
// (about 350). With the scratch held, such a connection was 2,050 bytes.
const inflightBound = 1100

// idling is a parser told it is idle (l7.Idler) whenever it needs more
// bytes, as the engine may tell it between its input calls: the fuzzers
// check that giving its scratch back then changes nothing.
type idling struct{ l7.Parser }

func (p *idling) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	n, ok, err := p.Parser.Parse(data, dir, m)
	if err == l7.ErrNeedMore {
		p.Parser.(l7.Idler).Idle()
	}
	return n, ok, err
}
