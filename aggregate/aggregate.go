package aggregate

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// Window lengths.
const (
	Second = time.Second
	Minute = time.Minute
)

// Defaults of Config.
const (
	DefaultMaxSeries      = 200_000
	DefaultMaxStrings     = 100_000
	DefaultMaxFlows       = 1 << 20
	DefaultSecondLateness = 2 * time.Second
	// DefaultLateness covers the longest default session timeout (an l7
	// request timing out is reported that long after its first byte) and
	// the engine's 10 s of slack for reports and ticks.
	DefaultLateness = l7.DefaultSessionTimeout + 10*time.Second
)

// Errors of New.
var (
	ErrTooManyTags = fmt.Errorf("aggregate: a view has more than %d tags", MaxTags)
	ErrBadView     = errors.New("aggregate: a view needs a name and a kind")
	ErrLateness    = errors.New("aggregate: SecondLateness exceeds Lateness")
)

// Config tunes an Aggregator. The zero value means defaults.
type Config struct {
	// Views are the metric tables. Default nil: DefaultViews().
	Views []View
	// MaxSeries caps the series of each view in each window; records of
	// further keys fold into that window's one Overflow series, counted
	// in Stats.Overflow. The open windows of a view together hold at most
	// 8 × MaxSeries distinct keys (several seconds and minutes are open at
	// once); past that, new keys fold into the overflow series too.
	// Default 200,000; limit 1<<24.
	MaxSeries int
	// MaxStrings caps the interned strings (L7 protocols, endpoints, tag
	// values) over the Aggregator's life; further strings group under
	// OtherString, counted in Stats.StringsFull. Default 100,000.
	MaxStrings int
	// MaxFlows caps the live flows remembered between their snapshot
	// records (to count each flow once in new_flow and its handshake RTT
	// once); past it a flow's later snapshot may count it again, counted
	// in Stats.FlowsFull. Default 1<<20.
	MaxFlows int
	// SecondLateness is how far behind the newest record time (the
	// watermark) a record may be and still land in its 1 s window; later
	// records go to the 1 min window directly and into the late-second
	// bucket. Default 2 s; at most Lateness.
	SecondLateness time.Duration
	// Lateness is the same for 1 min windows; later records go to the
	// late-minute bucket only. Default DefaultLateness (130 s).
	Lateness time.Duration
	// OnWindow receives each window when it closes: 1 s windows first,
	// then the 1 min windows they merged into. The Window and everything
	// in it are borrowed for the call; OnWindow must not call the
	// Aggregator. Default nil (windows are dropped after merging).
	OnWindow func(*Window)
}

// Window is one closed window of one view.
type Window struct {
	View     *View
	Interval time.Duration // Second or Minute
	Start    time.Time     // the window is [Start, Start+Interval)
	// Series are the window's series: Net is set for Network views, App
	// for Application views.
	Series []Series
	// Late marks a window of records that came too late for their 1 s
	// windows, by key: the late-second bucket, delivered each time 1 s
	// windows close (Start is the watermark's second when the first such
	// record came). Its records are in their 1 min windows already: who
	// sums 1 s windows adds Late ones to see every record; who sums 1 min
	// windows skips them.
	Late bool
}

// Series is one key's metrics in one window.
type Series struct {
	Key Key
	Net *NetworkMetrics
	App *AppMetrics
}

// Bucket holds what arrived too late for a window.
type Bucket struct {
	Net NetworkMetrics
	App AppMetrics
}

// Stats counts what an Aggregator saw.
type Stats struct {
	L4Records   uint64 // WriteL4 calls
	L7Records   uint64 // WriteL7 calls
	LateSecond  uint64 // records too late for their 1 s window, in time for the minute
	LateMinute  uint64 // records too late for their 1 min window too
	Overflow    uint64 // updates of a view folded into an overflow series
	StringsFull uint64 // strings grouped under OtherString
	FlowsFull   uint64 // snapshot flows not remembered (MaxFlows)
	Windows     uint64 // windows closed
	OpenSeries  uint64 // series in the open windows now
}

