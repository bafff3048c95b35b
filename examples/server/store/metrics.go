package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/metaflow-go/metaflow/aggregate"
	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// MetricsConfig configures the metric tables. The zero value means
// defaults.
type MetricsConfig struct {
	// Off leaves the metric tables out: nothing is computed or written.
	// Default false.
	Off bool
	// FlushInterval is how long the contributions of stored batches may
	// wait in memory before they are written (checked after each batch;
	// Maintain, Close and FlushMetrics always write them). Default 30 s.
	FlushInterval time.Duration
	// MaxOpenSeries writes the contributions once the windows in memory
	// hold this many series (all views and windows together), or once
	// they span MaxOpenSeconds seconds of record time. Default 500,000.
	MaxOpenSeries int
	// MaxOpenSeconds: see MaxOpenSeries. Default 600.
	MaxOpenSeconds int
	// Retention1s and Retention1m delete the rows of the 1 s and the
	// 1 min tables whose window started before now minus this (Maintain).
	// Default 0: keep everything.
	Retention1s, Retention1m time.Duration
	// Retention overrides the retention of single tables by name, for
	// example {"application.1m": 30 * 24 * time.Hour}. Default nil.
	Retention map[string]time.Duration
}

// Defaults of MetricsConfig.
const (
	DefaultMetricsFlush   = 30 * time.Second
	DefaultMaxOpenSeries  = 500_000
	DefaultMaxOpenSeconds = 600
)

// MetricsStats counts the work of the metric tables.
type MetricsStats struct {
	Flushes  uint64 `json:"flushes"`  // transactions that wrote metric rows
	Rows     uint64 `json:"rows"`     // metric rows written
	Records  uint64 `json:"records"`  // records counted (l4 and l7)
	Replayed uint64 `json:"replayed"` // records recomputed from the record tables (Open, failed flush)
	Failed   uint64 `json:"failed"`   // flushes whose transaction failed (recomputed from the store)
	Overflow uint64 `json:"overflow"` // updates folded into an overflow series (aggregate.Stats.Overflow)
	Deleted  uint64 `json:"deleted"`  // rows deleted by retention
	Merged   uint64 `json:"merged"`   // partial rows of 1 min windows merged away (Maintain)
	Pending  uint64 `json:"pending"`  // stored batches whose contributions are in memory, not yet written
}

// MetricColumn is one metric column of a metric table: Max columns hold
// maxima (combine with max), the others sums (combine with sum).
type MetricColumn struct {
	Name string
	Max  bool
}

// MetricTable describes one metric table.
type MetricTable struct {
	Name     string        // DeepFlow's name, for example "network_map.1s" (quote it in SQL)
	View     string        // "network", "network_map", "application", "application_map"
	Interval time.Duration // aggregate.Second or aggregate.Minute
	Network  bool          // network metrics (of l4_flow_log); else application metrics (of l7_flow_log)
	Edge     bool          // a _map table: a client (ip_0, "<key>_id_0") and a server side
	Keys     []string      // key columns besides time and the tag columns
	Metrics  []MetricColumn
}

// derived are the network metrics computed at query time (sums of
// stored ones), not stored.
var derived = map[string]bool{
	"client_establish_fail": true, "server_establish_fail": true, "tcp_establish_fail": true,
	"tcp_transfer_fail": true, "tcp_rst_fail": true,
}

// netFields and appFields are the stored metric columns.
var (
	netFields = func() []aggregate.NetworkField {
		var out []aggregate.NetworkField
		for _, f := range aggregate.NetworkFields {
			if !derived[f.Name] {
				out = append(out, f)
			}
		}
		return out
	}()
	appFields = aggregate.AppFields
)

// idsTag is the tag a record carries into the Aggregator: all its tag ids
// of one side (see packIDs). It is never a tag key (ValidKey).
const idsTag = "_ids"

// metricViews are aggregate.DefaultViews with the tag ids of the server
// side (and the client side for the _map views) in their keys.
func metricViews() []aggregate.View {
	vs := aggregate.DefaultViews()
	for i := range vs {
		if vs[i].Fields&aggregate.FieldClientIP != 0 {
			vs[i].Tags = []aggregate.TagKey{{Side: tag.Client, Key: idsTag}, {Side: tag.Server, Key: idsTag}}
		} else {
			vs[i].Tags = []aggregate.TagKey{{Side: tag.Server, Key: idsTag}}
		}
	}
	return vs
}

