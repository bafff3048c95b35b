package pipeline_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/netns"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/pipeline"
)

// TestRun_LiveQuietLink: a connection that closes with FIN on an
// otherwise silent veth is reported within its close timeout (FinClosed,
// 2 s by default) plus one tick, although no packet follows it: with one
// shard reading the AF_PACKET source itself (its read deadline ticks the
// clock) and with two shard goroutines fed by a reader.
func TestRun_LiveQuietLink(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "ip")
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) { liveQuietLink(t, shards) })
	}
}

func liveQuietLink(t *testing.T, shards int) {
	pair := netns.NewPairT(t, "mfpl", 61)
	var src *capture.AFPacketSource
	if err := pair.A.Do(func() (err error) {
		src, err = capture.OpenAFPacket(capture.AFPacketConfig{Interface: pair.IfA})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sink := &stamped{l4: make(chan flow.Record, 16)}
	const tick = 500 * time.Millisecond
	p, err := pipeline.New(pipeline.Config{
		Source: src,
		Shards: shards,
		Tick:   tick,
		Sinks:  []pipeline.SinkConfig{{Sink: sink}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	time.Sleep(200 * time.Millisecond) // the ring is open before; settle the goroutines
	netns.TCPEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31061), 1, 3, 100)
	// The block timeout of the ring (at most ~8 ms by default) comes on
	// top, within the 700 ms awaitFinish allows for scheduling.
	sink.awaitFinish(t, time.Now(), 31061, tick)
	cancel()
	awaitCanceled(t, done)
	var st pipeline.Stats
	p.Stats(&st)
	if st.Flow.Records != 1 || st.Capture.Packets == 0 {
		t.Errorf("stats: %d flow records, %d packets; want 1 record", st.Flow.Records, st.Capture.Packets)
	}
}

// TestRun_LiveFanout: two shards, each reading its own AF_PACKET source of
// one fan-out group (Config.Sources), report each of 8 TCP connections on
// a veth once, closed with FIN: no conversation is split between them.
func TestRun_LiveFanout(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "ip")
	pair := netns.NewPairT(t, "mfpl", 63)
	var afs []*capture.AFPacketSource
	if err := pair.A.Do(func() (err error) {
		afs, err = capture.OpenAFPacketFanout(capture.AFPacketConfig{Interface: pair.IfA, FanoutDefrag: true}, 2)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srcs := make([]capture.Source, len(afs))
	for i, s := range afs {
		srcs[i] = s
	}
	sink := &stamped{l4: make(chan flow.Record, 64)}
	p, err := pipeline.New(pipeline.Config{Sources: srcs, Tick: 200 * time.Millisecond, Sinks: []pipeline.SinkConfig{{Sink: sink}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	const conns = 8
	netns.TCPEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31063), conns, 3, 100)
	clients := map[uint16]bool{}
	timeout := time.After(10 * time.Second)
	for len(clients) < conns {
		select {
		case r := <-sink.l4:
			if r.CloseType != flow.CloseFinish || r.ServerPort != 31063 || clients[r.ClientPort] {
				t.Errorf("record: close type %v, server port %d, client port %d (seen: %v); want one Finish on 31063 per connection", r.CloseType, r.ServerPort, r.ClientPort, clients[r.ClientPort])
			}
			clients[r.ClientPort] = true
		case <-timeout:
			t.Fatalf("%d of %d connections reported 10 s after they closed", len(clients), conns)
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
	select {
	case r := <-sink.l4:
		t.Errorf("extra record: close type %v, client port %d", r.CloseType, r.ClientPort)
	default:
	}
	var st pipeline.Stats
	p.Stats(&st)
	t.Logf("shard packets %v, capture %+v", st.ShardPackets, st.Capture)
	if st.Flow.Records != conns || st.Capture.Packets == 0 || st.ShardPackets[0]+st.ShardPackets[1] != st.Capture.Packets {
		t.Errorf("stats: %d flow records, %d packets captured, %v processed; want %d records and every packet processed", st.Flow.Records, st.Capture.Packets, st.ShardPackets, conns)
	}
}