// Aggregator turns flow and l7 records into 1 s and 1 min windows of
// metrics. It is a pipeline.Sink. Its methods are safe for concurrent
// use (one mutex); OnWindow runs under it.
type Aggregator struct {
	mu        sync.Mutex
	cfg       Config
	in        *interner
	views     []*viewState
	watermark int64
	nextDue   int64
	secLate   int64
	minLate   int64
	flows     map[uint64]uint8
	stats     Stats
	series    []Series
	secs      []AppMetrics   // the series of a 1 s window being delivered
	idx       []int32        // the cells of a 1 s window being folded
	net       NetworkMetrics // delta of the record at hand
	appViews  []*viewState   // the Application views
	// the held l7 records (WriteL7): a ring, and their keys in each of
	// appViews (l7Lag × len(appViews))
	ring     [l7Lag]l7Entry
	ringHead int
	ringN    int
	pend     []pending
}

// pending is a held l7 record's key in one view.
type pending struct {
	k ikey
	h uint64
}

// flags of a remembered flow
const (
	flowRTT uint8 = 1 << iota
	flowRTTClient
	flowRTTServer
)

type viewState struct {
	v        View
	t        table     // the keys of the open windows, by index
	secs     []*window // open 1 s windows, by start
	mins     []*window // open 1 min windows, by start
	last     *window   // the 1 s window used last
	lateSec  Bucket
	lateWin  *window // late-second records by key, delivered as a Late window
	lateMin  Bucket
	freeSec  []*window
	freeMin  []*window
	tagKeys  []TagKey
	maxSer   int
	maxKeys  int // cap of t: maxKeysPerSeries × maxSer
	overflow ikey
	ref      bitset // scratch of sweep
}

// maxKeysPerSeries bounds a view's key table: the keys of its open windows
// (about four seconds and four minutes at the default latenesses) number
// at most this many times Config.MaxSeries; past it new keys fold into the
// overflow series.
const maxKeysPerSeries = 8

// A window is an array of cells indexed by the view's key indexes (only
// the cells in mark hold anything; the others are zero).
type window struct {
	start    int64
	interval int64
	n        int              // cells in use
	mark     bitset           // cells in use
	sec      []secApp         // Application 1 s windows and the late window
	app      []AppMetrics     // Application 1 min windows
	net      []NetworkMetrics // Network windows
	// A 1 s window's minute, opened when first needed: closing the second
	// folds its cells into it.
	min *window
}

// secApp is an application series in a 1 s window: the counters (a
// second's worth fits 32 bits) and the sketch buckets of the latest
// latencies, which move to the minute's sketch when the second closes (or
// when the buffer is full). 64 bytes: one cache line.
type secApp struct {
	req, resp, cerr, serr, tout uint32
	nlat                        uint32
	rrt                         Latency
	lat                         [8]int16 // latIndex of buffered latencies
}

