package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/metaflow-go/metaflow/encoding"
)

// Config configures a Store. The zero value means defaults.
type Config struct {
	// Path is the DuckDB file. Default "metaflow.duckdb"; ":memory:" for
	// a store that is not kept.
	Path string
	// DedupWindow is how long a batch id is remembered: a batch resent
	// within it is acknowledged and not stored again. Default 24 h.
	DedupWindow time.Duration
	// DedupMax is the most batch ids remembered; the oldest are forgotten
	// first. Default 1,000,000.
	DedupMax int
	// Retention deletes records whose end_time is older than this (Maintain).
	// Default 0: keep everything.
	Retention time.Duration
	// CheckpointBytes is the WAL size that triggers a checkpoint. Default
	// 1 GiB: fewer, larger checkpoints (a restart replays up to that much
	// WAL).
	CheckpointBytes int64
	// RowGroupSize is the rows of a row group of the DuckDB file (ATTACH
	// ... ROW_GROUP_SIZE), a multiple of 2048. A transaction that appends
	// at least a row group to a table writes it compressed to the file at
	// its commit (DuckDB's optimistic write); fewer rows go to the WAL
	// uncompressed, to be compressed by the next checkpoint. Agents send
	// frames of up to 16,384 rows, so a row group of DuckDB's default
	// (122,880 rows) took every batch through the WAL. Default 4096.
	RowGroupSize int
	// NoIndexes leaves out the ART indexes of l7_flow_log's trace columns
	// (DuckDB's min/max zone maps still prune). Default false.
	NoIndexes bool
	// Metrics configures the 1 s and 1 min metric tables (metrics.go).
	Metrics MetricsConfig
}

// Store defaults.
const (
	DefaultPath            = "metaflow.duckdb"
	DefaultDedupWindow     = 24 * time.Hour
	DefaultDedupMax        = 1_000_000
	DefaultCheckpointBytes = 1 << 30
	DefaultRowGroupSize    = 4096
)

// Errors of Ingest.
var (
	// ErrSchema: a column of a record table has a type its name never has,
	// or a tag key that cannot name a column. The batch is refused.
	ErrSchema = errors.New("store: batch does not match the record schema")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store: closed")
)

// Stats counts a Store's work.
type Stats struct {
	Batches    uint64       `json:"batches"`    // batches stored
	Duplicates uint64       `json:"duplicates"` // batches already stored (acknowledged again, not stored)
	L4Rows     uint64       `json:"l4_rows"`    // l4_flow_log rows stored
	L7Rows     uint64       `json:"l7_rows"`    // l7_flow_log rows stored
	Failed     uint64       `json:"failed"`     // batches refused or whose transaction failed
	Forgotten  uint64       `json:"forgotten"`  // batch ids dropped from the dedup window
	Deleted    uint64       `json:"deleted"`    // rows deleted by retention
	Metrics    MetricsStats `json:"metrics"`
}

// Store is the server's DuckDB store: record tables with integer tag
// columns, the tag dictionary (restored on Open, so ids survive restarts)
// and the ids of the batches it holds. Ingest is serialised (DuckDB has one
// writer); queries run concurrently on DB.
type Store struct {
	cfg      Config
	db       *sql.DB
	conn     *sql.Conn // the writer's connection
	insBatch *sql.Stmt // INSERT INTO batches, on conn

	mu      sync.Mutex // serialises writes; guards the fields below
	dict    *encoding.Dictionary
	keys    []string // tag keys with columns, in column order
	hasKey  map[string]bool
	seen    map[string]batchRef
	order   []string // batch ids in order of arrival, for DedupMax
	nextSeq uint64
	stats   Stats
	vals    []driver.Value
	closed  bool
	m       metrics  // the metric tables (metrics.go)
	ext     extState // IngestExt's (ext.go)
}

type batchRef struct {
	seq uint64
	at  time.Time
}

