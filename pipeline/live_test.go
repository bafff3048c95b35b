package pipeline_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
)

// stamped is a sink that notes when each l4 record arrives.
type stamped struct {
	l4 chan flow.Record
}

func (s *stamped) WriteL4(r *flow.Record) error {
	s.l4 <- *r.Clone()
	return nil
}

func (s *stamped) WriteL7(*l7.Record) error { return nil }

// awaitFinish checks that the record of a connection to port, closed by
// FINs at closed, arrives within its FinClosed timeout (2 s) plus a tick
// of the wall clock and 700 ms of scheduling on a loaded machine.
func (s *stamped) awaitFinish(t *testing.T, closed time.Time, port uint16, tick time.Duration) {
	t.Helper()
	const finClosed = 2 * time.Second
	select {
	case r := <-s.l4:
		took := time.Since(closed)
		t.Logf("record %v %s after the last packet", r.CloseType, took)
		if r.CloseType != flow.CloseFinish || r.ServerPort != port {
			t.Errorf("record: close type %v, server port %d; want Finish on %d", r.CloseType, r.ServerPort, port)
		}
		if limit := finClosed + tick + 700*time.Millisecond; took > limit {
			t.Errorf("reported %s after the connection closed; want at most %s", took, limit)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no record 10 s after the connection closed on a quiet source")
	}
}

// awaitCanceled checks that Run, whose result done carries, returns
// context.Canceled soon after its context is cancelled.
func awaitCanceled(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Run after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// queueSource is a live source fed through a channel: ReadPacket waits
// for a packet, Close, or its read deadline (capture.DeadlineSource).
type queueSource struct {
	ch        chan capture.Packet
	closed    chan struct{}
	closeOnce sync.Once
	changed   chan struct{} // a new deadline
	mu        sync.Mutex
	deadline  time.Time
	deadlines atomic.Int64 // SetReadDeadline calls
	packets   atomic.Uint64
}

func newQueueSource() *queueSource {
	return &queueSource{ch: make(chan capture.Packet, 64), closed: make(chan struct{}), changed: make(chan struct{}, 1)}
}

// push queues a copy of p.
func (q *queueSource) push(p *capture.Packet) {
	c := *p
	c.Data = append([]byte(nil), p.Data...)
	q.ch <- c
}

func (q *queueSource) ReadPacket(p *capture.Packet) error {
	for {
		select {
		case *p = <-q.ch:
			q.packets.Add(1)
			return nil
		case <-q.closed:
			return capture.ErrClosed
		default:
		}
		q.mu.Lock()
		dl := q.deadline
		q.mu.Unlock()
		var expire <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			expire = t.C
		}
		select {
		case *p = <-q.ch:
			q.packets.Add(1)
			return nil
		case <-q.closed:
			return capture.ErrClosed
		case <-expire:
		case <-q.changed:
		}
	}
}

func (q *queueSource) SetReadDeadline(t time.Time) error {
	select {
	case <-q.closed:
		return capture.ErrClosed
	default:
	}
	q.deadlines.Add(1)
	q.mu.Lock()
	q.deadline = t
	q.mu.Unlock()
	select {
	case q.changed <- struct{}{}:
	default:
	}
	return nil
}

func (q *queueSource) Stats() capture.Stats { return capture.Stats{Packets: q.packets.Load()} }
func (q *queueSource) Live() bool           { return true }
func (q *queueSource) Close() error {
	q.closeOnce.Do(func() { close(q.closed) })
	return nil
}

// noDeadline hides a queueSource's SetReadDeadline: a live source whose
// wait cannot be bounded.
type noDeadline struct{ q *queueSource }

func (n noDeadline) ReadPacket(p *capture.Packet) error { return n.q.ReadPacket(p) }
func (n noDeadline) Stats() capture.Stats               { return n.q.Stats() }
func (n noDeadline) Close() error                       { return n.q.Close() }
func (n noDeadline) Live() bool                         { return true }

// TestRun_LiveQuietSource: on a live source that goes quiet after a
// connection closed with FIN, the record comes within the close timeout
// (FinClosed, 2 s by default) plus a tick: the shard's clock moves
// without packets. With one shard and a capture.DeadlineSource the shard
// reads the source itself and ticks by its read deadline; otherwise the
// reader hands batches to shard goroutines that tick on their own, the
// partial ones when a DeadlineSource has nothing more (else the ticker).
func TestRun_LiveQuietSource(t *testing.T) {
	for _, tc := range []struct {
		name      string
		shards    int
		deadlines bool
	}{
		{"inline", 1, true},
		{"one shard, no deadline", 1, false},
		{"two shards", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := newQueueSource()
			var src capture.Source = q
			if !tc.deadlines {
				src = noDeadline{q}
			}
			sink := &stamped{l4: make(chan flow.Record, 16)}
			const tick = 200 * time.Millisecond
			p, err := pipeline.New(pipeline.Config{Source: src, Shards: tc.shards, Tick: tick, Sinks: []pipeline.SinkConfig{{Sink: sink}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()

			time.Sleep(50 * time.Millisecond)
			s := synthConn{ts: time.Now(), port: 8080}
			var pkt capture.Packet
			steps := []struct {
				server   bool
				flags    uint8
				seq, ack uint32
				payload  string
			}{
				{false, 0x02, 100, 0, ""},     // SYN
				{true, 0x12, 500, 101, ""},    // SYN-ACK
				{false, 0x10, 101, 501, ""},   // ACK
				{false, 0x18, 101, 501, "hi"}, // data
				{true, 0x18, 501, 103, "yo"},  // data
				{false, 0x11, 103, 503, ""},   // FIN
				{true, 0x11, 503, 104, ""},    // FIN
				{false, 0x10, 104, 504, ""},   // ACK
			}
			for _, st := range steps {
				s.ts = time.Now()
				s.tcpPacket(&pkt, 1, st.server, st.flags, st.seq, st.ack, st.payload)
				q.push(&pkt)
			}
			sink.awaitFinish(t, time.Now(), 8080, tick)
			if n := q.deadlines.Load(); tc.deadlines && n < 2 {
				t.Errorf("%d read deadlines set; the reader should drain the source with deadlines", n)
			} else if !tc.deadlines && n != 0 {
				t.Errorf("%d read deadlines set on a source without them", n)
			}
			cancel()
			awaitCanceled(t, done)
			var st pipeline.Stats
			p.Stats(&st)
			var shardPkts uint64
			for _, n := range st.ShardPackets {
				shardPkts += n
			}
			if st.Flow.Records != 1 || shardPkts != uint64(len(steps)) || st.Capture.Packets != uint64(len(steps)) {
				t.Errorf("stats: %d flow records, %d packets read, %d processed; want 1 and %d", st.Flow.Records, st.Capture.Packets, shardPkts, len(steps))
			}
		})
	}
}
