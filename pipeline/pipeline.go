package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
)

// Pipeline runs a source through decoding, sharded flow tables and L7
// engines, stages and sinks. Build it with New and run it once with Run.
type Pipeline struct {
	cfg    Config
	src    capture.Source   // Config.Source
	srcs   []capture.Source // every packet source: Source, or Sources
	dec    *decode.Decoder
	shards []*shard
	sinks  []*sink
	socks  *sockInput // nil without Config.Sockets
	live   bool       // ClockWall
	inline bool       // the shard reads the source itself (runInline)
	// selfHand: runSharded's reader hands partial batches over itself
	// when its live source (a capture.DeadlineSource) has nothing more
	// to read, instead of the ticker every liveHandOff under handMu.
	selfHand bool

	started   atomic.Bool
	stopping  atomic.Bool
	closeOnce sync.Once
	errOnce   sync.Once
	err       error // first error of a sink or OnPacket

	// The reader's counters, published for Stats.
	readerMu    sync.Mutex
	pubDecode   decode.Stats
	pubFiltered uint64
	filtered    uint64

	// Partial batches waiting in the reader, handed off by the ticker
	// when the source is live (guarded by handMu then).
	handMu sync.Mutex
	cur    []*batch
}

// New checks cfg and builds the shards. It fails with ErrNoSource, or when
// the default registry or an L7 engine cannot be built.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Source == nil && len(cfg.Sources) == 0 && cfg.Sockets == nil {
		return nil, ErrNoSource
	}
	c := cfg.withDefaults()
	if err := checkSources(&cfg, &c); err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: c, src: c.Source, srcs: c.Sources, live: c.Clock == ClockWall}
	if c.Source != nil {
		p.srcs = []capture.Source{c.Source}
	}
	p.dec = decode.NewDecoder(c.Decode)
	for _, sc := range c.Sinks {
		if sc.Sink == nil {
			return nil, ErrNilSink
		}
		s := newSink(sc, p.fail)
		if len(p.srcs) > 0 {
			s.stageShards(c.Shards)
		}
		p.sinks = append(p.sinks, s)
	}
	lc := c.L7
	if !c.NoL7 && lc.Registry == nil {
		reg, err := builtin.Registry()
		if err != nil {
			return nil, fmt.Errorf("build decoder registry: %w", err)
		}
		lc.Registry = reg
	}
	lc.MaxSessions = share(lc.MaxSessions, c.Shards)
	// A server's flows spread over the shards, each with its own endpoint
	// cache: each turns inference off for the endpoint after its share of
	// the failed rounds, so that the total stays as configured.
	if lc.MaxInferFailures <= 0 {
		lc.MaxInferFailures = l7.DefaultMaxInferFailures
	}
	lc.MaxInferFailures = share(lc.MaxInferFailures, c.Shards)
	if lc.MaxBufferTotal > 0 {
		lc.MaxBufferTotal = int64(share(int(lc.MaxBufferTotal), c.Shards))
	}
	if c.Sockets != nil {
		si, err := newSockInput(p, c.Sockets, c.Socket, lc, c.NoL7)
		if err != nil {
			return nil, fmt.Errorf("start l7 engine: %w", err)
		}
		p.socks = si
	}
	if len(p.srcs) == 0 {
		return p, nil
	}
	fc := c.Flow
	fc.MaxFlows = share(fc.MaxFlows, c.Shards)
	for i := 0; i < c.Shards; i++ {
		sh := &shard{p: p, id: i, sinkRecords: make([]uint64, len(p.sinks)), pubSinkRecords: make([]uint64, len(p.sinks))}
		var h flow.Handler
		if !c.NoL7 {
			lci := lc
			lci.OnRecord = sh.l7
			eng, err := l7.NewEngine(lci)
			if err != nil {
				return nil, fmt.Errorf("start l7 engine: %w", err)
			}
			sh.eng = eng
			h = eng
		}
		fci := fc
		fci.Handler = h
		fci.OnRecord = sh.l4
		fci.Shard = uint8(i)
		sh.table = flow.NewTable(fci)
		dc := c.Decode
		if len(c.Sources) > 0 {
			sh.src = c.Sources[i] // decoded in full by the shard
		} else {
			// The shard decodes the frames PeekAddrs placed: no
			// fragments and no tunnels reach its decoder.
			dc.NoReassembly = true
		}
		sh.dec = decode.NewDecoder(dc)
		p.shards = append(p.shards, sh)
	}
	return p, nil
}

// fail records the first error of a sink or of OnPacket and stops the
// pipeline.
func (p *Pipeline) fail(err error) {
	p.errOnce.Do(func() { p.err = err })
	p.stop()
}