// New returns an Aggregator; nil c means defaults.
func New(c *Config) (*Aggregator, error) {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	if cfg.Views == nil {
		cfg.Views = DefaultViews()
	}
	if cfg.MaxSeries <= 0 {
		cfg.MaxSeries = DefaultMaxSeries
	}
	cfg.MaxSeries = min(cfg.MaxSeries, 1<<24)
	if cfg.MaxStrings <= 0 {
		cfg.MaxStrings = DefaultMaxStrings
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.SecondLateness <= 0 {
		cfg.SecondLateness = DefaultSecondLateness
	}
	if cfg.Lateness <= 0 {
		cfg.Lateness = DefaultLateness
	}
	if cfg.SecondLateness > cfg.Lateness {
		return nil, ErrLateness
	}
	a := &Aggregator{
		cfg:     cfg,
		in:      newInterner(cfg.MaxStrings),
		secLate: int64(cfg.SecondLateness),
		minLate: int64(cfg.Lateness),
		flows:   make(map[uint64]uint8),
	}
	for _, v := range cfg.Views {
		if v.Name == "" || (v.Kind != Network && v.Kind != Application) {
			return nil, ErrBadView
		}
		if len(v.Tags) > MaxTags {
			return nil, ErrTooManyTags
		}
		v.Tags = append([]TagKey(nil), v.Tags...)
		a.views = append(a.views, &viewState{v: v, tagKeys: v.Tags, maxSer: cfg.MaxSeries,
			maxKeys: maxKeysPerSeries * cfg.MaxSeries, overflow: ikey{overflow: true}})
	}
	for _, vs := range a.views {
		if vs.v.Kind == Application {
			a.appViews = append(a.appViews, vs)
		}
	}
	a.pend = make([]pending, l7Lag*len(a.appViews))
	return a, nil
}

// Views returns the views, in the order of Config.Views.
func (a *Aggregator) Views() []View {
	out := make([]View, len(a.views))
	for i, vs := range a.views {
		out[i] = vs.v
	}
	return out
}

// WriteL4 counts a flow record into the network views. The record is
// borrowed for the call. A record's counters land in the window of its
// last packet (EndTime): with snapshots (flow.Config.SnapshotInterval)
// that is the interval its packets were seen in. A record without packets
// (an idle flow's snapshot, or a flow closed by its idle timeout after a
// snapshot) lands at the watermark, the time it was reported.
func (a *Aggregator) WriteL4(r *flow.Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drainL7()
	a.stats.L4Records++
	t := r.EndTime
	if r.PacketTx+r.PacketRx == 0 && a.watermark > t {
		t = a.watermark
	}
	d := &a.net
	a.l4Delta(r, d)
	l7p := r.L7Protocol
	if l7p == "" {
		l7p = "unknown"
	}
	var k ikey
	for _, vs := range a.views {
		if vs.v.Kind != Network {
			continue
		}
		f := vs.v.Fields
		k = ikey{}
		if f&FieldClientIP != 0 {
			putAddr(&k.client, &k.cfam, r.IP0)
		}
		if f&FieldServerIP != 0 {
			putAddr(&k.server, &k.sfam, r.IP1)
		}
		if f&FieldServerPort != 0 {
			k.port = r.ServerPort
		}
		if f&FieldProtocol != 0 {
			k.proto = r.Protocol
		}
		if f&FieldL7Protocol != 0 {
			k.l7 = a.in.str(l7p)
		}
		a.tags(vs, &k, &r.Tags)
		w, late := a.windowFor(vs, t)
		switch late {
		case 0:
			w.net[a.slot(vs, w, a.index(vs, &k))].Merge(d)
		case 1:
			j := a.index(vs, &k)
			w.net[a.slot(vs, w, j)].Merge(d)
			vs.lateSec.Net.Merge(d)
			lw := a.lateWindow(vs)
			lw.net[a.slot(vs, lw, j)].Merge(d)
		default:
			vs.lateMin.Net.Merge(d)
		}
	}
	a.countLate(t)
	a.advance(r.EndTime)
	return nil
}

// l4Delta fills d with what r adds to a window.
func (a *Aggregator) l4Delta(r *flow.Record, d *NetworkMetrics) {
	*d = NetworkMetrics{
		Records:  1,
		PacketTx: r.PacketTx, PacketRx: r.PacketRx,
		ByteTx: r.ByteTx, ByteRx: r.ByteRx,
		L4ByteTx: r.L4ByteTx, L4ByteRx: r.L4ByteRx,
		FlowLoad:  1,
		RetransTx: uint64(r.RetransTx), RetransRx: uint64(r.RetransRx),
		ZeroWinTx: uint64(r.ZeroWinTx), ZeroWinRx: uint64(r.ZeroWinRx),
		OOOTx: uint64(r.OOOTx), OOORx: uint64(r.OOORx),
		SynCount: uint64(r.SynCount), SynAckCount: uint64(r.SynAckCount),
		RetransSyn: uint64(r.RetransSyn), RetransSynAck: uint64(r.RetransSynAck),
		L7Request: uint64(r.L7Request), L7Response: uint64(r.L7Response),
		SRT: Latency{Sum: uint64(r.SRTSum), Count: uint64(r.SRTCount), Max: uint64(r.SRTMax)},
		ART: Latency{Sum: uint64(r.ARTSum), Count: uint64(r.ARTCount), Max: uint64(r.ARTMax)},
	}
	st, known := a.flows[r.FlowID]
	if !known {
		d.NewFlow = 1
	}
	if r.HasRTT && st&flowRTT == 0 {
		d.RTT.Add(uint64(r.RTT))
		st |= flowRTT
	}
	if r.HasRTTClient && st&flowRTTClient == 0 {
		d.RTTClient.Add(uint64(r.RTTClient))
		st |= flowRTTClient
	}
	if r.HasRTTServer && st&flowRTTServer == 0 {
		d.RTTServer.Add(uint64(r.RTTServer))
		st |= flowRTTServer
	}
	if r.Snapshot {
		if known || len(a.flows) < a.cfg.MaxFlows {
			a.flows[r.FlowID] = st
		} else {
			a.stats.FlowsFull++
		}
		return
	}
	if known {
		delete(a.flows, r.FlowID)
	}
	d.ClosedFlow = 1
	switch r.CloseType {
	case flow.CloseTCPClientRst, flow.CloseTCPFinClientRst:
		d.ClientRstFlow = 1
	case flow.CloseTCPServerRst:
		d.ServerRstFlow = 1
	case flow.CloseClientSynRepeat:
		d.ServerSynMiss = 1
	case flow.CloseServerSynAckRepeat:
		d.ClientAckMiss = 1
	case flow.CloseClientHalfClose:
		d.ClientHalfCloseFlow = 1
	case flow.CloseServerHalfClose:
		d.ServerHalfCloseFlow = 1
	case flow.CloseClientSourcePortReuse:
		d.ClientSourcePortReuse = 1
	case flow.CloseClientEstablishReset:
		d.ClientEstablishOtherRst = 1
	case flow.CloseServerEstablishReset:
		d.ServerEstablishOtherRst = 1
	case flow.CloseServerReset:
		d.ServerReset = 1
	case flow.CloseServerQueueLack:
		d.ServerQueueLack = 1
	case flow.CloseTimeout:
		if r.Protocol == 6 {
			d.TCPTimeout = 1
		}
	}
}

// l7Lag is how many l7 records WriteL7 holds before counting them: the
// memory of a record's series (key table slots, then window cells) is
// prefetched while the records before it are counted, so that the cache
// misses of several records overlap.
const l7Lag = 8

// l7Stale is how far (in record time) a held record may trail the newest
// one: older ones are counted at once, so that a slow source's windows do
// not wait for l7Lag more records.
const l7Stale = int64(100 * time.Millisecond)

// l7Entry is a held l7 record: what counting it needs (its keys are in
// Aggregator.pend).
type l7Entry struct {
	start, end                  int64
	rrt                         int64
	req, resp, cerr, serr, tout uint64
	hasRRT                      bool
	li                          int16
}

// WriteL7 counts an l7 record into the application views, in the window
// of its start time (the request's first byte, or a lone response's). The
// record is borrowed for the call: what counting it needs is copied, and
// it is counted within the next l7Lag calls (or at the next call of any
// other method, or once a record 100 ms newer comes), so that the cache
// misses of consecutive records overlap.
func (a *Aggregator) WriteL7(r *l7.Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.L7Records++
	nv := len(a.appViews)
	if nv == 0 {
		a.countLate(r.StartTime)
		a.advance(r.EndTime)
		return nil
	}
	if len(r.Endpoint) > 0 { // read below: its miss overlaps counting the oldest
		prefetch(unsafe.Pointer(unsafe.SliceData(r.Endpoint)))
	}
	for a.ringN > 0 && (a.ringN == l7Lag || a.ring[a.ringHead].end+l7Stale < r.EndTime) {
		a.countOldest()
	}
	slotI := (a.ringHead + a.ringN) % l7Lag
	a.ringN++
	e := &a.ring[slotI]
	*e = l7Entry{start: r.StartTime, end: r.EndTime}
	if r.HasRequest {
		e.req = 1
	}
	if r.HasResponse {
		e.resp = 1
	}
	if r.HasStatus {
		switch r.Status {
		case l7.StatusClientError:
			e.cerr = 1
		case l7.StatusServerError:
			e.serr = 1
		case l7.StatusTimeout:
			e.tout = 1
		}
	}
	e.rrt, e.hasRRT = r.ResponseDuration()
	if e.rrt < 0 {
		e.rrt = 0
	}
	if e.hasRRT {
		e.li = latIndex(e.rrt)
	}
	p := a.pend[slotI*nv : (slotI+1)*nv]
	l7id := a.in.str(r.L7Protocol)
	var epid uint32
	interned := false
	for i, vs := range a.appViews {
		f := vs.v.Fields
		if f&FieldEndpoint != 0 && !interned {
			epid, interned = a.in.bytes(r.Endpoint), true
		}
		k := &p[i].k
		*k = ikey{}
		if f&FieldClientIP != 0 {
			putAddr(&k.client, &k.cfam, r.Client.Addr())
		}
		if f&FieldServerIP != 0 {
			putAddr(&k.server, &k.sfam, r.Server.Addr())
		}
		if f&FieldServerPort != 0 {
			k.port = r.Server.Port()
		}
		if f&FieldProtocol != 0 {
			k.proto = uint8(r.Transport)
		}
		if f&FieldL7Protocol != 0 {
			k.l7 = l7id
		}
		if f&FieldEndpoint != 0 {
			k.endpoint = epid
		}
		a.tags(vs, k, &r.Tags)
		h := k.hash()
		p[i].h = h
		vs.t.prefetch(h)
	}
	// Halfway down the ring, the slots have come: prefetch the cells of
	// the current 1 s windows.
	if a.ringN > l7Lag/2 {
		mid := (a.ringHead + a.ringN - 1 - l7Lag/2) % l7Lag
		for i, vs := range a.appViews {
			pe := &a.pend[mid*nv+i]
			if w := vs.last; w != nil {
				if j := vs.t.find(&pe.k, pe.h); j >= 0 && int(j) < len(w.sec) {
					prefetch(unsafe.Pointer(&w.sec[j]))
				}
			}
		}
	}
	return nil
}

// drainL7 counts the held l7 records.
func (a *Aggregator) drainL7() {
	for a.ringN > 0 {
		a.countOldest()
	}
}

// countOldest counts the oldest held l7 record.
func (a *Aggregator) countOldest() {
	e := &a.ring[a.ringHead]
	nv := len(a.appViews)
	p := a.pend[a.ringHead*nv : (a.ringHead+1)*nv]
	a.ringHead = (a.ringHead + 1) % l7Lag
	a.ringN--
	req, resp, cerr, serr, tout := e.req, e.resp, e.cerr, e.serr, e.tout
	rrt, hasRRT, li := e.rrt, e.hasRRT, e.li
	t := e.start
	for i, vs := range a.appViews {
		pe := &p[i]
		w, late := a.windowFor(vs, t)
		switch late {
		case 0:
			j := a.slot(vs, w, a.indexH(vs, &pe.k, pe.h))
			c := &w.sec[j]
			c.req += uint32(req)
			c.resp += uint32(resp)
			c.cerr += uint32(cerr)
			c.serr += uint32(serr)
			c.tout += uint32(tout)
			if hasRRT {
				c.rrt.Add(uint64(rrt))
				if int(c.nlat) == len(c.lat) {
					a.flushLat(vs, w, j)
				}
				c.lat[c.nlat] = li
				c.nlat++
			}
		case 1:
			j := a.indexH(vs, &pe.k, pe.h)
			m := &w.app[a.slot(vs, w, j)]
			addApp(m, req, resp, cerr, serr, tout, rrt, hasRRT)
			if hasRRT {
				m.Latency.addLat(li)
			}
			addApp(&vs.lateSec.App, req, resp, cerr, serr, tout, rrt, hasRRT)
			lw := a.lateWindow(vs)
			c := &lw.sec[a.slot(vs, lw, j)]
			c.req += uint32(req)
			c.resp += uint32(resp)
			c.cerr += uint32(cerr)
			c.serr += uint32(serr)
			c.tout += uint32(tout)
			if hasRRT {
				c.rrt.Add(uint64(rrt))
			}
		default:
			addApp(&vs.lateMin.App, req, resp, cerr, serr, tout, rrt, hasRRT)
			if hasRRT {
				vs.lateMin.App.Latency.addLat(li)
			}
		}
	}
	a.countLate(t)
	a.advance(e.end)
}

// addApp adds one record's counters to m.
func addApp(m *AppMetrics, req, resp, cerr, serr, tout uint64, rrt int64, hasRRT bool) {
	m.Request += req
	m.Response += resp
	m.ClientError += cerr
	m.ServerError += serr
	m.Timeout += tout
	if hasRRT {
		m.RRT.Add(uint64(rrt))
	}
}

// flushLat moves the buffered latencies of cell j of 1 s window w into
// its minute's sketch.
func (a *Aggregator) flushLat(vs *viewState, w *window, j int32) {
	m := a.minuteOf(vs, w)
	c := &w.sec[j]
	sk := &m.app[a.slot(vs, m, j)].Latency
	for _, li := range c.lat[:c.nlat] {
		sk.addLat(li)
	}
	c.nlat = 0
}

// tags fills k's tag values from a record's tags.
func (a *Aggregator) tags(vs *viewState, k *ikey, s *tag.Set) {
	if len(vs.tagKeys) == 0 {
		return
	}
	var t [MaxTags]uint32
	for i, tk := range vs.tagKeys {
		if v, ok := s.Get(tk.Side, tk.Key); ok {
			t[i] = a.in.str(v)
		}
	}
	k.tags = a.in.tuple(&t)
}

// countLate counts a record that arrived late (the same for every view).
func (a *Aggregator) countLate(t int64) {
	switch lateness(t, a.watermark, a.secLate, a.minLate) {
	case 1:
		a.stats.LateSecond++
	case 2:
		a.stats.LateMinute++
	}
}

// lateness says whether time t is in time for its 1 s window (0), only
// for its 1 min window (1), or for neither (2), given the watermark.
func lateness(t, wm, secLate, minLate int64) int {
	sec := t - t%int64(Second)
	if sec+int64(Second)+secLate > wm {
		return 0
	}
	m := t - t%int64(Minute)
	if m+int64(Minute)+minLate > wm {
		return 1
	}
	return 2
}

// windowFor returns the window a record of time t goes to, and its
// lateness: 0 its 1 s window, 1 its 1 min window (late for the second),
// 2 none (late for the minute too).
func (a *Aggregator) windowFor(vs *viewState, t int64) (*window, int) {
	if w := vs.last; w != nil && t >= w.start && t < w.start+int64(Second) {
		return w, 0
	}
	late := lateness(t, a.watermark, a.secLate, a.minLate)
	switch late {
	case 0:
		w := a.open(vs, &vs.secs, t-t%int64(Second), int64(Second))
		vs.last = w
		return w, 0
	case 1:
		return a.open(vs, &vs.mins, t-t%int64(Minute), int64(Minute)), 1
	}
	return nil, 2
}

// open finds or creates the window starting at start in ws.
func (a *Aggregator) open(vs *viewState, ws *[]*window, start, interval int64) *window {
	l := *ws
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].start == start {
			return l[i]
		}
	}
	w := a.newWindow(vs, interval)
	w.start = start
	i := sort.Search(len(l), func(i int) bool { return l[i].start > start })
	l = append(l, nil)
	copy(l[i+1:], l[i:])
	l[i] = w
	*ws = l
	if due := start + interval + a.lateFor(interval); a.nextDue == 0 || due < a.nextDue {
		a.nextDue = due
	}
	return w
}

