package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// Clock says how the shards' clocks move.
type Clock uint8

// Clocks.
const (
	// ClockAuto is ClockWall for a capture.LiveSource whose Live reports
	// true (or a socket source with a Live method that does), ClockPacket
	// otherwise.
	ClockAuto Clock = iota
	// ClockPacket moves time only with packet timestamps (files).
	ClockPacket
	// ClockWall also moves each shard to the wall clock every Tick.
	ClockWall
)

// Matcher is a replay filter, such as a *filter.Filter.
type Matcher interface {
	Match(p *capture.Packet) bool
}

// Config configures a Pipeline. The zero value of every field but Source
// and Sockets means its default.
type Config struct {
	// Source provides the packets. Source, Sources or Sockets is
	// required (Sockets may come with either). Run closes it when it
	// returns.
	Source capture.Source
	// Sources, instead of Source, gives each shard a source of its own:
	// shard i reads Sources[i] on its goroutine and decodes and processes
	// its packets there, with no hand-off between goroutines (the
	// cheapest way to spread live capture over cores). The sources must
	// split the traffic by flow, since a shard sees only its own source's
	// packets: both directions of a conversation and every packet of a
	// tunnelled flow must reach the same source.
	// capture.OpenAFPacketFanout opens such a set on an interface (see
	// its documentation for what the kernel's hash splits). Shards is
	// len(Sources) (at most MaxShards; a Shards set otherwise is an
	// error). With ClockWall every source must be a
	// capture.DeadlineSource, which moves its shard's clock on a quiet
	// link. Filter and OnPacket are then called from every shard's
	// goroutine at once and must be safe for concurrent use. Run closes
	// the sources when it returns. Default none.
	Sources []capture.Source
	// Sockets provides socket events (capture/ebpf's Tracer, say): their
	// payloads go through an L7 engine of their own into the same stages
	// and sinks, beside the packets (see the package documentation's
	// Socket events). Run closes it when it returns. Default none.
	Sockets socket.Source
	// Socket configures the socket input.
	Socket SocketConfig
	// Filter, when set, drops the packets it does not match before they
	// are decoded (counted in Stats.Filtered). Live sources usually filter
	// in the kernel instead. Default none.
	Filter Matcher
	// OnPacket, when set, sees every packet that passed Filter, before
	// decoding, on the reading goroutine (to write a pcap, say). The
	// packet is valid only during the call. An error stops Run, which
	// returns it. Default none.
	OnPacket func(*capture.Packet) error

	// Decode configures the decoder (fragment reassembly, tunnels).
	Decode decode.Config
	// Flow configures each shard's flow table. Handler, OnRecord and
	// Shard are set by the pipeline; MaxFlows is the total over all
	// shards (see the package documentation).
	Flow flow.Config
	// L7 configures each shard's L7 engine. OnRecord is set by the
	// pipeline; Registry defaults to the built-in decoders
	// (builtin.Registry()); MaxSessions and MaxBufferTotal are totals
	// over all shards.
	L7 l7.Config
	// NoL7 turns the L7 engines off: flows only. Default false.
	NoL7 bool

	// Shards is the number of flow table + L7 engine pairs, each on a
	// goroutine of its own. Default 1; limit 256.
	Shards int
	// Clock says how time moves. Default ClockAuto.
	Clock Clock
	// Tick is how often sinks are flushed and, with ClockWall, shards
	// move to the wall clock. Default 1 s; at least 10 ms.
	Tick time.Duration
	// BatchSize is the number of packets handed to a shard at once (with
	// more than one shard, or a live source that is not a
	// capture.DeadlineSource). Default 256; limit 4096.
	BatchSize int
	// QueueBatches is the number of batches that may wait for each shard.
	// Default 16.
	QueueBatches int

	// Stages see every record, in order, before the sinks.
	Stages []Stage
	// Sinks receive the records that every stage let through.
	Sinks []SinkConfig
}

// Defaults and limits.
const (
	DefaultTick         = time.Second
	DefaultBatchSize    = 256
	DefaultQueueBatches = 16
	MaxShards           = 256
	maxBatchSize        = 4096
	liveHandOff         = 50 * time.Millisecond
)

// Errors of New and Run.
var (
	// ErrNoSource is returned by New when Config.Source, Config.Sources
	// and Config.Sockets are all unset.
	ErrNoSource = errors.New("pipeline: no source")
	// ErrNilSink is returned by New when a SinkConfig has no Sink.
	ErrNilSink = errors.New("pipeline: nil sink")
	// ErrRunTwice is returned by a second call of Run.
	ErrRunTwice = errors.New("pipeline: Run called twice")
	// ErrSources is wrapped by New's errors for a Config.Sources that
	// does not fit: beside Source, a nil source, more than MaxShards, a
	// Shards that differs from their number, or a live source that is
	// not a capture.DeadlineSource.
	ErrSources = errors.New("pipeline: bad Sources")
)

func (c *Config) withDefaults() Config {
	d := *c
	if len(d.Sources) > 0 {
		d.Shards = len(d.Sources)
	}
	if d.Shards <= 0 {
		d.Shards = 1
	}
	d.Shards = min(d.Shards, MaxShards)
	if d.Tick <= 0 {
		d.Tick = DefaultTick
	}
	d.Tick = max(d.Tick, 10*time.Millisecond)
	if d.BatchSize <= 0 {
		d.BatchSize = DefaultBatchSize
	}
	d.BatchSize = min(d.BatchSize, maxBatchSize)
	if d.QueueBatches <= 0 {
		d.QueueBatches = DefaultQueueBatches
	}
	if d.Clock == ClockAuto {
		d.Clock = ClockPacket
		if ls, ok := d.Source.(capture.LiveSource); ok && ls.Live() {
			d.Clock = ClockWall
		}
		for _, src := range d.Sources {
			if ls, ok := src.(capture.LiveSource); ok && ls.Live() {
				d.Clock = ClockWall
			}
		}
		if ls, ok := d.Sockets.(interface{ Live() bool }); ok && ls.Live() {
			d.Clock = ClockWall
		}
	}
	return d
}

// checkSources reports what does not fit in Config.Sources, before
// defaults (c) and after (d).
func checkSources(c, d *Config) error {
	if len(c.Sources) == 0 {
		return nil
	}
	switch {
	case c.Source != nil:
		return fmt.Errorf("%w: both Source and Sources set", ErrSources)
	case len(c.Sources) > MaxShards:
		return fmt.Errorf("%w: %d sources, more than %d shards", ErrSources, len(c.Sources), MaxShards)
	case c.Shards > 0 && c.Shards != len(c.Sources):
		return fmt.Errorf("%w: Shards %d for %d sources", ErrSources, c.Shards, len(c.Sources))
	}
	for i, src := range c.Sources {
		if src == nil {
			return fmt.Errorf("%w: source %d is nil", ErrSources, i)
		}
		if _, ok := src.(capture.DeadlineSource); d.Clock == ClockWall && !ok {
			return fmt.Errorf("%w: source %d (%T) is live but not a capture.DeadlineSource", ErrSources, i, src)
		}
	}
	return nil
}

// share divides a total between n shards, rounding up; 0 (default) stays 0.
func share(total, n int) int {
	if total <= 0 {
		return total
	}
	return (total + n - 1) / n
}
