package pipeline

import (
	"sync"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// shard owns one flow table and one L7 engine, driven by one goroutine.
type shard struct {
	p     *Pipeline
	id    int
	table *flow.Table
	eng   *l7.Engine // nil with Config.NoL7

	in   chan *batch // batches to process; closed at the end of input
	free chan *batch // processed batches for the reader to refill

	// Decoding of the frames in batches (runSharded), or of every packet
	// of src (Config.Sources).
	dec *decode.Decoder
	pkt capture.Packet

	src      capture.Source // the shard's own source (Config.Sources), or nil
	filtered uint64         // src's packets Config.Filter rejected

	packets      uint64   // packets handed to the table
	stageDropped uint64   // records a stage dropped
	sinkRecords  []uint64 // records delivered, per sink

	// Copies of the counters for Stats, guarded by mu.
	mu              sync.Mutex
	pubDecode       decode.Stats
	pubFlow         flow.Stats
	pubL7           l7.Stats
	pubPackets      uint64
	pubFiltered     uint64
	pubStageDropped uint64
	pubSinkRecords  []uint64
}

// batch is a run of packets for one shard, in their order. A frame the
// reader could place by decode.Decoder.PeekAddrs is kept as captured and
// decoded by the shard; any other (tunnels, fragments, other link types)
// was decoded by the reader. Packet i's Meta is metas[i] when the reader
// decoded it; the shard decodes the frames into metas too, packing the
// packets that decode to its front. Frames and payloads are copied into an
// arena, since the reader's packet buffer is reused.
type batch struct {
	items []entry
	metas []decode.Meta
	n     int
	data  []byte
}

// entry is one packet of a batch: a frame in the arena, or a Meta the
// reader decoded.
type entry struct {
	ts      int64            // capture time, Unix nanoseconds
	wire    int              // length on the wire
	off     uint32           // frame: offset in data
	size    uint32           // frame: captured length
	link    capture.LinkType // frame: link type
	decoded bool             // metas[i] holds the packet, decoded by the reader
}

// addFrame appends p's frame, to be decoded by the shard.
func (b *batch) addFrame(p *capture.Packet) {
	it := &b.items[b.n]
	it.ts = p.Timestamp.UnixNano()
	it.wire = p.Length
	it.off = uint32(len(b.data))
	it.size = uint32(len(p.Data))
	it.link = p.LinkType
	it.decoded = false
	b.data = append(b.data, p.Data...)
	b.n++
}

// addMeta appends a packet the reader decoded.
func (b *batch) addMeta(m *decode.Meta) {
	d := &b.metas[b.n]
	*d = *m
	if len(m.Payload) > 0 {
		off := len(b.data)
		b.data = append(b.data, m.Payload...)
		d.Payload = b.data[off:len(b.data):len(b.data)]
	}
	b.items[b.n].decoded = true
	b.n++
}

// reset empties b for reuse; the adds overwrite what they use.
func (b *batch) reset() {
	b.n = 0
	b.data = b.data[:0]
}

// start makes the shard's queues: QueueBatches waiting, one being filled
// by the reader and one being processed never make the reader wait for a
// free batch while the shard keeps up.
func (sh *shard) start(size, queue int) {
	sh.in = make(chan *batch, queue)
	sh.free = make(chan *batch, queue+2)
	for i := 0; i < queue+2; i++ {
		sh.free <- &batch{items: make([]entry, size), metas: make([]decode.Meta, size), data: make([]byte, 0, 64<<10)}
	}
}

// run processes batches until the input ends; with a wall clock it also
// moves the table's clock every Tick.
func (sh *shard) run() {
	var tick <-chan time.Time
	if sh.p.live {
		t := time.NewTicker(sh.p.cfg.Tick)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case b, ok := <-sh.in:
			if !ok {
				sh.finish()
				return
			}
			sh.process(b)
			b.reset()
			sh.free <- b
			sh.commit()
			sh.publish()
		case now := <-tick:
			sh.table.Advance(now.UnixNano())
			sh.commit()
			sh.publish()
		}
	}
}

// process hands b's packets to the table, decoding its frames, in one
// flow.Table.Packets call so that their flow lookups overlap.
func (sh *shard) process(b *batch) {
	// n <= i: writing metas[n] never overwrites a Meta still to be read.
	n := 0
	for i := range b.items[:b.n] {
		it := &b.items[i]
		m := &b.metas[n]
		if it.decoded {
			if n != i {
				*m = b.metas[i]
			}
			n++
			continue
		}
		sh.pkt.Timestamp = time.Unix(0, it.ts)
		sh.pkt.Length = it.wire
		sh.pkt.LinkType = it.link
		sh.pkt.Data = b.data[it.off : it.off+it.size : it.off+it.size]
		if sh.dec.Decode(&sh.pkt, m) == nil {
			n++
		} // else counted in the shard's decoder
	}
	sh.table.Packets(b.metas[:n])
	sh.packets += uint64(n)
}

// finish ends the input: every flow and pending request yields its record.
func (sh *shard) finish() {
	sh.table.Close()
	sh.commit()
	sh.publish()
}

// commit adds the lines the shard staged for its sinks (sink.stageShards).
func (sh *shard) commit() {
	for _, s := range sh.p.sinks {
		s.commit(sh.id)
	}
}

func (sh *shard) publish() {
	sh.mu.Lock()
	if sh.dec != nil {
		sh.pubDecode = sh.dec.Stats()
	}
	if sh.table != nil {
		sh.pubFlow = sh.table.Stats()
	}
	if sh.eng != nil {
		sh.eng.ReadStats(&sh.pubL7)
	}
	sh.pubPackets = sh.packets
	sh.pubFiltered = sh.filtered
	sh.pubStageDropped = sh.stageDropped
	copy(sh.pubSinkRecords, sh.sinkRecords)
	sh.mu.Unlock()
}

// l4 passes a flow record through the stages to the sinks.
func (sh *shard) l4(r *flow.Record) {
	for _, st := range sh.p.cfg.Stages {
		if !st.ProcessL4(r) {
			sh.stageDropped++
			return
		}
	}
	for i, s := range sh.p.sinks {
		if s.l4(sh.id, r) {
			sh.sinkRecords[i]++
		}
	}
}

// socket passes a socket record through the stages that take it
// (SocketStage) to the sinks that take it (SocketSink).
func (sh *shard) socket(r *SocketRecord) {
	for _, st := range sh.p.cfg.Stages {
		if ss, ok := st.(SocketStage); ok && !ss.ProcessSocket(r) {
			sh.stageDropped++
			return
		}
	}
	for i, s := range sh.p.sinks {
		if s.socket(sh.id, r) {
			sh.sinkRecords[i]++
		}
	}
}

// l7 passes a request record through the stages to the sinks.
func (sh *shard) l7(r *l7.Record) {
	for _, st := range sh.p.cfg.Stages {
		if !st.ProcessL7(r) {
			sh.stageDropped++
			return
		}
	}
	for i, s := range sh.p.sinks {
		if s.l7(sh.id, r) {
			sh.sinkRecords[i]++
		}
	}
}
