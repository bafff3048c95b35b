package clickhouse

import (
	"fmt"
	"strings"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/store"
)

// colType is the ClickHouse type of a record column of wire type t.
func colType(t encoding.ColumnType) Type {
	switch t {
	case encoding.ColUvarint:
		return UInt64
	case encoding.ColVarint, encoding.ColDelta:
		return Int64
	case encoding.ColOptUvarint:
		return NullableUInt64
	case encoding.ColOptVarint:
		return NullableInt64
	case encoding.ColAddr:
		return NullableString
	default:
		return String
	}
}

func colDefault(t Type) string {
	switch t {
	case UInt64, Int64, UInt32:
		return " DEFAULT 0"
	case String:
		return " DEFAULT ''"
	}
	return ""
}

// timeExpr is the DateTime of a row: its end_time (unix nanoseconds) in
// seconds. Partitions and TTL use it.
const timeExpr = "toDateTime(intDiv(end_time, 1000000000))"

// recordTable is the CREATE TABLE of a record table: batch_seq and
// row_no (the row's place in its batch, the sort key and the paging
// cursor), the fixed columns, the extras, and the tag columns of keys.
func (s *Store) recordTable(name string, keys []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (batch_seq UInt64, row_no UInt32", s.db, name)
	for _, c := range store.RecordColumns(name) {
		t := colType(c.Wire)
		if c.Nullable && t == String {
			t = NullableString
		}
		fmt.Fprintf(&b, ", %s %s%s", c.Name, t, colDefault(t))
	}
	for _, k := range keys {
		fmt.Fprintf(&b, ", %s_id_0 UInt32 DEFAULT 0, %s_id_1 UInt32 DEFAULT 0", k, k)
	}
	if !s.cfg.Compat {
		// Skip indexes: a bloom filter per granule for the trace search's
		// point lookups, min/max of start_time for time ranges.
		b.WriteString(", INDEX start_time_mm start_time TYPE minmax GRANULARITY 1")
		if name == "l7_flow_log" {
			for _, c := range store.TraceColumns() {
				fmt.Fprintf(&b, ", INDEX %s_bf %s TYPE bloom_filter(0.01) GRANULARITY 1", c, c)
			}
		}
	}
	fmt.Fprintf(&b, ") ENGINE = MergeTree PARTITION BY toYYYYMMDD(%s) ORDER BY (batch_seq, row_no)", timeExpr)
	if !s.cfg.Compat {
		if s.cfg.Retention > 0 {
			fmt.Fprintf(&b, " TTL %s + INTERVAL %d SECOND", timeExpr, int64(s.cfg.Retention.Seconds()))
		}
		// Remember the tokens of the last DedupBlocks inserts: a batch's
		// rows inserted again with the same token are dropped.
		fmt.Fprintf(&b, " SETTINGS non_replicated_deduplication_window = %d", s.cfg.DedupBlocks)
	}
	return b.String()
}

// schema is the DDL of the tables other than the record tables.
func (s *Store) schema() []string {
	db := s.db
	q := []string{
		"CREATE DATABASE IF NOT EXISTS " + db,
		"CREATE TABLE IF NOT EXISTS " + db + ".meta (name String, value String) ENGINE = ReplacingMergeTree ORDER BY name",
		// One dictionary table for every tag key: (key, id) -> value;
		// version is the assignment's dictionary version, the order of
		// restoring.
		"CREATE TABLE IF NOT EXISTS " + db + ".tag_dict (key String, id UInt32, value String, version UInt64) ENGINE = ReplacingMergeTree ORDER BY (key, id)",
		"CREATE TABLE IF NOT EXISTS " + db + ".tag_keys (key String, pos UInt32) ENGINE = ReplacingMergeTree ORDER BY key",
		"CREATE TABLE IF NOT EXISTS " + db + ".labels (kind String, id UInt32, key String, value String) ENGINE = ReplacingMergeTree ORDER BY (kind, id, key)",
	}
	// batches: state 0 is a batch being written (its seq reserved), 1 a
	// batch stored; the state-1 row replaces the state-0 one in merges.
	batches := "CREATE TABLE IF NOT EXISTS " + db + ".batches (batch_id String, seq UInt64, received_at DateTime, l4_rows UInt64, l7_rows UInt64, state UInt64) ENGINE = ReplacingMergeTree(state) ORDER BY batch_id"
	if !s.cfg.Compat {
		batches += fmt.Sprintf(" TTL received_at + INTERVAL %d SECOND", int64(s.cfg.DedupWindow.Seconds()))
	}
	q = append(q, batches)
	return q
}

// dictionary is the DDL of tag_names, the ClickHouse dictionary over
// tag_dict for SQL users: dictGet('<db>.tag_names', 'value', ('pod',
// pod_id_0)).
func (s *Store) dictionary() string {
	return "CREATE DICTIONARY IF NOT EXISTS " + s.db + ".tag_names (key String, id UInt32, value String) PRIMARY KEY key, id " +
		"SOURCE(CLICKHOUSE(DB " + Quote(s.db) + " TABLE 'tag_dict')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(MIN 1 MAX 10)"
}
