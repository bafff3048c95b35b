package pipeline

import (
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// Stats is every counter of every stage of a pipeline, merged across
// shards.
type Stats struct {
	Capture  capture.Stats // the packet sources' own counters (Config.Sources: summed)
	Filtered uint64        // packets Config.Filter rejected
	Decode   decode.Stats  // decoding: errors by kind, tunnels, fragments
	Flow     flow.Stats    // all flow tables
	L7       l7.Stats      // all L7 engines, the socket input's too (zero with NoL7)
	Socket   SocketStats   // the socket input (zero without Config.Sockets)

	StageDropped uint64      // records a stage dropped
	Sinks        []SinkStats // per sink, in Config.Sinks order

	// ShardPackets is the number of packets each shard processed, to
	// judge the balance of the hash.
	ShardPackets []uint64
}

// Stats fills s with the current counters. It is safe to call from any
// goroutine, during and after Run, and does not allocate once s's slices
// have grown to size. While Run goes on, the shards' counters lag by at
// most one batch.
func (p *Pipeline) Stats(s *Stats) {
	s.Capture = capture.Stats{}
	for _, src := range p.srcs {
		addCapture(&s.Capture, src.Stats())
	}
	p.readerMu.Lock()
	s.Decode = p.pubDecode
	s.Filtered = p.pubFiltered
	p.readerMu.Unlock()
	s.Flow = flow.Stats{}
	protos := s.L7.Protocols[:0]
	s.L7 = l7.Stats{Protocols: protos}
	s.StageDropped = 0
	s.Sinks = s.Sinks[:0]
	for _, k := range p.sinks {
		s.Sinks = append(s.Sinks, k.stats())
	}
	s.ShardPackets = s.ShardPackets[:0]
	if si := p.socks; si != nil {
		si.pubMu.Lock()
		s.Socket = si.pub
		si.pubMu.Unlock()
		sh := si.sh
		sh.mu.Lock()
		s.L7.Add(&sh.pubL7)
		s.StageDropped += sh.pubStageDropped
		for i, n := range sh.pubSinkRecords {
			s.Sinks[i].Records += n
		}
		sh.mu.Unlock()
	}
	for _, sh := range p.shards {
		sh.mu.Lock()
		s.Decode.Add(&sh.pubDecode)
		s.Filtered += sh.pubFiltered
		s.Flow.Add(&sh.pubFlow)
		s.L7.Add(&sh.pubL7)
		s.StageDropped += sh.pubStageDropped
		s.ShardPackets = append(s.ShardPackets, sh.pubPackets)
		for i, n := range sh.pubSinkRecords {
			s.Sinks[i].Records += n
		}
		sh.mu.Unlock()
	}
}

// addCapture adds a source's counters to a sum.
func addCapture(sum *capture.Stats, s capture.Stats) {
	sum.Packets += s.Packets
	sum.Bytes += s.Bytes
	sum.Filtered += s.Filtered
	sum.Truncated += s.Truncated
	sum.Dropped += s.Dropped
	sum.IfDropped += s.IfDropped
	sum.Freezes += s.Freezes
	sum.Errors += s.Errors
}