func (a *Aggregator) lateFor(interval int64) int64 {
	if interval == int64(Second) {
		return a.secLate
	}
	return a.minLate
}

// lateWindow returns the window that gathers vs's late-second records
// until the next 1 s window closes.
func (a *Aggregator) lateWindow(vs *viewState) *window {
	if vs.lateWin == nil {
		vs.lateWin = a.newWindow(vs, int64(Second))
		s := a.watermark - a.watermark%int64(Second)
		vs.lateWin.start = s
		a.due(s + int64(Second) + a.secLate)
	}
	return vs.lateWin
}

// newWindow takes a window of the interval from the free list, or makes
// one.
func (a *Aggregator) newWindow(vs *viewState, interval int64) *window {
	free := &vs.freeSec
	if interval != int64(Second) {
		free = &vs.freeMin
	}
	var w *window
	if n := len(*free); n > 0 {
		w = (*free)[n-1]
		*free = (*free)[:n-1]
	} else {
		w = &window{}
	}
	w.interval = interval
	return w
}

// minuteOf returns the 1 min window of 1 s window w.
func (a *Aggregator) minuteOf(vs *viewState, w *window) *window {
	if w.min == nil {
		w.min = a.open(vs, &vs.mins, w.start-w.start%int64(Minute), int64(Minute))
	}
	return w.min
}

