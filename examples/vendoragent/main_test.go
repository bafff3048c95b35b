package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
)

var memcachedPcap = filepath.Join("..", "memcached", "testdata", "memcached.pcap")

func open(t *testing.T) capture.Source {
	t.Helper()
	src, err := capture.OpenFile(memcachedPcap)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// lines renders what the sink kept, order aside, without flow ids.
func lines(s *Summary) []string {
	var out []string
	for _, r := range s.Kept {
		r.FlowID = 0
		out = append(out, string(r.AppendJSON(nil)))
	}
	slices.Sort(out)
	return out
}

// TestRun_FourShards: an outside module's agent — a decoder of its own
// registered after the built-ins, four shards, a typed queued sink —
// finds every memcached request, labels no flow Redis, emits no Timeout,
// joins every l7 record to its flow, and agrees with one shard.
func TestRun_FourShards(t *testing.T) {
	four, err := Run(context.Background(), open(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	one, err := Run(context.Background(), open(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if four.Requests["Memcached"] == 0 {
		t.Fatalf("no memcached records: %v", four.Requests)
	}
	if len(four.Requests) != 1 {
		t.Errorf("records by protocol = %v, want Memcached only", four.Requests)
	}
	for id, proto := range four.Flows {
		if proto == "Redis" {
			t.Errorf("flow %d labelled Redis", id)
		}
	}
	for _, r := range four.Kept {
		if _, ok := four.Flows[r.FlowID]; !ok {
			t.Errorf("l7 record of flow %d has no l4 record", r.FlowID)
		}
		if r.HasStatus && r.Status.String() == "Timeout" {
			t.Errorf("false Timeout: %s", r.AppendJSON(nil))
		}
	}
	if a, b := lines(one), lines(four); !slices.Equal(a, b) {
		t.Errorf("1 shard: %d records, 4 shards: %d; they differ", len(a), len(b))
	}
}

// blocking is a capture.Source of the user's own: it replays a file, then
// waits (as a quiet live link would) until it is closed.
type blocking struct {
	capture.Source
	once, eofOnce sync.Once
	closed, eof   chan struct{}
}

func (b *blocking) ReadPacket(p *capture.Packet) error {
	err := b.Source.ReadPacket(p)
	if errors.Is(err, io.EOF) {
		b.eofOnce.Do(func() { close(b.eof) })
		<-b.closed
		return capture.ErrClosed
	}
	return err
}

func (b *blocking) Close() error {
	b.once.Do(func() { close(b.closed) })
	return b.Source.Close()
}

// TestRun_Cancel: cancelling the context while the source waits for more
// packets flushes every shard: Run returns context.Canceled after the last
// record, with all records delivered.
func TestRun_Cancel(t *testing.T) {
	want, err := Run(context.Background(), open(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	src := &blocking{Source: open(t), closed: make(chan struct{}), eof: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		s   *Summary
		err error
	}
	done := make(chan result, 1)
	before := runtime.NumGoroutine()
	go func() {
		s, err := Run(ctx, src, 4)
		done <- result{s, err}
	}()
	select {
	case <-src.eof: // every packet read; the source now waits
	case <-time.After(10 * time.Second):
		t.Fatal("the source never reached the end of its file")
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", r.err)
		}
		if a, b := lines(want), lines(r.s); !slices.Equal(a, b) {
			t.Errorf("after cancel: %d records, want %d", len(b), len(a))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return 10 s after cancel")
	}
	time.Sleep(100 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before+1 {
		t.Errorf("%d goroutines before Run, %d after: Run leaks", before, after)
	}
}
