package pipeline

import (
	"sync"
	"sync/atomic"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// Stage sees every record before the sinks, on the shard goroutines,
// synchronously: the record is borrowed for the call. A stage may change
// the record (attach tags, say) and returns false to drop it. With several
// shards a stage is called concurrently and must be safe for that.
type Stage interface {
	ProcessL4(r *flow.Record) bool
	ProcessL7(r *l7.Record) bool
}

// Sink receives records. How (borrowed, one call at a time on the shard
// goroutines; or owned copies on a goroutine of its own) depends on its
// SinkConfig. An error stops the pipeline: Run returns the first one.
type Sink interface {
	WriteL4(r *flow.Record) error
	WriteL7(r *l7.Record) error
}

// SocketStage is implemented by stages that also see the ebpf_socket_log
// records of the socket input (Config.Sockets); other stages let them
// through untouched.
type SocketStage interface {
	ProcessSocket(r *SocketRecord) bool
}

// SocketSink is implemented by sinks that take the ebpf_socket_log records
// of the socket input; other sinks do not receive them. WriterSink is one.
type SocketSink interface {
	WriteSocket(r *SocketRecord) error
}

// Flusher is implemented by sinks that buffer output: Flush is called
// every Config.Tick and once at the end of Run, never concurrently with
// the sink's Write methods (except for a ConcurrentSink, which must
// synchronise them itself).
type Flusher interface {
	Flush() error
}

// ConcurrentSink is implemented by synchronous sinks that are safe for
// concurrent use: the pipeline then calls them from several shards at once,
// without holding its lock, so that their work (encoding, say) runs in
// parallel. WriterSink is one.
type ConcurrentSink interface {
	Sink
	// ConcurrentSafe is a marker; it is never called.
	ConcurrentSafe()
}

// SinkConfig attaches a Sink to a pipeline.
type SinkConfig struct {
	Sink Sink
	// Queue, when positive, delivers owned copies of the records (Clone)
	// through a queue of this many records to a goroutine of the sink's
	// own; the sink may keep them. Default 0: the sink is called on the
	// shard goroutines, one call at a time, with borrowed records valid
	// only during the call.
	Queue int
	// DropWhenFull drops (and counts in SinkStats.Dropped) a record that
	// finds the queue full, instead of making the shards wait. Only with
	// Queue > 0. Default false (wait).
	DropWhenFull bool
}

// SinkStats counts what one sink received and lost.
type SinkStats struct {
	Records uint64 // records handed to the sink
	Dropped uint64 // records dropped because its queue was full
	Errors  uint64 // calls that returned an error
}

// item is one queued record: exactly one of l4, l7 and sock is set.
type item struct {
	l4   *flow.Record
	l7   *l7.Record
	sock *SocketRecord
}

// stager is a sink whose shards gather their lines apart and commit them
// once per batch (WriterSink).
type stager interface {
	stageL4(st *staged, r *flow.Record) error
	stageL7(st *staged, r *l7.Record) error
	stageSocket(st *staged, r *SocketRecord) error
	commit(st *staged) error
}

// sink is the pipeline's handle on one SinkConfig.
type sink struct {
	cfg     SinkConfig
	socks   SocketSink // the sink as a SocketSink, or nil
	stg     stager     // the sink as a stager when shards stage, or nil
	staged  []staged   // by shard id, with stg
	nolock  bool       // a ConcurrentSink, called without mu
	mu      sync.Mutex // serialises synchronous calls and Flush
	q       chan item
	done    chan struct{}
	dropped atomic.Uint64
	errors  atomic.Uint64
	fail    func(error)
}

func newSink(cfg SinkConfig, fail func(error)) *sink {
	s := &sink{cfg: cfg, fail: fail}
	_, s.nolock = cfg.Sink.(ConcurrentSink)
	s.socks, _ = cfg.Sink.(SocketSink)
	if cfg.Queue > 0 {
		s.q = make(chan item, cfg.Queue)
		s.done = make(chan struct{})
	}
	return s
}

// start starts a queued sink's goroutine.
func (s *sink) start() {
	if s.q != nil {
		go s.drain()
	}
}

// l4 hands r to the sink and reports whether it was delivered (queued
// sinks: queued, not dropped); the shard counts deliveries.
func (s *sink) l4(sh int, r *flow.Record) bool {
	if s.q != nil {
		return s.enqueue(item{l4: r.Clone()})
	}
	if s.stg != nil && sh >= 0 {
		s.check(s.stg.stageL4(&s.staged[sh], r))
		return true
	}
	if s.nolock {
		s.check(s.cfg.Sink.WriteL4(r))
		return true
	}
	s.mu.Lock()
	err := s.cfg.Sink.WriteL4(r)
	s.mu.Unlock()
	s.check(err)
	return true
}

func (s *sink) l7(sh int, r *l7.Record) bool {
	if s.q != nil {
		return s.enqueue(item{l7: r.Clone()})
	}
	if s.stg != nil && sh >= 0 {
		s.check(s.stg.stageL7(&s.staged[sh], r))
		return true
	}
	if s.nolock {
		s.check(s.cfg.Sink.WriteL7(r))
		return true
	}
	s.mu.Lock()
	err := s.cfg.Sink.WriteL7(r)
	s.mu.Unlock()
	s.check(err)
	return true
}

// socket hands a socket record to a SocketSink; other sinks do not get
// it (false).
func (s *sink) socket(sh int, r *SocketRecord) bool {
	if s.socks == nil {
		return false
	}
	if s.q != nil {
		c := *r
		c.Comm = append([]byte(nil), r.Comm...)
		return s.enqueue(item{sock: &c})
	}
	if s.stg != nil && sh >= 0 {
		s.check(s.stg.stageSocket(&s.staged[sh], r))
		return true
	}
	if s.nolock {
		s.check(s.socks.WriteSocket(r))
		return true
	}
	s.mu.Lock()
	err := s.socks.WriteSocket(r)
	s.mu.Unlock()
	s.check(err)
	return true
}

// stageShards makes the shards of a pipeline of n > 1 gather their lines
// apart when the sink is a stager called synchronously.
func (s *sink) stageShards(n int) {
	if st, ok := s.cfg.Sink.(stager); ok && s.q == nil && s.nolock && n > 1 {
		s.stg, s.staged = st, make([]staged, n)
	}
}

// commit adds shard sh's staged lines to the sink (from sh's goroutine).
func (s *sink) commit(sh int) {
	if s.stg != nil && sh >= 0 {
		s.check(s.stg.commit(&s.staged[sh]))
	}
}

// check counts a sink's error and stops the pipeline with the first one.
func (s *sink) check(err error) {
	if err != nil {
		s.errors.Add(1)
		s.fail(err)
	}
}

// enqueue queues it, or drops and counts it; it reports whether it queued.
func (s *sink) enqueue(it item) bool {
	if s.cfg.DropWhenFull {
		select {
		case s.q <- it:
			return true
		default:
			s.dropped.Add(1)
			return false
		}
	}
	s.q <- it
	return true
}

// drain delivers queued records until the queue is closed.
func (s *sink) drain() {
	defer close(s.done)
	for it := range s.q {
		s.mu.Lock()
		var err error
		switch {
		case it.l4 != nil:
			err = s.cfg.Sink.WriteL4(it.l4)
		case it.sock != nil:
			err = s.socks.WriteSocket(it.sock)
		default:
			err = s.cfg.Sink.WriteL7(it.l7)
		}
		s.mu.Unlock()
		s.check(err)
	}
}

// flush flushes the sink if it buffers.
func (s *sink) flush() {
	f, ok := s.cfg.Sink.(Flusher)
	if !ok {
		return
	}
	s.mu.Lock()
	err := f.Flush()
	s.mu.Unlock()
	if err != nil {
		s.errors.Add(1)
		s.fail(err)
	}
}

// close waits for a queued sink to deliver what it holds.
func (s *sink) close() {
	if s.q != nil {
		close(s.q)
		<-s.done
	}
}

// stats returns the sink's own counters; Records is summed from the shards
// by Pipeline.Stats.
func (s *sink) stats() SinkStats {
	return SinkStats{Dropped: s.dropped.Load(), Errors: s.errors.Load()}
}