// index returns k's index in vs's key table, adding k; -1 when the table
// is full.
func (a *Aggregator) index(vs *viewState, k *ikey) int32 {
	return a.indexH(vs, k, k.hash())
}

// indexH is index with k's hash.
func (a *Aggregator) indexH(vs *viewState, k *ikey, h uint64) int32 {
	if j := vs.t.find(k, h); j >= 0 {
		return j
	}
	if vs.t.n >= vs.maxKeys {
		return -1
	}
	return vs.t.insert(k, h)
}

// slot returns the cell of w that key index j (-1: the table is full)
// uses: j itself, or the overflow series' when w is at the series cap.
// The cell is in use when it returns.
func (a *Aggregator) slot(vs *viewState, w *window, j int32) int32 {
	if j >= 0 && w.mark.has(j) {
		return j
	}
	if j < 0 || w.n >= vs.maxSer {
		a.stats.Overflow++
		h := vs.overflow.hash()
		if j = vs.t.find(&vs.overflow, h); j < 0 {
			j = vs.t.insert(&vs.overflow, h)
		}
		if w.mark.has(j) {
			return j
		}
	}
	if n := len(vs.t.pos); int(j) >= w.cells() {
		w.grow(vs, n)
	}
	w.mark.set(j)
	w.n++
	a.stats.OpenSeries++
	return j
}