// Open opens (creating when needed) the store at cfg.Path.
func Open(cfg Config) (*Store, error) {
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.DedupWindow <= 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.DedupMax <= 0 {
		cfg.DedupMax = DefaultDedupMax
	}
	if cfg.CheckpointBytes <= 0 {
		cfg.CheckpointBytes = DefaultCheckpointBytes
	}
	if cfg.RowGroupSize <= 0 {
		cfg.RowGroupSize = DefaultRowGroupSize
	}
	if cfg.RowGroupSize%2048 != 0 {
		return nil, fmt.Errorf("store: row group size %d is not a multiple of 2048", cfg.RowGroupSize)
	}
	dsn := cfg.Path
	if dsn == ":memory:" {
		dsn = ""
	}
	db, err := openDB(dsn, cfg.RowGroupSize)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Path, err)
	}
	s := &Store{cfg: cfg, db: db, hasKey: map[string]bool{}, seen: map[string]batchRef{}}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens the DuckDB file at path (an in-memory database for "")
// with row groups of rowGroup rows: an in-memory instance that attaches
// the file as "store" and makes it every connection's default, since the
// row group size is an option of ATTACH.
func openDB(path string, rowGroup int) (*sql.DB, error) {
	if path == "" {
		return sql.Open("duckdb", "")
	}
	q := strings.ReplaceAll(path, "'", "''")
	stmts := []string{
		fmt.Sprintf("ATTACH IF NOT EXISTS '%s' AS store (ROW_GROUP_SIZE %d)", q, rowGroup),
		"USE store",
		// where DuckDB spills, as when it opens the file itself
		fmt.Sprintf("SET temp_directory = '%s.tmp'", q),
	}
	c, err := duckdb.NewConnector("", func(e driver.ExecerContext) error {
		for _, st := range stmts {
			if _, err := e.ExecContext(context.Background(), st, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

func (s *Store) init() error {
	ctx := context.Background()
	// A checkpoint rewrites (and compresses) what the WAL holds: at
	// DuckDB's default of 16 MB one came every few batches and cost more
	// than the appends.
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf("SET checkpoint_threshold = '%dB'", s.cfg.CheckpointBytes)); err != nil {
		return fmt.Errorf("store: checkpoint_threshold: %w", err)
	}
	for _, q := range schema {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: schema: %w", err)
		}
	}
	// Tag keys: the stored ones in order, else the defaults.
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM tag_keys ORDER BY pos`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return err
		}
		s.keys = append(s.keys, k)
		s.hasKey[k] = true
	}
	rows.Close()
	if len(s.keys) == 0 {
		for i, k := range DefaultTagKeys {
			if _, err := s.db.ExecContext(ctx, `INSERT INTO tag_keys VALUES (?, ?)`, k, i); err != nil {
				return err
			}
			s.keys = append(s.keys, k)
			s.hasKey[k] = true
		}
	}
	if _, err := s.db.ExecContext(ctx, createTable("l4_flow_log", l4Columns, nil, s.keys)); err != nil {
		return fmt.Errorf("store: schema: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, createTable("l7_flow_log", l7Columns, l7Extra, s.keys)); err != nil {
		return fmt.Errorf("store: schema: %w", err)
	}
	for _, q := range append(migrate("l4_flow_log", l4Columns), migrate("l7_flow_log", l7Columns)...) {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: schema: %w", err)
		}
	}
	if err := s.initExt(ctx); err != nil {
		return err
	}
	if !s.cfg.NoIndexes {
		for _, c := range traceIndexes {
			q := fmt.Sprintf("CREATE INDEX IF NOT EXISTS l7_%s ON l7_flow_log (%s)", c, c)
			if _, err := s.db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("store: index: %w", err)
			}
		}
	}
	if err := s.initExtIndexes(ctx); err != nil {
		return err
	}
	if err := s.loadDict(); err != nil {
		return err
	}
	// Batches of the dedup window.
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM batches`).Scan(&s.nextSeq); err != nil {
		return err
	}
	s.nextSeq++
	rows, err = s.db.QueryContext(ctx, `SELECT batch_id, seq, received_at FROM batches ORDER BY seq`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var ref batchRef
		if err := rows.Scan(&id, &ref.seq, &ref.at); err != nil {
			rows.Close()
			return err
		}
		s.seen[id] = ref
		s.order = append(s.order, id)
	}
	rows.Close()
	if s.conn, err = s.db.Conn(ctx); err != nil {
		return err
	}
	s.insBatch, err = s.conn.PrepareContext(ctx, `INSERT INTO batches VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	return s.initMetrics(ctx)
}

// loadDict restores the dictionary from tag_dict (or creates one with a
// new epoch, kept in meta).
func (s *Store) loadDict() error {
	ctx := context.Background()
	var epochStr string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'epoch'`).Scan(&epochStr)
	if errors.Is(err, sql.ErrNoRows) {
		d := encoding.NewDictionary(nil)
		if _, err := s.db.ExecContext(ctx, `INSERT INTO meta VALUES ('epoch', ?)`, strconv.FormatUint(d.Epoch(), 10)); err != nil {
			return err
		}
		s.dict = d
		return nil
	}
	if err != nil {
		return err
	}
	epoch, err := strconv.ParseUint(epochStr, 10, 64)
	if err != nil {
		return fmt.Errorf("store: bad epoch %q: %w", epochStr, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT key, value, id FROM tag_dict ORDER BY version`)
	if err != nil {
		return err
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
		return fmt.Errorf("store: restore dictionary: %w", err)
	}
	s.dict = d
	return nil
}

// Dict returns the server's dictionary. It is replaced when a failed
// transaction had assigned ids, so call Dict again rather than keeping it.
func (s *Store) Dict() *encoding.Dictionary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dict
}

// DB returns the database for queries.
func (s *Store) DB() *sql.DB { return s.db }

// TagKeys returns the tag keys that have columns.
func (s *Store) TagKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	s.metricsStats(&st.Metrics)
	return st
}

// Result is what Ingest did with a batch.
type Result struct {
	Duplicate bool   // the batch id was stored before; nothing was written
	Seq       uint64 // the batch's sequence number (batch_seq of its rows)
	L4, L7    int    // rows stored
	// Ack is the dictionary delta for the agent: Sync(b.Epoch, b.DictVersion).
	Ack *encoding.Delta
}

// Ingest stores the l4_flow_log and l7_flow_log tables of b under batchID:
// it checks the columns, resolves tag strings to ids (Dictionary.Resolve)
// and writes the rows, the new dictionary entries and the batch id in one
// transaction, so a batch is stored entirely or not at all, and a batch id
// seen within the dedup window is not stored again (Result.Duplicate).
// Errors: ErrSchema, the dictionary's (*encoding.ResyncError,
// encoding.ErrUnknownID, ErrTooLarge, ErrFull), DuckDB's.
func (s *Store) Ingest(batchID string, b *encoding.Batch) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Result{}, ErrClosed
	}
	if ref, ok := s.seen[batchID]; ok {
		s.stats.Duplicates++
		return Result{Duplicate: true, Seq: ref.seq, Ack: s.dict.Sync(b.Epoch, b.DictVersion)}, nil
	}
	res, err := s.ingest(batchID, b)
	if err != nil {
		s.stats.Failed++
		return Result{}, err
	}
	s.stats.Batches++
	s.stats.L4Rows += uint64(res.L4)
	s.stats.L7Rows += uint64(res.L7)
	return res, nil
}

func (s *Store) ingest(batchID string, b *encoding.Batch) (Result, error) {
	var l4, l7 []*encoding.Table
	var newKeys []string
	for i := range b.Tables {
		t := &b.Tables[i]
		var cols []column
		switch t.Type {
		case encoding.TableL4:
			cols, l4 = l4Columns, append(l4, t)
		case encoding.TableL7:
			cols, l7 = l7Columns, append(l7, t)
		default:
			continue
		}
		for _, c := range cols {
			if bc := t.Column(c.name); bc != nil && bc.Type != c.wire {
				return Result{}, fmt.Errorf("%w: column %s has type %d, want %d", ErrSchema, c.name, bc.Type, c.wire)
			}
		}
		for ci := range t.Columns {
			c := &t.Columns[ci]
			if c.Type != encoding.ColTag && c.Type != encoding.ColTagString {
				continue
			}
			if !ValidKey(c.Key) {
				return Result{}, fmt.Errorf("%w: tag key %q", ErrSchema, c.Key)
			}
			if !s.hasKey[c.Key] && !contains(newKeys, c.Key) {
				newKeys = append(newKeys, c.Key)
			}
		}
	}
	v0 := s.dict.Version()
	if err := s.dict.Resolve(b); err != nil {
		s.restoreDict(v0)
		return Result{}, err
	}
	for _, k := range newKeys {
		if err := s.addKey(k); err != nil {
			s.restoreDict(v0)
			return Result{}, err
		}
	}
	// DuckDB's VARCHAR holds UTF-8: invalid bytes become U+FFFD, one
	// each, as the agent's JSON writes them.
	for i, str := range b.Strings {
		b.Strings[i] = validUTF8(str)
	}
	res := Result{Seq: s.nextSeq}
	// The metric worker's rows are decoded on the other core while
	// DuckDB appends and commits.
	decoded := make(chan *feed, 1)
	go func() { decoded <- s.decodeBatch(l4, l7) }()
	err := s.tx(func(conn driver.Conn) error {
		for _, t := range l4 {
			if err := s.appendTable(conn, "l4_flow_log", l4Columns, t, b.Strings, res.Seq); err != nil {
				return err
			}
			res.L4 += t.Rows
		}
		for _, t := range l7 {
			if err := s.appendTable(conn, "l7_flow_log", l7Columns, t, b.Strings, res.Seq); err != nil {
				return err
			}
			res.L7 += t.Rows
		}
		return nil
	}, func(ctx context.Context) error {
		if err := s.writeDictDelta(ctx, v0); err != nil {
			return err
		}
		_, err := s.insBatch.ExecContext(ctx, res.Seq, batchID, time.Now().UTC(), res.L4, res.L7)
		return err
	})
	f := <-decoded
	if err != nil {
		s.m.dropFeed(f)
		s.restoreDict(v0)
		return Result{}, err
	}
	s.nextSeq++
	s.remember(batchID, batchRef{seq: res.Seq, at: time.Now()})
	s.countBatch(f, res.Seq)
	res.Ack = s.dict.Sync(b.Epoch, b.DictVersion)
	return res, nil
}

// writeDictDelta stores the dictionary entries assigned after v0, each
// with its version.
func (s *Store) writeDictDelta(ctx context.Context, v0 uint64) error {
	if s.dict.Version() <= v0 {
		return nil
	}
	delta, err := s.dict.Delta(s.dict.Epoch(), v0)
	if err != nil {
		return err
	}
	for i, e := range delta.Entries {
		if _, err := s.conn.ExecContext(ctx, `INSERT INTO tag_dict VALUES (?, ?, ?, ?)`, e.Key, e.ID, validUTF8(e.Value), v0+uint64(i)+1); err != nil {
			return err
		}
	}
	return nil
}

// restoreDict drops the assignments after v0 that were not committed, by
// reloading the dictionary from the store: agents never learn an id that
// the store does not hold.
func (s *Store) restoreDict(v0 uint64) {
	if s.dict.Version() == v0 {
		return
	}
	old := s.dict
	if err := s.loadDict(); err != nil {
		s.dict = old // keep serving; the ids stay unacknowledged
	}
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			b.WriteString("\uFFFD")
			i++
			continue
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	return b.String()
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// addKey adds the columns of a new tag key to both record tables.
func (s *Store) addKey(k string) error {
	ctx := context.Background()
	for _, t := range []string{"l4_flow_log", "l7_flow_log"} {
		for side := 0; side < 2; side++ {
			q := fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s_id_%d UINTEGER DEFAULT 0", t, k, side)
			if _, err := s.conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("store: add tag key %s: %w", k, err)
			}
		}
	}
	if err := s.addMetricKey(ctx, k); err != nil {
		return err
	}
	if _, err := s.conn.ExecContext(ctx, `INSERT INTO tag_keys VALUES (?, ?)`, k, len(s.keys)); err != nil {
		return err
	}
	s.keys = append(s.keys, k)
	s.hasKey[k] = true
	return nil
}

// tx runs rows (with the driver connection, for appenders) and then sql in
// one transaction on the writer's connection.
func (s *Store) tx(rows func(driver.Conn) error, sqlPart func(context.Context) error) (err error) {
	ctx := context.Background()
	if _, err := s.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.conn.ExecContext(ctx, "ROLLBACK")
		}
	}()
	if err = s.conn.Raw(func(dc any) error { return rows(dc.(driver.Conn)) }); err != nil {
		return err
	}
	if err = sqlPart(ctx); err != nil {
		return err
	}
	_, err = s.conn.ExecContext(ctx, "COMMIT")
	return err
}

// appendTable appends the rows of t with the DuckDB appender. Only the
// columns the batch carries are appended: the others take their defaults
// (0, ” or NULL), as a column absent from a frame means.
func (s *Store) appendTable(conn driver.Conn, name string, cols []column, t *encoding.Table, strs []string, seq uint64) error {
	type src struct {
		wire encoding.ColumnType
		c    *encoding.Column
	}
	names := []string{"batch_seq"}
	var srcs []src
	for _, c := range cols {
		if bc := t.Column(c.name); bc != nil {
			names = append(names, c.name)
			srcs = append(srcs, src{c.wire, bc})
		}
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.Type == encoding.ColTag && s.hasKey[c.Key] && !contains(names, c.Name) {
			names = append(names, c.Name)
			srcs = append(srcs, src{encoding.ColTag, c})
		}
	}
	a, err := duckdb.NewAppenderWithColumns(conn, "", "", name, names)
	if err != nil {
		return fmt.Errorf("store: appender %s: %w", name, err)
	}
	n := len(names)
	if cap(s.vals) < n {
		s.vals = make([]driver.Value, n)
	}
	vals := s.vals[:n]
	vals[0] = seq
	last := make([]driver.Value, len(srcs))
	for row := 0; row < t.Rows; row++ {
		for i, sc := range srcs {
			bc := sc.c
			var v driver.Value
			switch sc.wire {
			case encoding.ColUvarint:
				v = bc.Vals[row]
			case encoding.ColVarint, encoding.ColDelta:
				v = int64(bc.Vals[row])
			case encoding.ColOptUvarint:
				if u, ok := bc.OptUint(row); ok {
					v = u
				}
			case encoding.ColOptVarint:
				if u, ok := bc.OptInt(row); ok {
					v = u
				}
			case encoding.ColString:
				v = strs[bc.Strs[row]]
			case encoding.ColAddr:
				// Runs of one address (a server's) are common: format
				// it once a run.
				if ad := bc.Addrs[row]; ad.IsValid() {
					if row > 0 && ad == bc.Addrs[row-1] {
						v = last[i]
					} else {
						v = ad.String()
						last[i] = v
					}
				}
			case encoding.ColTag:
				v = bc.IDs[row]
			}
			vals[1+i] = v
		}
		if err := a.AppendRow(vals...); err != nil {
			a.Close()
			return fmt.Errorf("store: append %s: %w", name, err)
		}
	}
	if err := a.Close(); err != nil {
		return fmt.Errorf("store: append %s: %w", name, err)
	}
	return nil
}

// remember adds a batch id to the dedup window, forgetting the oldest
// beyond DedupMax.
func (s *Store) remember(id string, ref batchRef) {
	s.seen[id] = ref
	s.order = append(s.order, id)
	for len(s.order) > s.cfg.DedupMax {
		delete(s.seen, s.order[0])
		s.order = s.order[1:]
		s.stats.Forgotten++
	}
}

// Maintain forgets batch ids older than the dedup window (and deletes
// their rows of the batches table) and, with a Retention, deletes records
// that ended before now-Retention. The server calls it periodically.
func (s *Store) Maintain(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	ctx := context.Background()
	// Metric contributions first: retention may delete the records
	// they would be recomputed from.
	if err := s.maintainMetrics(ctx, now); err != nil {
		return err
	}
	cut := now.Add(-s.cfg.DedupWindow)
	n := 0
	for n < len(s.order) && s.seen[s.order[n]].at.Before(cut) {
		delete(s.seen, s.order[n])
		n++
	}
	s.order = s.order[n:]
	s.stats.Forgotten += uint64(n)
	if _, err := s.conn.ExecContext(ctx, `DELETE FROM batches WHERE received_at < ?`, cut.UTC()); err != nil {
		return err
	}
	if s.cfg.Retention > 0 {
		before := now.Add(-s.cfg.Retention).UnixNano()
		for _, t := range []string{"l4_flow_log", "l7_flow_log"} {
			r, err := s.conn.ExecContext(ctx, "DELETE FROM "+t+" WHERE end_time < ?", before)
			if err != nil {
				return err
			}
			if k, err := r.RowsAffected(); err == nil {
				s.stats.Deleted += uint64(k)
			}
		}
		if err := s.maintainExt(ctx, before); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the store; a write in progress finishes first.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closeMetrics() // on error they are recomputed on Open
	s.closed = true
	s.insBatch.Close()
	s.conn.Close()
	return s.db.Close()
}
