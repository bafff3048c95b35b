package store

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Tag is an AutoTagging tag of a Resource: a tag key with a column in the
// record tables ("pod", "pod_ns", "host", "service", ...) and its value.
type Tag struct{ Key, Value string }

// Resource is what spans or samples came from (an OTLP resource, a
// Prometheus target, a Telegraf host): its tags are resolved once per
// request through the store's dictionary, like an agent's.
type Resource struct {
	// Tags name the resource explicitly (k8s.pod.name -> pod ...); the
	// first of a key counts. A key the store has no column for is ignored.
	Tags []Tag
	// Addr, when valid, is an address of the resource: the keys Tags
	// leaves out take the tag ids that agent records last carried for
	// this IP (on either side of l4_flow_log or l7_flow_log).
	Addr netip.Addr
}

// Span is an application span (OpenTelemetry) stored as an l7_flow_log row
// with signal_source "OTel". Its resource's tags go to the client side
// (_0) of a client or producer span and to the server side (_1) of any
// other.
type Span struct {
	Resource                      int    // index in ExtBatch.Resources
	TraceID, SpanID, ParentSpanID string // lower-case hex; ParentSpanID "" for a root
	Kind                          string // span_kind: server, client, producer, consumer, internal, unspecified
	TapSide                       string // tap_side: "s-app", "c-app" or "app" (DeepFlow's)
	StartTime, EndTime            int64  // unix ns
	IP0, IP1                      netip.Addr
	ClientPort, ServerPort        uint16
	Transport                     uint8 // protocol: 6 TCP, 17 UDP, 0 unknown
	L7Protocol, Version           string
	RequestType, RequestDomain    string
	RequestResource, Endpoint     string
	ResponseStatus                uint8 // l7.Status
	ResponseCode                  int64
	HasResponseCode               bool
	ResponseException             string
	XRequestID0, XRequestID1      string
	UserAgent                     string
	Service, Instance             string // app_service (service.name), app_instance (service.instance.id)
	// Attributes are the span's attributes that have no column, as strings.
	Attributes map[string]string
}

// Sample is one value of a metric series, stored as an ext_metrics row.
type Sample struct {
	Resource    int    // index in ExtBatch.Resources
	Time        int64  // unix ns
	Source      string // "otlp", "prometheus", "influx"
	Measurement string // Influx measurement ("" for the others)
	Metric      string // metric name (Influx: measurement_field)
	Value       float64
	// Text holds an Influx string field; Value is then NULL.
	Text   string
	IsText bool
	// Labels are the series' own labels (those that are not tags),
	// stored once per series in ext_series. Samples of one series may
	// share the map; it is not modified.
	Labels map[string]string
}

// ExtBatch is what one ecosystem request (OTLP, remote write, Influx)
// carries; IngestExt stores it in one transaction.
type ExtBatch struct {
	Resources []Resource
	Spans     []Span
	Samples   []Sample
}

// Reset empties b, keeping its slices' memory.
func (b *ExtBatch) Reset() {
	clear(b.Resources)
	clear(b.Spans)
	clear(b.Samples)
	b.Resources, b.Spans, b.Samples = b.Resources[:0], b.Spans[:0], b.Samples[:0]
}

// ExtResult is what IngestExt stored.
type ExtResult struct {
	Seq     uint64 // batch_seq of the rows
	Spans   int
	Samples int
}

// ExtStats counts IngestExt's work.
type ExtStats struct {
	Requests     uint64 `json:"requests"` // batches stored
	Spans        uint64 `json:"spans"`
	Samples      uint64 `json:"samples"`
	Failed       uint64 `json:"failed"`         // batches refused or whose transaction failed
	AddrLookups  uint64 `json:"addr_lookups"`   // IPs looked up in the record tables
	AddrTagged   uint64 `json:"addr_tagged"`    // ... that agent records had tagged
	AddrCacheHit uint64 `json:"addr_cache_hit"` // IPs answered from the cache
}