func (w *window) cells() int {
	return len(w.mark) * 64
}

// grow makes room for n cells (all zero).
func (w *window) grow(vs *viewState, n int) {
	n = (n + 63) &^ 63
	w.mark.grow(n)
	switch {
	case vs.v.Kind == Network:
		w.net = growZero(w.net, n)
	case w.interval == int64(Second):
		w.sec = growZero(w.sec, n)
	default:
		w.app = growZero(w.app, n)
	}
}

func growZero[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		l := len(s)
		s = s[:n]
		clear(s[l:])
		return s
	}
	t := make([]T, n, max(n, 2*cap(s)))
	adviseHuge(t)
	copy(t, s)
	return t
}

// advance moves the watermark to t and closes the windows that fall due.
func (a *Aggregator) advance(t int64) {
	if t <= a.watermark {
		return
	}
	a.watermark = t
	if a.nextDue != 0 && t >= a.nextDue {
		a.closeDue(false)
	}
}

// Advance moves the watermark to now, closing the windows that fall due:
// for a live source with no traffic at all, an embedder may call it with
// the wall clock. Replays need not call it.
func (a *Aggregator) Advance(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drainL7()
	a.advance(now.UnixNano())
}

// closeDue closes the windows due at the watermark (or all with all).
func (a *Aggregator) closeDue(all bool) {
	wm := a.watermark
	a.nextDue = 0
	for _, vs := range a.views {
		n := 0
		closed := false
		for _, w := range vs.secs {
			if !all && w.start+w.interval+a.secLate > wm {
				break
			}
			a.closeSecond(vs, w)
			closed = true
			n++
		}
		vs.secs = vs.secs[:copy(vs.secs, vs.secs[n:])]
		if lw := vs.lateWin; lw != nil && (all || lw.start+lw.interval+a.secLate <= wm) {
			a.deliverLate(vs, lw)
			closed = true
		}
		n = 0
		for _, w := range vs.mins {
			if !all && w.start+w.interval+a.minLate > wm {
				break
			}
			a.deliver(vs, w)
			a.release(vs, w)
			closed = true
			n++
		}
		vs.mins = vs.mins[:copy(vs.mins, vs.mins[n:])]
		if closed {
			a.sweep(vs)
		}
		if len(vs.secs) > 0 {
			a.due(vs.secs[0].start + int64(Second) + a.secLate)
		}
		if lw := vs.lateWin; lw != nil {
			a.due(lw.start + lw.interval + a.secLate)
		}
		if len(vs.mins) > 0 {
			a.due(vs.mins[0].start + int64(Minute) + a.minLate)
		}
	}
}

