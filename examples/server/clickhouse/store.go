package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/store"
)

// Config configures a Store. The zero value of each field but Conn means
// its default.
type Config struct {
	// Conn is the ClickHouse to write to (Dial, or a chDB session).
	Conn Conn
	// Database holds the tables; created when missing. Default "metaflow".
	Database string
	// Retention is the TTL of records, after their end_time. Default 0:
	// keep everything. (With Compat, Maintain deletes them.)
	Retention time.Duration
	// DedupWindow is how long a batch id is remembered (the TTL of the
	// batches table). Default 24 h.
	DedupWindow time.Duration
	// DedupMax is the most batch ids remembered in memory. Default
	// 1,000,000.
	DedupMax int
	// DedupBlocks is the record tables' non_replicated_deduplication_window:
	// how many recent inserts' tokens ClickHouse keeps. A batch must be
	// resent before that many other blocks are inserted for a crash
	// between its rows and its batches row to leave no duplicate.
	// Default 100,000.
	DedupBlocks int
	// Compat writes a schema old servers accept (Debian's 18.16): no TTL,
	// skip indexes, dictionary, nor insert deduplication tokens. Default
	// false.
	Compat bool
}

// Defaults of Config.
const (
	DefaultDatabase    = "metaflow"
	DefaultDedupBlocks = 100_000
)

// ErrClosed is returned by a closed Store.
var ErrClosed = errors.New("clickhouse: store closed")

// Store keeps the server's records in ClickHouse. It implements
// store.Backend.
type Store struct {
	cfg  Config
	conn Conn
	db   string

	mu      sync.Mutex
	dict    *encoding.Dictionary
	keys    []string
	hasKey  map[string]bool
	seen    map[string]batchRef
	pending map[string]uint64 // batch ids with a state-0 row: their seq
	order   []string
	nextSeq uint64
	stats   store.Stats
	closed  bool
	// nullable are the record columns the table has as Nullable: tap_side
	// (store.ColumnDef.Nullable), and the unsigned ones of a table created
	// by an older server (the syscall trace ids before the wire format
	// carried them). Written as such.
	nullable map[string]bool
}

type batchRef struct {
	seq uint64
	at  time.Time
}

var _ store.Backend = (*Store)(nil)