// Ext limits.
const (
	// AddrCacheTTL is how long the tags found for an IP are reused.
	AddrCacheTTL = time.Minute
	// AddrCacheMax is the most IPs cached; the cache is emptied beyond.
	AddrCacheMax = 1 << 16
)

// extState is the Store's state for IngestExt, guarded by Store.mu.
type extState struct {
	keys  []string // tag keys with an ext_metrics column, in column order
	addrs map[netip.Addr]extAddrTags
	stats ExtStats
	vals  []driver.Value
	ids   []uint32 // per resource, len(keys) each

	series     map[string]uint64 // series key (seriesKey) -> series_id
	nextSeries uint64
	newSeries  []string // keys assigned by the transaction in progress
	seriesIDs  []uint64 // per sample of the batch in progress
	keyBuf     []byte
}

type extAddrTags struct {
	ids []uint32 // per Store.keys
	at  time.Time
}

// extL7Columns are the l7_flow_log columns of application spans (NULL in
// agent records).
var extL7Columns = []string{
	"signal_source VARCHAR", "tap_side VARCHAR", "span_kind VARCHAR",
	"app_service VARCHAR", "app_instance VARCHAR", "attributes MAP(VARCHAR, VARCHAR)",
}

// extIndexes are indexed with traceIndexes: the span search of the trace
// assembly looks spans up by them.
var extIndexes = []string{"span_id", "parent_span_id"}

