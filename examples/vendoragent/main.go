package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/examples/memcached"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/pipeline"
)

func main() {
	file := flag.String("r", "", "pcap or pcapng `file` to replay")
	shards := flag.Int("shards", 4, "number of `shards`")
	flag.Parse()
	src, err := capture.OpenFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vendoragent:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := Run(ctx, src, *shards)
	if err != nil && err != context.Canceled {
		fmt.Fprintln(os.Stderr, "vendoragent:", err)
		os.Exit(1)
	}
	sum.Print(os.Stdout)
}

// Run replays src through a pipeline of n shards with the memcached
// decoder registered after the built-in ones, and returns what the sink
// kept.
func Run(ctx context.Context, src capture.Source, n int) (*Summary, error) {
	reg, err := builtin.Registry(memcached.New(nil))
	if err != nil {
		return nil, err
	}
	sum := &Summary{Requests: map[string]int{}, Flows: map[uint64]string{}}
	p, err := pipeline.New(pipeline.Config{
		Source: src,
		Shards: n,
		L7:     l7.Config{Registry: reg},
		// Queued: the sink gets owned copies on a goroutine of its own and
		// may keep them.
		Sinks: []pipeline.SinkConfig{{Sink: sum, Queue: 1024}},
	})
	if err != nil {
		return nil, err
	}
	err = p.Run(ctx)
	return sum, err
}

// Summary is a typed sink: it keeps the l7 records and the protocol of
// every flow.
type Summary struct {
	mu       sync.Mutex
	Requests map[string]int    // l7 records per protocol
	Flows    map[uint64]string // flow id -> l7_protocol of the l4 record
	Kept     []*l7.Record      // every l7 record (owned copies)
}

// WriteL4 notes the flow's protocol.
func (s *Summary) WriteL4(r *flow.Record) error {
	s.mu.Lock()
	s.Flows[r.FlowID] = r.L7Protocol
	s.mu.Unlock()
	return nil
}

// WriteL7 keeps the record: it is an owned copy (the sink is queued).
func (s *Summary) WriteL7(r *l7.Record) error {
	s.mu.Lock()
	s.Requests[r.L7Protocol]++
	s.Kept = append(s.Kept, r)
	s.mu.Unlock()
	return nil
}

// Print writes the record counts per protocol.
func (s *Summary) Print(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.Requests))
	for n := range s.Requests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "%s\t%d\n", n, s.Requests[n])
	}
	fmt.Fprintf(w, "flows\t%d\n", len(s.Flows))
}