// stop makes the reader stop at its next packet, and closes the source so
// that a read blocked on a quiet link or a pipe returns (capture.Source
// allows Close during ReadPacket).
func (p *Pipeline) stop() {
	p.stopping.Store(true)
	p.closeSource()
}

func (p *Pipeline) closeSource() {
	p.closeOnce.Do(func() {
		for _, src := range p.srcs {
			src.Close()
		}
	})
	if p.socks != nil {
		p.socks.close()
	}
}

// Run reads the source to its end (or until ctx is cancelled or a sink
// fails), then flushes every shard, so that every flow and pending request
// yields its record, flushes and drains the sinks, closes the source and
// returns. It returns nil at the end of input, ctx.Err() after
// cancellation, or the first error of the source, OnPacket or a sink. Run
// may be called once.
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	for _, s := range p.sinks {
		s.start()
	}
	p.inline = len(p.cfg.Sources) > 0 || p.src != nil && len(p.shards) == 1 && p.inlineOK(p.src)
	if _, ok := p.src.(capture.DeadlineSource); ok && p.live && !p.inline {
		p.selfHand = true
	}
	done := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		select {
		case <-ctx.Done():
			p.stop()
		case <-done:
		}
	}()
	bg.Add(1)
	go func() {
		defer bg.Done()
		p.ticker(done)
	}()

	var sockErr error
	var socks sync.WaitGroup
	if p.socks != nil {
		socks.Add(1)
		go func() {
			defer socks.Done()
			sockErr = p.socks.run()
		}()
	}
	var readErr error
	switch {
	case len(p.cfg.Sources) > 0:
		readErr = p.runSources()
	case p.src == nil:
	case p.inline:
		sh := p.shards[0]
		readErr = p.runInline(sh, p.src, p.dec, &p.filtered, func() {
			sh.publish()
			p.publishReader()
		})
	default:
		readErr = p.runSharded()
	}
	socks.Wait()
	if readErr == nil {
		readErr = sockErr
	}
	close(done)
	bg.Wait()
	for _, s := range p.sinks {
		s.close()
		s.flush()
	}
	p.closeSource()
	p.publishReader()
	if p.socks != nil {
		p.socks.publish() // the source's last counters
	}

	switch {
	case p.err != nil:
		return p.err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return readErr
}

// ticker flushes the sinks every Tick and, for a live source, hands
// partial batches to the shards (runSharded) and ticks the socket input
// every liveHandOff.
func (p *Pipeline) ticker(done <-chan struct{}) {
	iv := p.cfg.Tick
	if p.live && (!p.inline && !p.selfHand || p.socks != nil) {
		iv = min(iv, liveHandOff)
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	lastFlush := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			if p.live && !p.selfHand {
				p.handOff()
				if p.socks != nil {
					p.socks.tick(now.UnixNano())
				}
			}
			if now.Sub(lastFlush) >= p.cfg.Tick-iv/2 {
				lastFlush = now
				for _, s := range p.sinks {
					s.flush()
				}
			}
		}
	}
}

// read returns the next packet of r that passed the filter (counting the
// others in *filtered) and OnPacket, valid until the next read; or nil and
// the error that ends the input (nil at its end or after a stop), or the
// source's deadline error (os.ErrDeadlineExceeded).
func (p *Pipeline) read(r *reader, filtered *uint64) (*capture.Packet, error) {
	for {
		if p.stopping.Load() {
			return nil, nil
		}
		pkt, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, capture.ErrClosed) {
				return nil, nil
			}
			return nil, err
		}
		if p.cfg.Filter != nil && !p.cfg.Filter.Match(pkt) {
			*filtered++
			continue
		}
		if p.cfg.OnPacket != nil {
			if err := p.cfg.OnPacket(pkt); err != nil {
				p.fail(err)
				return nil, nil
			}
		}
		return pkt, nil
	}
}

// reader reads a source a packet at a time, taking them in batches of up
// to readBatch from a capture.BatchSource (one call, and one lock in the
// source, for the lot). A packet stays valid until the next call of next.
type reader struct {
	src  capture.Source
	bs   capture.BatchSource // src, when it is one
	buf  []capture.Packet
	i, n int // buf[i:n] are still to be returned
}

// readBatch is how many packets a reader asks a capture.BatchSource for.
const readBatch = 32

func newReader(src capture.Source) *reader {
	r := &reader{src: src, buf: make([]capture.Packet, 1)}
	if bs, ok := src.(capture.BatchSource); ok {
		r.bs, r.buf = bs, make([]capture.Packet, readBatch)
	}
	return r
}