func (a *Aggregator) due(t int64) {
	if a.nextDue == 0 || t < a.nextDue {
		a.nextDue = t
	}
}

// closeSecond delivers a 1 s window and folds it into its minute.
func (a *Aggregator) closeSecond(vs *viewState, w *window) {
	a.deliver(vs, w)
	if w.n > 0 {
		m := a.minuteOf(vs, w)
		idx := a.idx[:0]
		for wi, word := range w.mark {
			for word != 0 {
				idx = append(idx, int32(wi<<6|bits.TrailingZeros64(word)))
				word &= word - 1
			}
		}
		a.idx = idx
		const ahead = 8 // cells: prefetch the sketch of the cell this far ahead
		for n, j := range idx {
			mj := a.slot(vs, m, j)
			if vs.v.Kind == Network {
				m.net[mj].Merge(&w.net[j])
				continue
			}
			if n+ahead < len(idx) {
				if jj := idx[n+ahead]; int(jj) < len(m.app) && cap(m.app[jj].Latency.bins) > 0 {
					prefetch(unsafe.Pointer(unsafe.SliceData(m.app[jj].Latency.bins)))
				}
			}
			c, mm := &w.sec[j], &m.app[mj]
			mm.Request += uint64(c.req)
			mm.Response += uint64(c.resp)
			mm.ClientError += uint64(c.cerr)
			mm.ServerError += uint64(c.serr)
			mm.Timeout += uint64(c.tout)
			mm.RRT.Merge(&c.rrt)
			for _, li := range c.lat[:c.nlat] {
				mm.Latency.addLat(li)
			}
		}
	}
	if vs.last == w {
		vs.last = nil
	}
	a.release(vs, w)
}