// Open creates the schema when missing and restores the dictionary, the
// tag keys and the batch ids of the dedup window.
func Open(cfg Config) (*Store, error) {
	if cfg.Conn == nil {
		return nil, errors.New("clickhouse: no Conn")
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if !ident(cfg.Database) || !store.ValidKey(cfg.Database) {
		return nil, fmt.Errorf("clickhouse: bad database name %q", cfg.Database)
	}
	if cfg.DedupWindow <= 0 {
		cfg.DedupWindow = store.DefaultDedupWindow
	}
	if cfg.DedupMax <= 0 {
		cfg.DedupMax = store.DefaultDedupMax
	}
	if cfg.DedupBlocks <= 0 {
		cfg.DedupBlocks = DefaultDedupBlocks
	}
	s := &Store{cfg: cfg, conn: cfg.Conn, db: cfg.Database, hasKey: map[string]bool{}, seen: map[string]batchRef{}, pending: map[string]uint64{}}
	if err := s.init(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) t(name string) string { return s.db + "." + name }

// strings runs q and returns its first column.
func (s *Store) column(ctx context.Context, q string) ([]string, error) {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *Store) init(ctx context.Context) error {
	for _, q := range s.schema() {
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("clickhouse: schema: %w", err)
		}
	}
	keys, err := s.column(ctx, "SELECT key FROM "+s.t("tag_keys")+" GROUP BY key ORDER BY min(pos)")
	if err != nil {
		return fmt.Errorf("clickhouse: tag keys: %w", err)
	}
	if len(keys) == 0 {
		b := &Block{Rows: len(store.DefaultTagKeys), Cols: []Column{{Name: "key", Type: String}, {Name: "pos", Type: UInt32}}}
		for i, k := range store.DefaultTagKeys {
			b.Cols[0].Str = append(b.Cols[0].Str, k)
			b.Cols[1].U32 = append(b.Cols[1].U32, uint32(i))
		}
		if err := s.conn.Insert(ctx, s.t("tag_keys"), b, ""); err != nil {
			return fmt.Errorf("clickhouse: tag keys: %w", err)
		}
		keys = store.DefaultTagKeys
	}
	for _, k := range keys {
		s.keys = append(s.keys, k)
		s.hasKey[k] = true
	}
	for _, t := range []string{"l4_flow_log", "l7_flow_log"} {
		if err := s.conn.Exec(ctx, s.recordTable(t, s.keys)); err != nil {
			return fmt.Errorf("clickhouse: schema: %w", err)
		}
		// A key added while a crash interrupted addKey: add its columns.
		if err := s.addColumns(ctx, t, s.keys...); err != nil {
			return err
		}
		if err := s.addFixed(ctx, t); err != nil {
			return err
		}
	}
	if !s.cfg.Compat {
		if err := s.conn.Exec(ctx, s.dictionary()); err != nil {
			return fmt.Errorf("clickhouse: dictionary: %w", err)
		}
	}
	if err := s.loadDict(ctx); err != nil {
		return err
	}
	// Batch ids: stored (state 1) and reserved (state 0), and the next
	// seq above every seq used, by a batches row or by rows whose batches
	// row was never written or has expired.
	rows, err := s.conn.Query(ctx, "SELECT batch_id, max(seq), max(state), toInt64(max(received_at)) FROM "+s.t("batches")+" GROUP BY batch_id ORDER BY max(seq)")
	if err != nil {
		return fmt.Errorf("clickhouse: batches: %w", err)
	}
	for rows.Next() {
		var id string
		var seq, state uint64
		var at int64
		if err := rows.Scan(&id, &seq, &state, &at); err != nil {
			rows.Close()
			return err
		}
		s.nextSeq = max(s.nextSeq, seq)
		if state == 0 {
			s.pending[id] = seq
			continue
		}
		s.seen[id] = batchRef{seq: seq, at: time.Unix(at, 0)}
		s.order = append(s.order, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range []string{"l4_flow_log", "l7_flow_log"} {
		v, err := s.column(ctx, "SELECT toString(max(batch_seq)) FROM "+s.t(t))
		if err != nil {
			return err
		}
		if len(v) == 1 {
			n, _ := strconv.ParseUint(v[0], 10, 64)
			s.nextSeq = max(s.nextSeq, n)
		}
	}
	s.nextSeq++
	return nil
}

// addColumns adds the columns of the tag keys to table t unless it has
// them.
func (s *Store) addColumns(ctx context.Context, t string, keys ...string) error {
	have, err := s.column(ctx, "SELECT name FROM system.columns WHERE database = "+Quote(s.db)+" AND table = "+Quote(t))
	if err != nil {
		return err
	}
	for _, k := range keys {
		for side := 0; side < 2; side++ {
			c := k + "_id_" + strconv.Itoa(side)
			if contains(have, c) {
				continue
			}
			if err := s.conn.Exec(ctx, "ALTER TABLE "+s.t(t)+" ADD COLUMN "+c+" UInt32 DEFAULT 0"); err != nil {
				return fmt.Errorf("clickhouse: add tag key %s: %w", k, err)
			}
		}
	}
	return nil
}

// addFixed adds to table t, created by an older server, the record
// columns it lacks (old rows read as their defaults), and notes the ones
// it has as Nullable.
func (s *Store) addFixed(ctx context.Context, t string) error {
	have, err := s.column(ctx, "SELECT concat(name, ' ', type) FROM system.columns WHERE database = "+Quote(s.db)+" AND table = "+Quote(t))
	if err != nil {
		return err
	}
	types := map[string]string{}
	for _, h := range have {
		if n, typ, ok := strings.Cut(h, " "); ok {
			types[n] = typ
		}
	}
	for _, c := range store.RecordColumns(t) {
		typ, ok := types[c.Name]
		if !ok {
			ct := colType(c.Wire)
			if c.Nullable && ct == String {
				ct = NullableString
			}
			if err := s.conn.Exec(ctx, "ALTER TABLE "+s.t(t)+" ADD COLUMN "+c.Name+" "+ct.String()+colDefault(ct)); err != nil {
				return fmt.Errorf("clickhouse: add column %s: %w", c.Name, err)
			}
			typ = ct.String()
		}
		if (c.Wire == encoding.ColUvarint && typ == NullableUInt64.String()) || (c.Wire == encoding.ColString && typ == NullableString.String()) {
			if s.nullable == nil {
				s.nullable = map[string]bool{}
			}
			s.nullable[c.Name] = true
		}
	}
	return nil
}

// loadDict restores the dictionary from tag_dict (or creates one with a
// new epoch, kept in meta).
func (s *Store) loadDict(ctx context.Context) error {
	ep, err := s.column(ctx, "SELECT any(value) FROM "+s.t("meta")+" WHERE name = 'epoch' HAVING count() > 0")
	if err != nil {
		return fmt.Errorf("clickhouse: epoch: %w", err)
	}
	if len(ep) == 0 {
		d := encoding.NewDictionary(nil)
		b := &Block{Rows: 1, Cols: []Column{{Name: "name", Type: String, Str: []string{"epoch"}}, {Name: "value", Type: String, Str: []string{strconv.FormatUint(d.Epoch(), 10)}}}}
		if err := s.conn.Insert(ctx, s.t("meta"), b, ""); err != nil {
			return fmt.Errorf("clickhouse: epoch: %w", err)
		}
		s.dict = d
		return nil
	}
	epoch, err := strconv.ParseUint(ep[0], 10, 64)
	if err != nil {
		return fmt.Errorf("clickhouse: bad epoch %q: %w", ep[0], err)
	}
	rows, err := s.conn.Query(ctx, "SELECT key, any(value), id FROM "+s.t("tag_dict")+" GROUP BY key, id ORDER BY min(version)")
	if err != nil {
		return fmt.Errorf("clickhouse: dictionary: %w", err)
	}
	defer rows.Close()
	delta := &encoding.Delta{Epoch: epoch}
	for rows.Next() {
		var e encoding.Entry
		if err := rows.Scan(&e.Key, &e.Value, &e.ID); err != nil {
			return err
		}
		delta.Entries = append(delta.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	d := encoding.NewDictionary(&encoding.DictConfig{Epoch: epoch})
	if err := d.Apply(delta); err != nil {
		return fmt.Errorf("clickhouse: restore dictionary: %w", err)
	}
	s.dict = d
	return nil
}

// Dict returns the server's dictionary. It is replaced when a failed
// ingest had assigned ids, so call Dict again rather than keeping it.
func (s *Store) Dict() *encoding.Dictionary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dict
}

// TagKeys returns the tag keys that have columns.
func (s *Store) TagKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// Stats returns the store's counters.
func (s *Store) Stats() store.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// NeedsCompat reports whether the server behind c is older than
// ClickHouse 22.2 (the first with insert_deduplication_token): its schema
// must be written with Config.Compat.
func NeedsCompat(ctx context.Context, c Conn) (bool, error) {
	rows, err := c.Query(ctx, "SELECT version()")
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var v string
	if !rows.Next() {
		return false, fmt.Errorf("clickhouse: no version: %v", rows.Err())
	}
	if err := rows.Scan(&v); err != nil {
		return false, err
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false, fmt.Errorf("clickhouse: version %q: %w", v, err)
	}
	return major < 22 || major == 22 && minor < 2, nil
}

// Database returns the database that holds the tables.
func (s *Store) Database() string { return s.db }

// Conn returns the connection the store reads and writes through (for
// queries of its own, such as the trace search's).
func (s *Store) Conn() Conn { return s.conn }

// Ingest stores the l4_flow_log and l7_flow_log tables of b under batchID
// with store.Store.Ingest's contract. ClickHouse has no transaction over
// several tables: a batch is written as a sequence of inserts, each
// atomic, in an order that makes a resend after a failure at any point
// store the batch exactly once (see the package documentation).
func (s *Store) Ingest(batchID string, b *encoding.Batch) (store.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Result{}, ErrClosed
	}
	if ref, ok := s.seen[batchID]; ok {
		s.stats.Duplicates++
		return store.Result{Duplicate: true, Seq: ref.seq, Ack: s.dict.Sync(b.Epoch, b.DictVersion)}, nil
	}
	res, err := s.ingest(context.Background(), batchID, b)
	if err != nil {
		s.stats.Failed++
		return store.Result{}, err
	}
	s.stats.Batches++
	s.stats.L4Rows += uint64(res.L4)
	s.stats.L7Rows += uint64(res.L7)
	return res, nil
}

func (s *Store) ingest(ctx context.Context, batchID string, b *encoding.Batch) (store.Result, error) {
	var l4, l7 []*encoding.Table
	var newKeys []string
	for i := range b.Tables {
		t := &b.Tables[i]
		var name string
		switch t.Type {
		case encoding.TableL4:
			name, l4 = "l4_flow_log", append(l4, t)
		case encoding.TableL7:
			name, l7 = "l7_flow_log", append(l7, t)
		default:
			continue
		}
		for _, c := range store.RecordColumns(name) {
			if bc := t.Column(c.Name); bc != nil && bc.Type != c.Wire {
				return store.Result{}, fmt.Errorf("%w: column %s has type %d, want %d", store.ErrSchema, c.Name, bc.Type, c.Wire)
			}
		}
		for ci := range t.Columns {
			c := &t.Columns[ci]
			if c.Type != encoding.ColTag && c.Type != encoding.ColTagString {
				continue
			}
			if !store.ValidKey(c.Key) {
				return store.Result{}, fmt.Errorf("%w: tag key %q", store.ErrSchema, c.Key)
			}
			if !s.hasKey[c.Key] && !contains(newKeys, c.Key) {
				newKeys = append(newKeys, c.Key)
			}
		}
	}
	v0 := s.dict.Version()
	if err := s.dict.Resolve(b); err != nil {
		s.restoreDict(ctx, v0)
		return store.Result{}, err
	}
	for _, k := range newKeys {
		if err := s.addKey(ctx, k); err != nil {
			s.restoreDict(ctx, v0)
			return store.Result{}, err
		}
	}
	for i, str := range b.Strings {
		b.Strings[i] = store.ValidUTF8(str)
	}
	// 1. Reserve the batch's seq (a state-0 batches row), unless a failed
	// attempt did: a resend writes its rows under the same seq.
	seq, ok := s.pending[batchID]
	if !ok {
		// A seq is never reused, even when the insert fails: it may
		// have been written.
		seq = s.nextSeq
		s.nextSeq++
		if err := s.insertBatch(ctx, batchID, seq, 0, 0, 0); err != nil {
			s.restoreDict(ctx, v0)
			return store.Result{}, err
		}
		s.pending[batchID] = seq
	}
	// 2. The dictionary entries the batch created, before any row that
	// holds their ids.
	if v1 := s.dict.Version(); v1 > v0 {
		delta, err := s.dict.Delta(s.dict.Epoch(), v0)
		if err != nil {
			s.restoreDict(ctx, v0)
			return store.Result{}, err
		}
		blk := &Block{Rows: len(delta.Entries), Cols: []Column{{Name: "key", Type: String}, {Name: "id", Type: UInt32}, {Name: "value", Type: String}, {Name: "version", Type: UInt64}}}
		for i, e := range delta.Entries {
			blk.Cols[0].Str = append(blk.Cols[0].Str, e.Key)
			blk.Cols[1].U32 = append(blk.Cols[1].U32, e.ID)
			blk.Cols[2].Str = append(blk.Cols[2].Str, store.ValidUTF8(e.Value))
			blk.Cols[3].U64 = append(blk.Cols[3].U64, v0+uint64(i)+1)
		}
		if err := s.conn.Insert(ctx, s.t("tag_dict"), blk, ""); err != nil {
			s.restoreDict(ctx, v0)
			return store.Result{}, err
		}
	}
	// 3. The rows, one insert a table, each with a token of the batch id:
	// an insert a failed attempt made is dropped when resent.
	res := store.Result{Seq: seq}
	var rowNo uint32
	for i, t := range l4 {
		if err := s.insertRows(ctx, "l4_flow_log", t, b.Strings, seq, rowNo, batchID+"/l4/"+strconv.Itoa(i)); err != nil {
			return store.Result{}, err
		}
		res.L4 += t.Rows
		rowNo += uint32(t.Rows)
	}
	for i, t := range l7 {
		if err := s.insertRows(ctx, "l7_flow_log", t, b.Strings, seq, rowNo, batchID+"/l7/"+strconv.Itoa(i)); err != nil {
			return store.Result{}, err
		}
		res.L7 += t.Rows
		rowNo += uint32(t.Rows)
	}
	// 4. The batch is stored: its state-1 row makes a resend a duplicate.
	if err := s.insertBatch(ctx, batchID, seq, 1, res.L4, res.L7); err != nil {
		return store.Result{}, err
	}
	delete(s.pending, batchID)
	s.remember(batchID, batchRef{seq: seq, at: time.Now()})
	res.Ack = s.dict.Sync(b.Epoch, b.DictVersion)
	return res, nil
}

func (s *Store) insertBatch(ctx context.Context, id string, seq uint64, state uint64, l4, l7 int) error {
	b := &Block{Rows: 1, Cols: []Column{
		{Name: "batch_id", Type: String, Str: []string{id}},
		{Name: "seq", Type: UInt64, U64: []uint64{seq}},
		{Name: "received_at", Type: DateTime, Time: []time.Time{time.Now().UTC().Truncate(time.Second)}},
		{Name: "l4_rows", Type: UInt64, U64: []uint64{uint64(l4)}},
		{Name: "l7_rows", Type: UInt64, U64: []uint64{uint64(l7)}},
		{Name: "state", Type: UInt64, U64: []uint64{state}},
	}}
	if err := s.conn.Insert(ctx, s.t("batches"), b, ""); err != nil {
		return fmt.Errorf("clickhouse: batches: %w", err)
	}
	return nil
}

// restoreDict drops the assignments after v0 that were not stored, by
// reloading the dictionary from tag_dict: agents never learn an id that
// the store does not hold.
func (s *Store) restoreDict(ctx context.Context, v0 uint64) {
	if s.dict.Version() == v0 {
		return
	}
	old := s.dict
	if err := s.loadDict(ctx); err != nil {
		s.dict = old
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// addKey adds the columns of a new tag key to both record tables, then
// records the key.
func (s *Store) addKey(ctx context.Context, k string) error {
	for _, t := range []string{"l4_flow_log", "l7_flow_log"} {
		if err := s.addColumns(ctx, t, k); err != nil {
			return err
		}
	}
	b := &Block{Rows: 1, Cols: []Column{{Name: "key", Type: String, Str: []string{k}}, {Name: "pos", Type: UInt32, U32: []uint32{uint32(len(s.keys))}}}}
	if err := s.conn.Insert(ctx, s.t("tag_keys"), b, ""); err != nil {
		return fmt.Errorf("clickhouse: add tag key %s: %w", k, err)
	}
	s.keys = append(s.keys, k)
	s.hasKey[k] = true
	return nil
}

// insertRows inserts the rows of t: batch_seq, row_no from rowNo, and
// only the columns the batch carries (the others take their defaults).
func (s *Store) insertRows(ctx context.Context, name string, t *encoding.Table, strs []string, seq uint64, rowNo uint32, token string) error {
	n := t.Rows
	blk := &Block{Rows: n}
	seqs := make([]uint64, n)
	nos := make([]uint32, n)
	for i := range seqs {
		seqs[i] = seq
		nos[i] = rowNo + uint32(i)
	}
	blk.Cols = append(blk.Cols, Column{Name: "batch_seq", Type: UInt64, U64: seqs}, Column{Name: "row_no", Type: UInt32, U32: nos})
	for _, c := range store.RecordColumns(name) {
		bc := t.Column(c.Name)
		if bc == nil {
			continue
		}
		col := Column{Name: c.Name, Type: colType(c.Wire)}
		switch c.Wire {
		case encoding.ColUvarint:
			col.U64 = bc.Vals[:n]
			if s.nullable[c.Name] {
				col.Type, col.Null = NullableUInt64, make([]bool, n)
			}
		case encoding.ColVarint, encoding.ColDelta:
			col.I64 = make([]int64, n)
			for r := range col.I64 {
				col.I64[r] = int64(bc.Vals[r])
			}
		case encoding.ColOptUvarint:
			col.U64, col.Null = make([]uint64, n), make([]bool, n)
			for r := 0; r < n; r++ {
				v, ok := bc.OptUint(r)
				col.U64[r], col.Null[r] = v, !ok
			}
		case encoding.ColOptVarint:
			col.I64, col.Null = make([]int64, n), make([]bool, n)
			for r := 0; r < n; r++ {
				v, ok := bc.OptInt(r)
				col.I64[r], col.Null[r] = v, !ok
			}
		case encoding.ColString:
			col.Str = make([]string, n)
			for r := 0; r < n; r++ {
				col.Str[r] = strs[bc.Strs[r]]
			}
			if s.nullable[c.Name] {
				col.Type, col.Null = NullableString, make([]bool, n)
			}
		case encoding.ColAddr:
			col.Str, col.Null = make([]string, n), make([]bool, n)
			for r := 0; r < n; r++ {
				ad := bc.Addrs[r]
				switch {
				case !ad.IsValid():
					col.Null[r] = true
				case r > 0 && ad == bc.Addrs[r-1]:
					col.Str[r] = col.Str[r-1]
				default:
					col.Str[r] = ad.String()
				}
			}
		default:
			continue
		}
		blk.Cols = append(blk.Cols, col)
	}
	names := blk.Names()
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.Type == encoding.ColTag && s.hasKey[c.Key] && !contains(names, c.Name) {
			blk.Cols = append(blk.Cols, Column{Name: c.Name, Type: UInt32, U32: c.IDs[:n]})
			names = append(names, c.Name)
		}
	}
	if s.cfg.Compat {
		token = ""
	}
	if err := s.conn.Insert(ctx, s.t(name), blk, token); err != nil {
		return fmt.Errorf("clickhouse: insert %s: %w", name, err)
	}
	return nil
}

func (s *Store) remember(id string, ref batchRef) {
	s.seen[id] = ref
	s.order = append(s.order, id)
	for len(s.order) > s.cfg.DedupMax {
		delete(s.seen, s.order[0])
		s.order = s.order[1:]
		s.stats.Forgotten++
	}
}

// Maintain forgets batch ids older than the dedup window. ClickHouse's
// TTLs delete old batches rows and records; with Compat (no TTL),
// Maintain deletes them (a mutation).
func (s *Store) Maintain(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	cut := now.Add(-s.cfg.DedupWindow)
	n := 0
	for n < len(s.order) && s.seen[s.order[n]].at.Before(cut) {
		delete(s.seen, s.order[n])
		n++
	}
	s.order = s.order[n:]
	s.stats.Forgotten += uint64(n)
	if !s.cfg.Compat {
		return nil
	}
	ctx := context.Background()
	if err := s.conn.Exec(ctx, "ALTER TABLE "+s.t("batches")+" DELETE WHERE received_at < "+strconv.FormatInt(cut.Unix(), 10)); err != nil {
		return err
	}
	if s.cfg.Retention > 0 {
		before := now.Add(-s.cfg.Retention).UnixNano()
		for _, t := range []string{"l4_flow_log", "l7_flow_log"} {
			if err := s.conn.Exec(ctx, "ALTER TABLE "+s.t(t)+" DELETE WHERE end_time < "+strconv.FormatInt(before, 10)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close closes the store and its Conn.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.conn.Close()
}
