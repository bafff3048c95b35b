package pipeline

import (
	"errors"
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
	// Source provides the packets. Source or Sockets (or both) is
	// required. Run closes it when it returns.
	Source capture.Source
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
	// ErrNoSource is returned by New when Config.Source and
	// Config.Sockets are both nil.
	ErrNoSource = errors.New("pipeline: no source")
	// ErrNilSink is returned by New when a SinkConfig has no Sink.
	ErrNilSink = errors.New("pipeline: nil sink")
	// ErrRunTwice is returned by a second call of Run.
	ErrRunTwice = errors.New("pipeline: Run called twice")
)

func (c *Config) withDefaults() Config {
	d := *c
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
		if ls, ok := d.Sockets.(interface{ Live() bool }); ok && ls.Live() {
			d.Clock = ClockWall
		}
	}
	return d
}

// share divides a total between n shards, rounding up; 0 (default) stays 0.
func share(total, n int) int {
	if total <= 0 {
		return total
	}
	return (total + n - 1) / n
}