// next returns the source's next packet, or its error.
func (r *reader) next() (*capture.Packet, error) {
	if r.i < r.n {
		r.i++
		return &r.buf[r.i-1], nil
	}
	if r.bs == nil {
		if err := r.src.ReadPacket(&r.buf[0]); err != nil {
			return nil, err
		}
		return &r.buf[0], nil
	}
	n, err := r.bs.ReadPackets(r.buf)
	if err != nil {
		r.i, r.n = 0, 0
		return nil, err
	}
	r.i, r.n = 1, n
	return &r.buf[0], nil
}

// inlineBatch is how many packets runInline gathers for one
// flow.Table.Packets call.
const inlineBatch = 32

// inlineOK reports whether a shard can read src on its own goroutine:
// always with the packet clock; with the wall clock only if the wait for
// a packet can be bounded (capture.DeadlineSource), so that the shard's
// clock moves on a quiet link.
func (p *Pipeline) inlineOK(src capture.Source) bool {
	if !p.live {
		return true
	}
	_, ok := src.(capture.DeadlineSource)
	return ok
}

// runInline drives shard sh on the calling goroutine from src, decoded
// by dec, with no hand-off to another goroutine. It decodes packets into
// a small batch, their payloads copied into an arena (a source's packet
// buffer is reused at its next read; the arena grows to the largest batch
// seen and is then reused), so that the table looks them up together.
// publish publishes the counters every 4,096 packets.
//
// With the wall clock src is a capture.DeadlineSource, read in two
// states. After a wait it drains what the source holds (its deadline in
// the past: it returns the packets it has, then os.ErrDeadlineExceeded
// instead of waiting); then the partial batch goes to the table, so a
// packet is processed as soon as the source has nothing more, and the
// reader waits with the deadline at the next Tick, when the table's clock
// moves to the wall clock as a shard goroutine's ticker does. A wait thus
// costs two SetReadDeadline calls, and a quiet link one wake-up a Tick.
func (p *Pipeline) runInline(sh *shard, src capture.Source, dec *decode.Decoder, filtered *uint64, publish func()) error {
	rd := newReader(src)
	ms := make([]decode.Meta, inlineBatch)
	arena := make([]byte, 0, 64<<10)
	n := 0
	multi := len(p.shards) > 1
	flush := func() {
		sh.table.Packets(ms[:n])
		sh.packets += uint64(n)
		n = 0
		arena = arena[:0]
		if multi {
			sh.commit()
		}
	}
	var dr drainer
	var tick time.Time // when the clock moves next
	if p.live {
		dr.src = src.(capture.DeadlineSource)
		tick = time.Now().Add(p.cfg.Tick)
		if err := dr.waitUntil(tick); err != nil {
			return deadlineErr(err)
		}
	}
	var err error
	for k := 1; ; k++ {
		var pkt *capture.Packet
		if pkt, err = p.read(rd, filtered); pkt == nil {
			if !dr.idle(err) {
				break
			}
			// The source holds nothing more: process what waits, move
			// the clock when a Tick is due, and wait until the next.
			if n > 0 {
				flush()
			}
			if now := time.Now(); !now.Before(tick) {
				tick = now.Add(p.cfg.Tick)
				sh.table.Advance(now.UnixNano())
				sh.commit()
				publish()
			}
			if err = dr.waitUntil(tick); err != nil {
				err = deadlineErr(err)
				break
			}
			continue
		}
		if err = dr.got(); err != nil {
			err = deadlineErr(err)
			break
		}
		m := &ms[n]
		if dec.Decode(pkt, m) != nil {
			continue
		}
		if len(m.Payload) > 0 {
			off := len(arena)
			arena = append(arena, m.Payload...)
			m.Payload = arena[off:len(arena):len(arena)]
		}
		if n++; n == len(ms) {
			flush()
		}
		if k&4095 == 0 {
			publish()
		}
	}
	flush()
	sh.finish()
	return err
}

// drainer reads a live capture.DeadlineSource in two states: after a
// wait it drains what the source holds (its deadline in the past: the
// source returns the packets it has, then os.ErrDeadlineExceeded instead
// of waiting); once the source has nothing more, the reader does its
// periodic work and waits with a deadline of its choice.
type drainer struct {
	src      capture.DeadlineSource // nil: not a live deadline source
	draining bool                   // the deadline is in the past
}

// drainNow is a deadline in the past.
var drainNow = time.Unix(1, 0)

// idle reports whether err, from a read that gave no packet, only means
// that the source holds nothing more.
func (d *drainer) idle(err error) bool {
	return d.src != nil && errors.Is(err, os.ErrDeadlineExceeded)
}

// waitUntil makes the next read wait for a packet until t (zero: no
// deadline).
func (d *drainer) waitUntil(t time.Time) error {
	d.draining = false
	return d.src.SetReadDeadline(t)
}