var metricTables = func() []MetricTable {
	var out []MetricTable
	for _, v := range metricViews() {
		for _, iv := range []time.Duration{aggregate.Second, aggregate.Minute} {
			t := MetricTable{View: v.Name, Interval: iv, Network: v.Kind == aggregate.Network, Edge: v.Fields&aggregate.FieldClientIP != 0}
			t.Name = v.Name + ".1s"
			if iv == aggregate.Minute {
				t.Name = v.Name + ".1m"
			}
			for _, k := range []struct {
				f    aggregate.Field
				name string
			}{
				{aggregate.FieldClientIP, "ip_0"}, {aggregate.FieldServerIP, "ip_1"}, {aggregate.FieldServerPort, "server_port"},
				{aggregate.FieldProtocol, "protocol"}, {aggregate.FieldL7Protocol, "l7_protocol"}, {aggregate.FieldEndpoint, "endpoint"},
			} {
				if v.Fields&k.f != 0 {
					t.Keys = append(t.Keys, k.name)
				}
			}
			if t.Network {
				for _, f := range netFields {
					t.Metrics = append(t.Metrics, MetricColumn{f.Name, f.Max})
				}
			} else {
				for _, f := range appFields {
					t.Metrics = append(t.Metrics, MetricColumn{f.Name, f.Max})
				}
			}
			out = append(out, t)
		}
	}
	return out
}()

// MetricTables returns the metric tables: network, network_map,
// application and application_map, each at .1s and .1m.
func MetricTables() []MetricTable {
	out := make([]MetricTable, len(metricTables))
	copy(out, metricTables)
	return out
}

// Quote quotes a table name for SQL ("network.1s").
func Quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func keySQL(name string) string {
	switch name {
	case "ip_0", "ip_1":
		return name + " VARCHAR"
	case "server_port", "protocol":
		return name + " UBIGINT NOT NULL DEFAULT 0"
	default:
		return name + " VARCHAR NOT NULL DEFAULT ''"
	}
}

func (t *MetricTable) sides() []string {
	if t.Edge {
		return []string{"0", "1"}
	}
	return []string{"1"}
}

