package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/pipeline"
)

// Capture live on eth0 with one AF_PACKET socket per shard, in a fan-out
// group that gives each flow to one of them: each shard reads its own
// ring on its own goroutine, with no hand-off between goroutines. (Not
// run: it needs CAP_NET_RAW and an eth0.)
func ExampleConfig_sources() {
	afs, err := capture.OpenAFPacketFanout(capture.AFPacketConfig{Interface: "eth0", FanoutDefrag: true}, 4)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	srcs := make([]capture.Source, len(afs))
	for i, s := range afs {
		srcs[i] = s
	}
	p, err := pipeline.New(pipeline.Config{
		Sources: srcs, // 4 shards; Run closes the sources
		Sinks:   []pipeline.SinkConfig{{Sink: pipeline.NewJSONSink(os.Stdout)}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := p.Run(ctx); err != nil && err != context.Canceled {
		fmt.Fprintln(os.Stderr, err)
	}
	var st pipeline.Stats
	p.Stats(&st)
	fmt.Fprintf(os.Stderr, "%d packets, %d dropped by the kernel, per shard %v\n", st.Capture.Packets, st.Capture.Dropped, st.ShardPackets)
}