// sweep frees the keys no open window of vs holds.
func (a *Aggregator) sweep(vs *viewState) {
	ref := vs.ref[:0]
	ref = growZero(ref, len(vs.t.live))
	or := func(w *window) {
		for i, x := range w.mark[:min(len(w.mark), len(ref))] {
			ref[i] |= x
		}
	}
	for _, w := range vs.secs {
		or(w)
	}
	for _, w := range vs.mins {
		or(w)
	}
	if vs.lateWin != nil {
		or(vs.lateWin)
	}
	vs.ref = ref
	for i, x := range vs.t.live {
		dead := x &^ ref[i]
		for dead != 0 {
			vs.t.remove(int32(i<<6 | bits.TrailingZeros64(dead)))
			dead &= dead - 1
		}
	}
}

// deliverLate hands the late-second window to OnWindow and drops it.
func (a *Aggregator) deliverLate(vs *viewState, w *window) {
	a.deliverAs(vs, w, true)
	vs.lateWin = nil
	a.release(vs, w)
}

// deliver hands a closed window to OnWindow.
func (a *Aggregator) deliver(vs *viewState, w *window) {
	a.deliverAs(vs, w, false)
}

func (a *Aggregator) deliverAs(vs *viewState, w *window, late bool) {
	a.stats.Windows++
	if a.cfg.OnWindow == nil {
		return
	}
	s := a.series[:0]
	secApp := vs.v.Kind == Application && w.interval == int64(Second)
	if secApp {
		a.secs = growZero(a.secs[:0], w.n)
	}
	for wi, word := range w.mark {
		for word != 0 {
			j := int32(wi<<6 | bits.TrailingZeros64(word))
			word &= word - 1
			se := Series{Key: a.in.key(vs.t.key(j))}
			switch {
			case vs.v.Kind == Network:
				se.Net = &w.net[j]
			case secApp:
				c, m := &w.sec[j], &a.secs[len(s)]
				*m = AppMetrics{Request: uint64(c.req), Response: uint64(c.resp), ClientError: uint64(c.cerr),
					ServerError: uint64(c.serr), Timeout: uint64(c.tout), RRT: c.rrt}
				se.App = m
			default:
				se.App = &w.app[j]
			}
			s = append(s, se)
		}
	}
	a.series = s
	win := Window{View: &vs.v, Interval: time.Duration(w.interval), Start: time.Unix(0, w.start).UTC(), Series: s, Late: late}
	a.cfg.OnWindow(&win)
}

// release empties w and keeps it for reuse.
func (a *Aggregator) release(vs *viewState, w *window) {
	a.stats.OpenSeries -= uint64(w.n)
	for wi, word := range w.mark {
		for word != 0 {
			j := wi<<6 | bits.TrailingZeros64(word)
			word &= word - 1
			switch {
			case vs.v.Kind == Network:
				w.net[j] = NetworkMetrics{}
			case w.interval == int64(Second):
				w.sec[j] = secApp{}
			default:
				w.app[j].reset()
			}
		}
	}
	clear(w.mark)
	w.n, w.min = 0, nil
	if w.interval == int64(Second) {
		vs.freeSec = append(vs.freeSec, w)
	} else {
		vs.freeMin = append(vs.freeMin, w)
	}
}

// Close closes every open window, whatever the watermark: call it once
// the input has ended (after pipeline.Run returns). Records written after
// Close open new windows.
func (a *Aggregator) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drainL7()
	a.closeDue(true)
	return nil
}

// Stats returns the counters.
func (a *Aggregator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drainL7()
	s := a.stats
	s.StringsFull = a.in.full
	return s
}

// Late returns copies of view i's late buckets: what came too late for
// its 1 s window (and went to the 1 min window), and too late for the
// 1 min window (and went nowhere else).
func (a *Aggregator) Late(i int) (second, minute Bucket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drainL7()
	vs := a.views[i]
	second, minute = vs.lateSec, vs.lateMin
	second.App = vs.lateSec.App.Clone()
	minute.App = vs.lateMin.App.Clone()
	return second, minute
}