// got is called for each packet read: the first after a wait puts the
// deadline in the past.
func (d *drainer) got() error {
	if d.src == nil || d.draining {
		return nil
	}
	d.draining = true
	return d.src.SetReadDeadline(drainNow)
}

// deadlineErr returns the error of a SetReadDeadline that ends a live
// read: none when the source was closed (a stop).
func deadlineErr(err error) error {
	if errors.Is(err, capture.ErrClosed) {
		return nil
	}
	return fmt.Errorf("set read deadline: %w", err)
}

// runSources runs each shard on a goroutine of its own, reading its own
// source (Config.Sources). The first read error stops the other shards.
func (p *Pipeline) runSources() error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, sh := range p.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.runInline(sh, sh.src, sh.dec, &sh.filtered, sh.publish); err != nil {
				once.Do(func() { first = err })
				p.stop()
			}
		}()
	}
	wg.Wait()
	return first
}

// runSharded reads on this goroutine and hands packets in batches to one
// goroutine per shard. A frame whose addresses PeekAddrs reads goes to its
// shard as captured, to be decoded there; any other is decoded here.
//
// With a live capture.DeadlineSource (selfHand) the reader drains the
// source after a wait, its deadline in the past, and hands the partial
// batches over itself when the source has nothing more, then waits with
// no deadline: no lock per packet and no ticker hand-off. Other live
// sources have their partial batches handed over by the ticker every
// liveHandOff, under handMu.
func (p *Pipeline) runSharded() error {
	var wg sync.WaitGroup
	for _, sh := range p.shards {
		sh.start(p.cfg.BatchSize, p.cfg.QueueBatches)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh.run()
		}()
	}
	p.handMu.Lock()
	p.cur = make([]*batch, len(p.shards))
	p.handMu.Unlock()
	n := len(p.shards)
	rd := newReader(p.src)
	var meta decode.Meta
	var src, dst [16]byte
	var err error
	var dr drainer
	if p.selfHand {
		dr.src = p.src.(capture.DeadlineSource)
	}
	lock := p.live && dr.src == nil
	for k := 1; ; k++ {
		var pkt *capture.Packet
		if pkt, err = p.read(rd, &p.filtered); pkt == nil {
			if !dr.idle(err) {
				break
			}
			// Nothing more at hand: hand over what waits, then wait.
			p.handOff()
			p.publishReader()
			if err = dr.waitUntil(time.Time{}); err != nil {
				err = deadlineErr(err)
				break
			}
			continue
		}
		if err = dr.got(); err != nil {
			err = deadlineErr(err)
			break
		}
		proto, plain := p.dec.PeekAddrs(pkt, &src, &dst)
		if !plain && p.dec.Decode(pkt, &meta) != nil {
			continue
		}
		i := 0
		switch {
		case n == 1:
		case plain:
			i = shardOf(hashAddrs(&src, &dst, proto), n)
		default:
			i = shardOf(Hash(&meta), n)
		}
		if lock {
			p.handMu.Lock()
		}
		b := p.batch(i)
		if plain {
			b.addFrame(pkt)
		} else {
			b.addMeta(&meta)
		}
		p.handIfFull(i)
		if lock {
			p.handMu.Unlock()
		}
		if k&1023 == 0 {
			p.publishReader()
		}
	}
	p.handMu.Lock()
	for i, sh := range p.shards {
		if b := p.cur[i]; b != nil {
			sh.in <- b
			p.cur[i] = nil
		}
		close(sh.in)
	}
	p.handMu.Unlock()
	wg.Wait()
	return err
}

// batch returns shard i's current batch, taking a free one if none.
func (p *Pipeline) batch(i int) *batch {
	b := p.cur[i]
	if b == nil {
		b = <-p.shards[i].free
		p.cur[i] = b
	}
	return b
}

// handIfFull hands shard i's current batch over when it is full.
func (p *Pipeline) handIfFull(i int) {
	if b := p.cur[i]; b.n == len(b.items) {
		p.shards[i].in <- b
		p.cur[i] = nil
	}
}

// handOff sends the partial batches of a live source to their shards.
func (p *Pipeline) handOff() {
	p.handMu.Lock()
	defer p.handMu.Unlock()
	if p.cur == nil {
		return
	}
	for i, b := range p.cur {
		if b != nil && b.n > 0 {
			p.shards[i].in <- b
			p.cur[i] = nil
		}
	}
}

func (p *Pipeline) publishReader() {
	if p.src == nil {
		return
	}
	p.readerMu.Lock()
	p.pubDecode = p.dec.Stats()
	p.pubFiltered = p.filtered
	p.readerMu.Unlock()
}