func createMetricTable(t *MetricTable, keys []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (time BIGINT NOT NULL, batch_seq UBIGINT NOT NULL", Quote(t.Name))
	for _, k := range t.Keys {
		b.WriteString(", " + keySQL(k))
	}
	b.WriteString(", overflow BOOLEAN NOT NULL DEFAULT false")
	for _, k := range keys {
		for _, side := range t.sides() {
			fmt.Fprintf(&b, ", %s_id_%s UINTEGER NOT NULL DEFAULT 0", k, side)
		}
	}
	for _, m := range t.Metrics {
		fmt.Fprintf(&b, ", %s UBIGINT NOT NULL DEFAULT 0", m.Name)
	}
	b.WriteString(")")
	return b.String()
}

// metrics is the state of the metric tables: an Aggregator holding the
// contributions of the batches stored since the last flush.
type metrics struct {
	cfg        MetricsConfig
	agg        *aggregate.Aggregator
	flushedSeq uint64 // the last batch whose contributions are written (meta metrics_seq)
	seq        uint64 // the last batch counted
	pending    uint64 // batches counted since the last flush
	wm, wm0    int64  // the Aggregator's watermark now and at the last flush (meta metrics_watermark)
	reused     int    // flushes the Aggregator has seen
	lastFlush  time.Time
	lastCount  time.Time          // when the last batch was counted
	seconds    map[int64]struct{} // the seconds of record time the open windows span
	lastSec    int64
	ids        map[string]string // packed tag ids, interned
	buf        [2][]byte
	tagCols    []tagCol
	nsec       atomic.Int64 // len(seconds)
	queue      chan *feed   // to the worker
	free       chan *feed   // from the worker, for reuse
	busy       sync.WaitGroup
	used       usedSet // tag columns with an id in the open windows
	// flushes (flushJob, runFlush): fmu is held by a running flush and
	// by whoever else touches the metric tables (Maintain, addKey)
	fs                                  flushState
	fmu                                 sync.Mutex
	fconn                               *sql.Conn
	spare                               *aggregate.Aggregator // a flushed Aggregator, for the next period
	spareReused                         int
	failed                              atomic.Bool // a write failed: recompute before the next
	nFlushes, nRows, nFailed, nOverflow atomic.Uint64
}

// flushState is what onWindow appends with during a flush.
type flushState struct {
	apps   map[string]*duckdb.Appender
	vals   []driver.Value
	used   usedSet
	keyPos int
	seq    uint64
	rows   uint64
	err    error
}

// tagCol is a tag column of a batch's table: its key's position and side.
type tagCol struct {
	c    *encoding.Column
	pos  int
	side tag.Side
}

// anyName lets Table.L4 and Table.L7 decode rows without looking ids up:
// the tags of the Aggregator are the packed ids (packIDs).
type anyName struct{}

func (anyName) Value(string, uint32) (string, bool) { return "", true }

const hugeLateness = 100 * 365 * 24 * time.Hour

// newAgg returns an Aggregator whose windows stay open until Close (no
// record is ever late: the store's windows take every record of their
// time, whenever it comes), with its watermark at wm.
func (s *Store) newAgg(wm int64) error {
	m := &s.m
	a, err := aggregate.New(&aggregate.Config{
		Views:          metricViews(),
		MaxSeries:      1 << 20,
		MaxStrings:     1 << 22,
		SecondLateness: hugeLateness,
		Lateness:       hugeLateness,
		OnWindow:       s.onWindow,
	})
	if err != nil {
		return err
	}
	if wm > 0 {
		a.Advance(time.Unix(0, wm))
	}
	m.agg, m.wm = a, wm
	m.reused = 0
	m.newPeriod()
	return nil
}

// newPeriod starts counting the next batches (after a flush, or with a
// new Aggregator).
func (m *metrics) newPeriod() {
	m.wm0 = m.wm
	m.seconds = map[int64]struct{}{}
	m.nsec.Store(0)
	m.lastSec = -1
	clear(m.used[0])
	clear(m.used[1])
	if len(m.ids) > 1<<20 {
		m.ids = map[string]string{}
	}
	m.pending = 0
}

// initMetrics creates the metric tables and recomputes from the record
// tables the contributions of the batches stored after the last flush (a
// crash loses them from memory, never from the store).
func (s *Store) initMetrics(ctx context.Context) error {
	m := &s.m
	m.cfg = s.cfg.Metrics
	if m.cfg.Off {
		return nil
	}
	if m.cfg.FlushInterval <= 0 {
		m.cfg.FlushInterval = DefaultMetricsFlush
	}
	if m.cfg.MaxOpenSeries <= 0 {
		m.cfg.MaxOpenSeries = DefaultMaxOpenSeries
	}
	if m.cfg.MaxOpenSeconds <= 0 {
		m.cfg.MaxOpenSeconds = DefaultMaxOpenSeconds
	}
	m.ids = map[string]string{}
	m.queue, m.free = make(chan *feed, 2), make(chan *feed, 3)
	go m.worker(m.queue) // its own copy: Close sets m.queue to nil
	for i := range metricTables {
		t := &metricTables[i]
		if _, err := s.db.ExecContext(ctx, createMetricTable(t, s.keys)); err != nil {
			return fmt.Errorf("store: metrics schema: %w", err)
		}
		for _, k := range s.keys {
			if err := s.addMetricColumns(ctx, t, k); err != nil {
				return err
			}
		}
	}
	for _, name := range []string{"metrics_seq", "metrics_watermark"} {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO meta SELECT ?, '0' WHERE NOT EXISTS (SELECT 1 FROM meta WHERE name = ?)`, name, name); err != nil {
			return err
		}
	}
	var seqStr, wmStr string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'metrics_seq'`).Scan(&seqStr); err != nil {
		return err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'metrics_watermark'`).Scan(&wmStr); err != nil {
		return err
	}
	seq, err1 := strconv.ParseUint(seqStr, 10, 64)
	wm, err2 := strconv.ParseInt(wmStr, 10, 64)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("store: bad metrics state %q %q", seqStr, wmStr)
	}
	m.flushedSeq, m.seq = seq, seq
	m.lastFlush = time.Now()
	fconn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	m.fconn = fconn
	if err := s.newAgg(wm); err != nil {
		return err
	}
	if err := s.replayMetrics(ctx, seq); err != nil {
		return fmt.Errorf("store: recompute metrics: %w", err)
	}
	return s.flushMetrics()
}

func (s *Store) addMetricColumns(ctx context.Context, t *MetricTable, k string) error {
	for _, side := range t.sides() {
		q := fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s_id_%s UINTEGER DEFAULT 0", Quote(t.Name), k, side)
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: add tag key %s: %w", k, err)
		}
	}
	return nil
}

// addMetricKey adds the columns of a new tag key to the metric tables.
func (s *Store) addMetricKey(ctx context.Context, k string) error {
	if s.m.cfg.Off {
		return nil
	}
	s.m.fmu.Lock() // no flush appends meanwhile
	defer s.m.fmu.Unlock()
	for i := range metricTables {
		if err := s.addMetricColumns(ctx, &metricTables[i], k); err != nil {
			return err
		}
	}
	return nil
}

// packIDs packs the ids of one side into the string the Aggregator keys
// by: 4 bytes (little endian) per tag key in the order of s.keys, trailing
// zeros dropped, interned.
func (m *metrics) packIDs(side int) string {
	b := m.buf[side]
	n := len(b)
	for n >= 4 && b[n-4]|b[n-3]|b[n-2]|b[n-1] == 0 {
		n -= 4
	}
	if v, ok := m.ids[string(b[:n])]; ok {
		return v
	}
	v := string(b[:n])
	m.ids[v] = v
	return v
}

// setTags replaces ts with the packed ids of m.buf.
func (m *metrics) setTags(ts *tag.Set) {
	ts.Reset()
	ts.Add(tag.Client, idsTag, m.packIDs(0))
	ts.Add(tag.Server, idsTag, m.packIDs(1))
}

func (m *metrics) clearBuf(nkeys int) {
	for side := range m.buf {
		if cap(m.buf[side]) < 4*nkeys {
			m.buf[side] = make([]byte, 4*nkeys)
		}
		m.buf[side] = m.buf[side][:4*nkeys]
		clear(m.buf[side])
	}
}

func (m *metrics) putID(side tag.Side, pos int, id uint32) {
	if id == 0 {
		return
	}
	binary.LittleEndian.PutUint32(m.buf[side&1][4*pos:], id)
	u := &m.used[side&1]
	if pos >= len(*u) {
		*u = append(*u, make([]bool, pos+1-len(*u))...)
	}
	(*u)[pos] = true
}

// second notes a record's window time t.
func (m *metrics) second(t int64) {
	if sec := t / int64(time.Second); sec != m.lastSec {
		m.lastSec = sec
		m.seconds[sec] = struct{}{}
		m.nsec.Store(int64(len(m.seconds)))
	}
}

func (m *metrics) writeL4(r *flow.Record) {
	t := r.EndTime
	if r.PacketTx+r.PacketRx == 0 && m.wm > t {
		t = m.wm
	}
	m.second(t)
	m.agg.WriteL4(r)
	m.wm = max(m.wm, r.EndTime)
}

func (m *metrics) writeL7(r *l7.Record) {
	m.second(r.StartTime)
	m.agg.WriteL7(r)
	m.wm = max(m.wm, r.EndTime)
}

// feed is a stored batch's records, decoded for the worker that counts
// them.
type feed struct {
	l4 []flow.Record
	l7 []l7.Record
}

// worker counts the fed batches into the Aggregator, in the order they
// were stored, while the next batches are received and stored: it owns
// agg, wm, seconds and lastSec until idle (flushMetrics waits for it).
func (m *metrics) worker(queue <-chan *feed) {
	for f := range queue {
		for i := range f.l4 {
			m.writeL4(&f.l4[i])
		}
		for i := range f.l7 {
			m.writeL7(&f.l7[i])
		}
		m.busy.Done()
		select {
		case m.free <- f:
		default:
		}
	}
}

// decodeBatch decodes the rows of a batch (its tag columns resolved to
// the store's ids) for the worker: nil with the metric tables off.
// Ingest runs it on another goroutine while the batch's transaction is
// written, and waits for it before the transaction's outcome is used: it
// touches the decoding state of m (ids, buf, tagCols, used), which only
// ingest, holding s.mu, uses otherwise.
func (s *Store) decodeBatch(l4t, l7t []*encoding.Table) *feed {
	m := &s.m
	if m.cfg.Off || m.agg == nil {
		return nil
	}
	pos := make(map[string]int, len(s.keys))
	for i, k := range s.keys {
		pos[k] = i
	}
	cols := func(t *encoding.Table) []tagCol {
		m.tagCols = m.tagCols[:0]
		for i := range t.Columns {
			c := &t.Columns[i]
			if c.Type != encoding.ColTag {
				continue
			}
			if p, ok := pos[c.Key]; ok {
				m.tagCols = append(m.tagCols, tagCol{c, p, c.Side})
			}
		}
		return m.tagCols
	}
	fill := func(tc []tagCol, row int) {
		m.clearBuf(len(s.keys))
		for _, c := range tc {
			m.putID(c.side, c.pos, c.c.IDs[row])
		}
	}
	var f *feed
	select {
	case f = <-m.free:
	default:
		f = &feed{}
	}
	f.l4, f.l7 = f.l4[:0], f.l7[:0]
	for _, t := range l4t {
		tc := cols(t)
		f.l4 = slices.Grow(f.l4, t.Rows)
		for row := 0; row < t.Rows; row++ {
			f.l4 = f.l4[:len(f.l4)+1]
			r := &f.l4[len(f.l4)-1]
			if t.L4(row, anyName{}, r) != nil {
				f.l4 = f.l4[:len(f.l4)-1]
				continue
			}
			fill(tc, row)
			m.setTags(&r.Tags)
		}
	}
	for _, t := range l7t {
		tc := cols(t)
		f.l7 = slices.Grow(f.l7, t.Rows)
		for row := 0; row < t.Rows; row++ {
			f.l7 = f.l7[:len(f.l7)+1]
			r := &f.l7[len(f.l7)-1]
			if t.L7(row, anyName{}, r) != nil {
				f.l7 = f.l7[:len(f.l7)-1]
				continue
			}
			fill(tc, row)
			m.setTags(&r.Tags)
		}
	}
	return f
}

// dropFeed returns the feed of a batch that was not stored.
func (m *metrics) dropFeed(f *feed) {
	if f == nil {
		return
	}
	select {
	case m.free <- f:
	default:
	}
}

// countBatch hands the decoded rows of a stored batch (decodeBatch) to
// the worker, and writes the windows in memory when they are due. A batch
// that was not stored is never counted.
func (s *Store) countBatch(f *feed, seq uint64) {
	m := &s.m
	if f == nil || m.cfg.Off || m.agg == nil {
		return
	}
	s.stats.Metrics.Records += uint64(len(f.l4) + len(f.l7))
	m.busy.Add(1)
	m.queue <- f
	m.seq = seq
	m.pending++
	m.lastCount = time.Now()
	s.stats.Metrics.Pending = m.pending
	if time.Since(m.lastFlush) >= m.cfg.FlushInterval || m.nsec.Load() >= int64(m.cfg.MaxOpenSeconds) ||
		m.agg.Stats().OpenSeries >= uint64(m.cfg.MaxOpenSeries) {
		s.flushMetricsAsync()
	}
}

// FlushMetrics writes the metric contributions of every stored batch
// (the metric endpoints call it, so that they see every stored record).
func (s *Store) FlushMetrics() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.flushMetrics()
}

// FlushMetricsOlder is FlushMetrics when the last write is at least age
// old, or when no batch was counted for the last second (ingest paused:
// the data is settled and the write small): queries that may come often
// under sustained ingest bound how many partial rows they cause (at most
// one write per age), and a query after a burst of ingest sees all of it.
func (s *Store) FlushMetricsOlder(age time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if time.Since(s.m.lastFlush) < age && time.Since(s.m.lastCount) < time.Second {
		return nil
	}
	return s.flushMetrics()
}

// A flush closes the windows in memory and writes them, with the last
// batch they count (meta metrics_seq) and the watermark, in one
// transaction on its own connection (runFlush), while the next batches
// are counted by another Aggregator: ingest does not wait for it. The
// rows of a window are partial sums: a window that gets records in
// several flushes has several rows per key, which queries add up (sum,
// max) and Maintain merges. When a write fails, the next flush first
// recomputes from the record tables everything after the last written
// batch.

// flushJob is one flush: a period's Aggregator and what it counted.
type flushJob struct {
	agg    *aggregate.Aggregator
	seq    uint64
	wm     int64
	used   usedSet
	keys   []string
	reused int
}

// flushMetrics writes the windows in memory and waits for the write
// (recomputing them from the store if a write failed). Under s.mu.
func (s *Store) flushMetrics() error {
	m := &s.m
	if m.cfg.Off || m.agg == nil {
		return nil
	}
	m.fmu.Lock()
	defer m.fmu.Unlock()
	if err := s.recoverFailed(); err != nil {
		return err
	}
	job := s.takeJob()
	if job == nil {
		return nil
	}
	if err := s.runFlush(job); err != nil {
		s.recoverFailed()
		return err
	}
	return nil
}

// flushMetricsAsync starts a flush unless one is running. Under s.mu.
func (s *Store) flushMetricsAsync() {
	m := &s.m
	if !m.fmu.TryLock() {
		return
	}
	if s.recoverFailed() != nil {
		m.fmu.Unlock()
		return
	}
	job := s.takeJob()
	if job == nil {
		m.fmu.Unlock()
		return
	}
	go func() {
		defer m.fmu.Unlock()
		s.runFlush(job) // on error, failed: the next flush recomputes
	}()
}

// takeJob hands the period's Aggregator to a flush and starts the next
// period with the spare one (or a new one). Under s.mu and fmu.
func (s *Store) takeJob() *flushJob {
	m := &s.m
	m.busy.Wait() // the worker is idle: agg, wm are ours
	m.lastFlush = time.Now()
	if m.pending == 0 {
		return nil
	}
	job := &flushJob{agg: m.agg, seq: m.seq, wm: m.wm, keys: slices.Clone(s.keys), reused: m.reused}
	job.used[0], job.used[1] = slices.Clone(m.used[0]), slices.Clone(m.used[1])
	if sp := m.spare; sp != nil {
		m.spare = nil
		sp.Advance(time.Unix(0, m.wm))
		m.agg, m.reused = sp, m.spareReused
		m.newPeriod()
	} else if err := s.newAgg(m.wm); err != nil {
		m.failed.Store(true) // counted again from the store by the next flush
	}
	s.stats.Metrics.Pending = 0
	return job
}

// recoverFailed, after a failed write, counts again from the record
// tables every batch after the last one written. Under s.mu and fmu.
func (s *Store) recoverFailed() error {
	m := &s.m
	if !m.failed.Load() {
		return nil
	}
	m.busy.Wait()
	ctx := context.Background()
	var seqStr, wmStr string
	if err := s.conn.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'metrics_seq'`).Scan(&seqStr); err != nil {
		return err
	}
	if err := s.conn.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'metrics_watermark'`).Scan(&wmStr); err != nil {
		return err
	}
	seq, _ := strconv.ParseUint(seqStr, 10, 64)
	wm, _ := strconv.ParseInt(wmStr, 10, 64)
	m.spare = nil
	if err := s.newAgg(wm); err != nil {
		return err
	}
	m.seq = seq
	if err := s.replayMetrics(ctx, seq); err != nil {
		return fmt.Errorf("store: recompute metrics: %w", err)
	}
	m.failed.Store(false)
	return nil
}

// runFlush writes job. Under fmu only: ingest goes on meanwhile.
func (s *Store) runFlush(job *flushJob) error {
	m := &s.m
	fs := &m.fs
	fs.used, fs.keyPos, fs.seq = job.used, len(job.keys), job.seq
	fs.rows, fs.err = 0, nil
	err := txOn(m.fconn, func(conn driver.Conn) error {
		fs.apps = map[string]*duckdb.Appender{}
		defer func() {
			for _, a := range fs.apps {
				a.Close()
			}
			fs.apps = nil
		}()
		for i := range metricTables {
			t := &metricTables[i]
			if t.Interval != aggregate.Second {
				continue
			}
			a, err := duckdb.NewAppenderWithColumns(conn, "", "", t.Name, appendColumns(t, job.keys, &job.used))
			if err != nil {
				return fmt.Errorf("store: appender %s: %w", t.Name, err)
			}
			fs.apps[t.Name] = a
		}
		job.agg.Close() // OnWindow: onWindow appends the rows
		if fs.err != nil {
			return fs.err
		}
		for name, a := range fs.apps {
			delete(fs.apps, name)
			if err := a.Close(); err != nil {
				return fmt.Errorf("store: append %s: %w", name, err)
			}
		}
		return nil
	}, func(ctx context.Context, c *sql.Conn) error {
		// The 1 min rows are the sums (and maxima) of this flush's 1 s
		// rows: the aggregate package's minute windows, computed by
		// DuckDB rather than appended from Go.
		for i := range metricTables {
			t := &metricTables[i]
			if t.Interval != aggregate.Minute {
				continue
			}
			r, err := c.ExecContext(ctx, rollupSQL(t, job.keys, &job.used), job.seq)
			if err != nil {
				return fmt.Errorf("store: %s: %w", t.Name, err)
			}
			if k, err := r.RowsAffected(); err == nil {
				fs.rows += uint64(k)
			}
		}
		if _, err := c.ExecContext(ctx, `UPDATE meta SET value = ? WHERE name = 'metrics_seq'`, strconv.FormatUint(job.seq, 10)); err != nil {
			return err
		}
		_, err := c.ExecContext(ctx, `UPDATE meta SET value = ? WHERE name = 'metrics_watermark'`, strconv.FormatInt(job.wm, 10))
		return err
	})
	ast := job.agg.Stats()
	m.nOverflow.Add(ast.Overflow)
	if err != nil {
		m.nFailed.Add(1)
		m.failed.Store(true)
		return fmt.Errorf("store: write metrics: %w", err)
	}
	m.nFlushes.Add(1)
	m.nRows.Add(fs.rows)
	// The Aggregator, its windows closed, counts a later period: its
	// memory (key table, window arrays) is reused. A new one now and
	// then keeps its string table bounded.
	if job.reused+1 < aggReuse && ast.StringsFull == 0 {
		m.spare, m.spareReused = job.agg, job.reused+1
	}
	return nil
}

// aggReuse is how many flush periods an Aggregator counts.
const aggReuse = 60

// txOn runs rows (with the driver connection, for appenders) and then
// sqlPart in one transaction on c.
func txOn(c *sql.Conn, rows func(driver.Conn) error, sqlPart func(context.Context, *sql.Conn) error) (err error) {
	ctx := context.Background()
	if _, err := c.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			c.ExecContext(ctx, "ROLLBACK")
		}
	}()
	if err = c.Raw(func(dc any) error { return rows(dc.(driver.Conn)) }); err != nil {
		return err
	}
	if err = sqlPart(ctx, c); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, "COMMIT")
	return err
}

// metricsStats fills the counters the flushes keep.
func (s *Store) metricsStats(st *MetricsStats) {
	m := &s.m
	st.Flushes, st.Rows, st.Failed, st.Overflow = m.nFlushes.Load(), m.nRows.Load(), m.nFailed.Load(), m.nOverflow.Load()
}

// appendColumns lists the columns a flush appends, in onWindow's order:
// the tag columns without an id in the open windows are left to their
// default (0).
func appendColumns(t *MetricTable, keys []string, used *usedSet) []string {
	cols := []string{"time", "batch_seq"}
	cols = append(cols, t.Keys...)
	cols = append(cols, "overflow")
	for p, k := range keys {
		for _, side := range t.sides() {
			if used.has(side, p) {
				cols = append(cols, k+"_id_"+side)
			}
		}
	}
	for _, c := range t.Metrics {
		cols = append(cols, c.Name)
	}
	return cols
}

// usedSet marks the tag columns (side, key position) with an id.
type usedSet [2][]bool

func (u *usedSet) has(side string, pos int) bool {
	l := u[side[0]-'0']
	return pos < len(l) && l[pos]
}

// rollupSQL inserts into the 1 min table t the minutes of the 1 s rows
// that the flush of batch seq ? wrote (the tag columns it left 0 stay 0).
func rollupSQL(t *MetricTable, keys []string, used *usedSet) string {
	var group, agg []string
	group = append(group, t.Keys...)
	group = append(group, "overflow")
	for p, k := range keys {
		for _, side := range t.sides() {
			if used.has(side, p) {
				group = append(group, k+"_id_"+side)
			}
		}
	}
	for _, c := range t.Metrics {
		f := "sum"
		if c.Max {
			f = "max"
		}
		agg = append(agg, fmt.Sprintf("%s(%s)", f, c.Name))
	}
	cols := "time, batch_seq, " + strings.Join(group, ", ")
	for _, c := range t.Metrics {
		cols += ", " + c.Name
	}
	const min = int64(time.Minute)
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT time - ((time %% %d) + %d) %% %d, batch_seq, %s, %s FROM %s WHERE batch_seq = ? GROUP BY ALL",
		Quote(t.Name), cols, min, min, min, strings.Join(group, ", "), strings.Join(agg, ", "), Quote(t.View+".1s"))
}

// onWindow appends the series of a closed window to its table.
func (s *Store) onWindow(w *aggregate.Window) {
	m := &s.m.fs
	if m.err != nil || w.Late || m.apps == nil || w.Interval != aggregate.Second {
		return
	}
	name := w.View.Name + ".1s"
	if w.Interval == aggregate.Minute {
		name = w.View.Name + ".1m"
	}
	a := m.apps[name]
	if a == nil {
		m.err = fmt.Errorf("store: no metric table %s", name)
		return
	}
	edge := w.View.Fields&aggregate.FieldClientIP != 0
	for i := range w.Series {
		se := &w.Series[i]
		k := &se.Key
		v := m.vals[:0]
		v = append(v, w.Start.UnixNano(), m.seq)
		f := w.View.Fields
		if f&aggregate.FieldClientIP != 0 {
			v = append(v, ipValue(k.ClientIP.IsValid(), k.ClientIP.String()))
		}
		if f&aggregate.FieldServerIP != 0 {
			v = append(v, ipValue(k.ServerIP.IsValid(), k.ServerIP.String()))
		}
		if f&aggregate.FieldServerPort != 0 {
			v = append(v, uint64(k.ServerPort))
		}
		if f&aggregate.FieldProtocol != 0 {
			v = append(v, uint64(k.Protocol))
		}
		if f&aggregate.FieldL7Protocol != 0 {
			v = append(v, validUTF8(k.L7Protocol))
		}
		if f&aggregate.FieldEndpoint != 0 {
			v = append(v, validUTF8(k.Endpoint))
		}
		v = append(v, k.Overflow)
		// Tags: [client, server] ids for the _map views, [server] else.
		packs := k.Tags[:1]
		sides := [2]string{"1"}
		if edge {
			packs = k.Tags[:2]
			sides = [2]string{"0", "1"}
		}
		for p := 0; p < m.keyPos; p++ {
			for i, pk := range packs {
				if !m.used.has(sides[i], p) {
					continue
				}
				var id uint32
				if len(pk) >= 4*p+4 {
					id = binary.LittleEndian.Uint32([]byte(pk[4*p : 4*p+4]))
				}
				v = append(v, id)
			}
		}
		if se.Net != nil {
			for _, f := range netFields {
				v = append(v, f.Value(se.Net))
			}
		} else if se.App != nil {
			for _, f := range appFields {
				v = append(v, f.Value(se.App))
			}
		}
		m.vals = v
		if err := a.AppendRow(v...); err != nil {
			m.err = fmt.Errorf("store: append %s: %w", name, err)
			return
		}
		m.rows++
	}
}

func ipValue(ok bool, s string) driver.Value {
	if !ok {
		return nil
	}
	return s
}

// metricsRetention returns the retention of table t (0: keep).
func (m *metrics) retention(t *MetricTable) time.Duration {
	if d, ok := m.cfg.Retention[t.Name]; ok {
		return d
	}
	if t.Interval == aggregate.Second {
		return m.cfg.Retention1s
	}
	return m.cfg.Retention1m
}

// maintainMetrics writes the pending contributions and deletes the rows
// past their table's retention.
func (s *Store) maintainMetrics(ctx context.Context, now time.Time) error {
	m := &s.m
	if m.cfg.Off {
		return nil
	}
	if err := s.flushMetrics(); err != nil {
		return err
	}
	m.fmu.Lock() // no flush writes meanwhile
	defer m.fmu.Unlock()
	for i := range metricTables {
		t := &metricTables[i]
		r := m.retention(t)
		if r <= 0 {
			continue
		}
		res, err := s.conn.ExecContext(ctx, "DELETE FROM "+Quote(t.Name)+" WHERE time < ?", now.Add(-r).UnixNano())
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err == nil {
			s.stats.Metrics.Deleted += uint64(k)
		}
	}
	return s.compactMetrics(ctx)
}

// compactMetrics merges the partial rows (one per flush that counted
// records of the window) of the 1 min tables into one row per window and
// key, for the windows from where the last compaction stopped to two
// minutes before the newest window of the table (meta
// "compacted:<table>"). Rows that come later for a compacted window (late
// records) stay partial: sums are unchanged either way.
func (s *Store) compactMetrics(ctx context.Context) error {
	for i := range metricTables {
		t := &metricTables[i]
		if t.Interval != aggregate.Minute {
			continue
		}
		name := "compacted:" + t.Name
		if _, err := s.conn.ExecContext(ctx, `INSERT INTO meta SELECT ?, '0' WHERE NOT EXISTS (SELECT 1 FROM meta WHERE name = ?)`, name, name); err != nil {
			return err
		}
		var loStr string
		var newest sql.NullInt64
		if err := s.conn.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&loStr); err != nil {
			return err
		}
		if err := s.conn.QueryRowContext(ctx, "SELECT max(time) FROM "+Quote(t.Name)).Scan(&newest); err != nil {
			return err
		}
		lo, err := strconv.ParseInt(loStr, 10, 64)
		if err != nil || !newest.Valid {
			continue
		}
		const minute = int64(time.Minute)
		hi := newest.Int64 - ((newest.Int64%minute)+minute)%minute - minute
		if hi <= lo {
			continue
		}
		cols := []string{"time"}
		cols = append(cols, t.Keys...)
		cols = append(cols, "overflow")
		for _, k := range s.keys {
			for _, side := range t.sides() {
				cols = append(cols, k+"_id_"+side)
			}
		}
		sel := strings.Join(cols, ", ") + ", max(batch_seq)"
		for _, c := range t.Metrics {
			f := "sum"
			if c.Max {
				f = "max"
			}
			sel += fmt.Sprintf(", %s(%s)", f, c.Name)
		}
		ins := strings.Join(cols, ", ") + ", batch_seq"
		for _, c := range t.Metrics {
			ins += ", " + c.Name
		}
		var before, after int64
		err = s.tx(func(driver.Conn) error { return nil }, func(ctx context.Context) error {
			q := Quote(t.Name)
			if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+q+" WHERE time >= ? AND time < ?", lo, hi).Scan(&before); err != nil {
				return err
			}
			steps := []string{
				"CREATE TEMP TABLE metrics_compact AS SELECT " + sel + " FROM " + q + " WHERE time >= ? AND time < ? GROUP BY ALL",
				"DELETE FROM " + q + " WHERE time >= ? AND time < ?",
				"INSERT INTO " + q + " (" + ins + ") SELECT * FROM metrics_compact",
				"DROP TABLE metrics_compact",
			}
			for i, st := range steps {
				var err error
				if i < 2 {
					_, err = s.conn.ExecContext(ctx, st, lo, hi)
				} else {
					_, err = s.conn.ExecContext(ctx, st)
				}
				if err != nil {
					return fmt.Errorf("store: compact %s: %w", t.Name, err)
				}
			}
			if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+q+" WHERE time >= ? AND time < ?", lo, hi).Scan(&after); err != nil {
				return err
			}
			_, err := s.conn.ExecContext(ctx, `UPDATE meta SET value = ? WHERE name = ?`, strconv.FormatInt(hi, 10), name)
			return err
		})
		if err != nil {
			return err
		}
		s.stats.Metrics.Merged += uint64(before - after)
	}
	return nil
}

// closeMetrics writes the pending contributions and stops the worker.
func (s *Store) closeMetrics() {
	m := &s.m
	if m.cfg.Off || m.queue == nil {
		return
	}
	s.flushMetrics()
	close(m.queue)
	m.queue = nil
	m.fconn.Close()
}