// initExt adds the span columns to l7_flow_log (to a store created before
// them too) and creates ext_metrics.
func (s *Store) initExt(ctx context.Context) error {
	for _, c := range extL7Columns {
		if _, err := s.db.ExecContext(ctx, "ALTER TABLE l7_flow_log ADD COLUMN IF NOT EXISTS "+c); err != nil {
			return fmt.Errorf("store: l7_flow_log span columns: %w", err)
		}
	}
	var b strings.Builder
	b.WriteString(`CREATE TABLE IF NOT EXISTS ext_metrics (batch_seq UBIGINT NOT NULL, time BIGINT NOT NULL,
		source VARCHAR NOT NULL, measurement VARCHAR NOT NULL DEFAULT '', metric VARCHAR NOT NULL,
		value DOUBLE, text VARCHAR, series_id UBIGINT NOT NULL`)
	for _, k := range s.keys {
		fmt.Fprintf(&b, ", %s_id UINTEGER NOT NULL DEFAULT 0", k)
	}
	b.WriteString(")")
	if _, err := s.db.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("store: ext_metrics: %w", err)
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS ext_series (series_id UBIGINT NOT NULL, metric VARCHAR NOT NULL, labels MAP(VARCHAR, VARCHAR))`,
		`CREATE OR REPLACE VIEW ext_samples AS SELECT m.*, s.labels FROM ext_metrics m LEFT JOIN ext_series s ON s.series_id = m.series_id`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: ext_series: %w", err)
		}
	}
	if err := s.loadSeries(ctx); err != nil {
		return err
	}
	for _, k := range s.keys {
		q := fmt.Sprintf("ALTER TABLE ext_metrics ADD COLUMN IF NOT EXISTS %s_id UINTEGER DEFAULT 0", k)
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: ext_metrics: %w", err)
		}
	}
	s.ext.keys = append([]string(nil), s.keys...)
	s.ext.addrs = map[netip.Addr]extAddrTags{}
	return nil
}

// initExtIndexes indexes the span id columns.
func (s *Store) initExtIndexes(ctx context.Context) error {
	if s.cfg.NoIndexes {
		return nil
	}
	for _, c := range extIndexes {
		q := fmt.Sprintf("CREATE INDEX IF NOT EXISTS l7_%s ON l7_flow_log (%s)", c, c)
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: index: %w", err)
		}
	}
	return nil
}

// ExtStats returns IngestExt's counters.
func (s *Store) ExtStats() ExtStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ext.stats
}

// IngestExt stores the spans and samples of b in one transaction, with the
// tag ids of their resources (explicit tags assigned in the dictionary,
// the rest from the agent records of the resource's address) and the
// dictionary entries it created: all of b, or nothing. Errors: ErrSchema
// (a tag value the dictionary refuses), ErrClosed, DuckDB's.
func (s *Store) IngestExt(b *ExtBatch) (ExtResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ExtResult{}, ErrClosed
	}
	res, err := s.ingestExt(b)
	if err != nil {
		s.ext.stats.Failed++
		return ExtResult{}, err
	}
	s.ext.stats.Requests++
	s.ext.stats.Spans += uint64(res.Spans)
	s.ext.stats.Samples += uint64(res.Samples)
	return res, nil
}

func (s *Store) ingestExt(b *ExtBatch) (ExtResult, error) {
	for i := range b.Spans {
		if r := b.Spans[i].Resource; r < 0 || r >= len(b.Resources) {
			return ExtResult{}, fmt.Errorf("%w: span of resource %d", ErrSchema, r)
		}
	}
	for i := range b.Samples {
		if r := b.Samples[i].Resource; r < 0 || r >= len(b.Resources) {
			return ExtResult{}, fmt.Errorf("%w: sample of resource %d", ErrSchema, r)
		}
	}
	v0 := s.dict.Version()
	ids, err := s.resolveExtResources(b.Resources)
	if err != nil {
		s.restoreDict(v0)
		return ExtResult{}, err
	}
	res := ExtResult{Seq: s.nextSeq}
	err = s.tx(func(conn driver.Conn) error {
		if len(b.Spans) > 0 {
			if err := s.appendExtSpans(conn, b.Spans, ids, res.Seq); err != nil {
				return err
			}
		}
		if len(b.Samples) > 0 {
			series, err := s.seriesOf(conn, b.Samples)
			if err != nil {
				return err
			}
			if err := s.appendExtSamples(conn, b.Samples, ids, series, res.Seq); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context) error {
		if err := s.writeDictDelta(ctx, v0); err != nil {
			return err
		}
		// The batches row keeps batch_seq unique across restarts; an
		// ecosystem request has no id of its own to de-duplicate.
		id := fmt.Sprintf("ext:%d:%d", res.Seq, time.Now().UnixNano())
		_, err := s.insBatch.ExecContext(ctx, res.Seq, id, time.Now().UTC(), 0, len(b.Spans))
		return err
	})
	if err != nil {
		s.restoreDict(v0)
		s.forgetNewSeries()
		return ExtResult{}, err
	}
	s.ext.newSeries = s.ext.newSeries[:0]
	s.nextSeq++
	res.Spans, res.Samples = len(b.Spans), len(b.Samples)
	return res, nil
}

// resolveExtResources returns the tag ids of every resource, len(s.keys)
// each, in order.
func (s *Store) resolveExtResources(rs []Resource) ([]uint32, error) {
	n := len(s.keys)
	ids := s.ext.ids[:0]
	for range len(rs) * n {
		ids = append(ids, 0)
	}
	s.ext.ids = ids
	for ri := range rs {
		r := &rs[ri]
		row := ids[ri*n : ri*n+n]
		for _, t := range r.Tags {
			ki := -1
			for i, k := range s.keys {
				if k == t.Key {
					ki = i
				}
			}
			if t.Value == "" || ki < 0 || row[ki] != 0 {
				continue // no column, or the first tag of the key won
			}
			id, err := s.dict.Assign(t.Key, validUTF8(t.Value))
			if err != nil {
				return nil, fmt.Errorf("%w: tag %s=%.40q: %w", ErrSchema, t.Key, t.Value, err)
			}
			row[ki] = id
		}
		if r.Addr.IsValid() {
			at, err := s.extAddrTags(r.Addr.Unmap())
			if err != nil {
				return nil, err
			}
			for ki := range row {
				if row[ki] == 0 && ki < len(at) {
					row[ki] = at[ki]
				}
			}
		}
	}
	return ids, nil
}

// extAddrTags returns the tag ids (per s.keys) that the latest agent record
// with addr on either side carried, cached for AddrCacheTTL.
func (s *Store) extAddrTags(addr netip.Addr) ([]uint32, error) {
	now := time.Now()
	if e, ok := s.ext.addrs[addr]; ok && now.Sub(e.at) < AddrCacheTTL && len(e.ids) == len(s.keys) {
		s.ext.stats.AddrCacheHit++
		return e.ids, nil
	}
	s.ext.stats.AddrLookups++
	var q strings.Builder
	q.WriteString("SELECT * FROM (")
	for i, t := range []string{"l4_flow_log", "l7_flow_log"} {
		for side := 0; side < 2; side++ {
			if i+side > 0 {
				q.WriteString(" UNION ALL ")
			}
			q.WriteString("(SELECT batch_seq")
			var any []string
			for _, k := range s.keys {
				fmt.Fprintf(&q, ", %s_id_%d AS %s", k, side, k)
				any = append(any, fmt.Sprintf("%s_id_%d <> 0", k, side))
			}
			fmt.Fprintf(&q, " FROM %s WHERE ip_%d = $1 AND (%s)", t, side, strings.Join(any, " OR "))
			if t == "l7_flow_log" {
				q.WriteString(" AND signal_source IS NULL")
			}
			q.WriteString(" ORDER BY batch_seq DESC LIMIT 1)")
		}
	}
	q.WriteString(") ORDER BY batch_seq DESC LIMIT 1")
	rows, err := s.conn.QueryContext(context.Background(), q.String(), addr.String())
	if err != nil {
		return nil, fmt.Errorf("store: tags of %s: %w", addr, err)
	}
	defer rows.Close()
	ids := make([]uint32, len(s.keys))
	if rows.Next() {
		var seq uint64
		dst := []any{&seq}
		for i := range ids {
			dst = append(dst, &ids[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: tags of %s: %w", addr, err)
		}
		s.ext.stats.AddrTagged++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: tags of %s: %w", addr, err)
	}
	if len(s.ext.addrs) >= AddrCacheMax {
		clear(s.ext.addrs)
	}
	s.ext.addrs[addr] = extAddrTags{ids: ids, at: now}
	return ids, nil
}

func extOrNil(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

func extAddrValue(a netip.Addr) driver.Value {
	if !a.IsValid() {
		return nil
	}
	return a.Unmap().String()
}

func extMapValue(m map[string]string) driver.Value {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var om duckdb.OrderedMap
	for _, k := range keys {
		om.Set(validUTF8(k), validUTF8(m[k]))
	}
	return om
}

var extSpanColumns = []string{
	"batch_seq", "start_time", "end_time", "ip_0", "ip_1", "client_port", "server_port", "protocol",
	"l7_protocol", "version", "has_request", "has_response", "request_type", "request_domain",
	"request_resource", "endpoint", "response_status", "response_code", "response_exception",
	"trace_id", "span_id", "parent_span_id", "x_request_id_0", "x_request_id_1", "user_agent",
	"signal_source", "tap_side", "span_kind", "app_service", "app_instance", "attributes",
}

func (s *Store) appendExtSpans(conn driver.Conn, spans []Span, ids []uint32, seq uint64) error {
	names := append([]string(nil), extSpanColumns...)
	fixed := len(names)
	// Only the tag columns some resource has an id for: the others take
	// their default (0), and a narrower append is cheaper.
	used := usedKeys(ids, len(s.keys), len(s.keys))
	for _, ki := range used {
		names = append(names, s.keys[ki]+"_id_0", s.keys[ki]+"_id_1")
	}
	a, err := duckdb.NewAppenderWithColumns(conn, "", "", "l7_flow_log", names)
	if err != nil {
		return fmt.Errorf("store: appender l7_flow_log: %w", err)
	}
	if cap(s.ext.vals) < len(names) {
		s.ext.vals = make([]driver.Value, len(names))
	}
	vals := s.ext.vals[:len(names)]
	n := len(s.keys)
	for i := range spans {
		sp := &spans[i]
		var code driver.Value
		if sp.HasResponseCode {
			code = sp.ResponseCode
		}
		copy(vals, []driver.Value{
			seq, sp.StartTime, sp.EndTime, extAddrValue(sp.IP0), extAddrValue(sp.IP1),
			uint64(sp.ClientPort), uint64(sp.ServerPort), uint64(sp.Transport),
			validUTF8(sp.L7Protocol), validUTF8(sp.Version), uint64(1), uint64(1), validUTF8(sp.RequestType),
			validUTF8(sp.RequestDomain), validUTF8(sp.RequestResource), validUTF8(sp.Endpoint),
			uint64(sp.ResponseStatus), code, validUTF8(sp.ResponseException),
			validUTF8(sp.TraceID), validUTF8(sp.SpanID), validUTF8(sp.ParentSpanID),
			validUTF8(sp.XRequestID0), validUTF8(sp.XRequestID1), validUTF8(sp.UserAgent),
			"OTel", extOrNil(sp.TapSide), extOrNil(validUTF8(sp.Kind)), extOrNil(validUTF8(sp.Service)),
			extOrNil(validUTF8(sp.Instance)), extMapValue(sp.Attributes),
		})
		row := ids[sp.Resource*n : sp.Resource*n+n]
		side := 1
		if sp.Kind == "client" || sp.Kind == "producer" {
			side = 0
		}
		for j, ki := range used {
			vals[fixed+2*j], vals[fixed+2*j+1] = uint32(0), uint32(0)
			vals[fixed+2*j+side] = row[ki]
		}
		if err := a.AppendRow(vals...); err != nil {
			a.Close()
			return fmt.Errorf("store: append l7_flow_log: %w", err)
		}
	}
	if err := a.Close(); err != nil {
		return fmt.Errorf("store: append l7_flow_log: %w", err)
	}
	return nil
}

func (s *Store) appendExtSamples(conn driver.Conn, samples []Sample, ids []uint32, series []uint64, seq uint64) error {
	names := []string{"batch_seq", "time", "source", "measurement", "metric", "value", "text", "series_id"}
	fixed := len(names)
	// ext_metrics has a column for the keys it was created or opened
	// with; ids are per s.keys, which only grows after them.
	used := usedKeys(ids, len(s.keys), len(s.ext.keys))
	for _, ki := range used {
		names = append(names, s.ext.keys[ki]+"_id")
	}
	a, err := duckdb.NewAppenderWithColumns(conn, "", "", "ext_metrics", names)
	if err != nil {
		return fmt.Errorf("store: appender ext_metrics: %w", err)
	}
	if cap(s.ext.vals) < len(names) {
		s.ext.vals = make([]driver.Value, len(names))
	}
	vals := s.ext.vals[:len(names)]
	n := len(s.keys)
	for i := range samples {
		sm := &samples[i]
		var v, text driver.Value = sm.Value, nil
		if sm.IsText {
			v, text = nil, validUTF8(sm.Text)
		} else if math.IsNaN(sm.Value) {
			v = math.NaN() // one NaN, whatever its payload
		}
		copy(vals, []driver.Value{seq, sm.Time, sm.Source, validUTF8(sm.Measurement), validUTF8(sm.Metric), v, text, series[i]})
		row := ids[sm.Resource*n : sm.Resource*n+n]
		for j, ki := range used {
			vals[fixed+j] = row[ki]
		}
		if err := a.AppendRow(vals...); err != nil {
			a.Close()
			return fmt.Errorf("store: append ext_metrics: %w", err)
		}
	}
	if err := a.Close(); err != nil {
		return fmt.Errorf("store: append ext_metrics: %w", err)
	}
	return nil
}

// maintainExt deletes the samples older than before (unix ns); Maintain
// calls it with the Retention's cut.
func (s *Store) maintainExt(ctx context.Context, before int64) error {
	r, err := s.conn.ExecContext(ctx, "DELETE FROM ext_metrics WHERE time < ?", before)
	if err != nil {
		return err
	}
	if k, err := r.RowsAffected(); err == nil {
		s.stats.Deleted += uint64(k)
	}
	return nil
}

// loadSeries restores the series ids of ext_series.
func (s *Store) loadSeries(ctx context.Context) error {
	s.ext.series = map[string]uint64{}
	rows, err := s.db.QueryContext(ctx, `SELECT series_id, metric, labels FROM ext_series`)
	if err != nil {
		return fmt.Errorf("store: ext_series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uint64
		var metric string
		var lv any
		if err := rows.Scan(&id, &metric, &lv); err != nil {
			return fmt.Errorf("store: ext_series: %w", err)
		}
		var labels map[string]string
		if om, ok := lv.(duckdb.OrderedMap); ok {
			labels = make(map[string]string, om.Len())
			vals := om.Values()
			for i, k := range om.Keys() {
				ks, _ := k.(string)
				vs, _ := vals[i].(string)
				labels[ks] = vs
			}
		}
		s.ext.series[string(seriesKey(nil, metric, labels))] = id
		s.ext.nextSeries = max(s.ext.nextSeries, id)
	}
	return rows.Err()
}

// seriesKey appends the identity of a series: its metric and its labels
// in key order, each string length-prefixed.
func seriesKey(dst []byte, metric string, labels map[string]string) []byte {
	put := func(s string) {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	put(metric)
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		put(k)
		put(labels[k])
	}
	return dst
}

type seriesMemo struct {
	labels unsafe.Pointer // the samples' shared Labels map
	metric string
}

// seriesOf returns the series id of every sample, assigning ids to new
// series and writing them to ext_series (in the transaction of conn).
func (s *Store) seriesOf(conn driver.Conn, samples []Sample) ([]uint64, error) {
	ids := s.ext.seriesIDs[:0]
	memo := map[seriesMemo]uint64{}
	var a *duckdb.Appender
	for i := range samples {
		sm := &samples[i]
		mk := seriesMemo{reflect.ValueOf(sm.Labels).UnsafePointer(), sm.Metric}
		if id, ok := memo[mk]; ok {
			ids = append(ids, id)
			continue
		}
		metric := validUTF8(sm.Metric)
		labels := sm.Labels
		for k, v := range labels {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				labels = make(map[string]string, len(sm.Labels))
				for k, v := range sm.Labels {
					labels[validUTF8(k)] = validUTF8(v)
				}
				break
			}
		}
		s.ext.keyBuf = seriesKey(s.ext.keyBuf[:0], metric, labels)
		id, ok := s.ext.series[string(s.ext.keyBuf)]
		if !ok {
			if a == nil {
				var err error
				if a, err = duckdb.NewAppender(conn, "", "", "ext_series"); err != nil {
					return nil, fmt.Errorf("store: appender ext_series: %w", err)
				}
			}
			s.ext.nextSeries++
			id = s.ext.nextSeries
			key := string(s.ext.keyBuf)
			s.ext.series[key] = id
			s.ext.newSeries = append(s.ext.newSeries, key)
			if err := a.AppendRow(id, metric, extMapValue(labels)); err != nil {
				a.Close()
				return nil, fmt.Errorf("store: append ext_series: %w", err)
			}
		}
		memo[mk] = id
		ids = append(ids, id)
	}
	s.ext.seriesIDs = ids
	if a != nil {
		if err := a.Close(); err != nil {
			return nil, fmt.Errorf("store: append ext_series: %w", err)
		}
	}
	return ids, nil
}

// forgetNewSeries drops the series ids a failed transaction assigned.
func (s *Store) forgetNewSeries() {
	for _, k := range s.ext.newSeries {
		delete(s.ext.series, k)
	}
	s.ext.nextSeries -= uint64(len(s.ext.newSeries))
	s.ext.newSeries = s.ext.newSeries[:0]
}

// usedKeys returns the indexes below limit of the keys that some resource
// of ids (n ids a resource) has an id for.
func usedKeys(ids []uint32, n, limit int) []int {
	var used []int
	for ki := 0; ki < limit; ki++ {
		for r := ki; r < len(ids); r += n {
			if ids[r] != 0 {
				used = append(used, ki)
				break
			}
		}
	}
	return used
}
