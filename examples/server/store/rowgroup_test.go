package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

// TestStore_RowGroupSize checks that a batch of a few row groups is
// written compressed to the file at its commit rather than to the WAL
// (DuckDB's optimistic write, which the small row groups allow), that its
// rows read back after a restart, and that a row group of DuckDB's default
// size takes the same batch through the WAL.
func TestStore_RowGroupSize(t *testing.T) {
	const rows = 16000
	for _, tc := range []struct {
		name           string
		rowGroup       int
		walMin, walMax int64 // bounds of the WAL after the batch
	}{
		{"default", 0, 0, 1 << 20},
		{"duckdb default 122880", 122880, 4 << 20, 1 << 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rg.duckdb")
			cfg := store.Config{Path: path, RowGroupSize: tc.rowGroup, Metrics: store.MetricsConfig{Off: true}}
			s, err := store.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Ingest("b1", frame(t, nil, rows, 7)); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path + ".wal")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("WAL %d bytes", fi.Size())
			if fi.Size() < tc.walMin || fi.Size() > tc.walMax {
				t.Errorf("WAL of %d bytes after a batch of %d l4 and l7 rows, want %d to %d", fi.Size(), rows, tc.walMin, tc.walMax)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = store.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, tab := range []string{"l4_flow_log", "l7_flow_log"} {
				if n := count(t, s, "SELECT count(*) FROM "+tab); n != rows {
					t.Errorf("%s: %d rows after reopening, want %d", tab, n, rows)
				}
			}
			if n := count(t, s, "SELECT count(*) FROM l7_flow_log WHERE trace_id = 'trace-12345'"); n != 1 {
				t.Errorf("trace-12345: %d rows", n)
			}
		})
	}
	if _, err := store.Open(store.Config{Path: filepath.Join(t.TempDir(), "bad.duckdb"), RowGroupSize: 5000}); err == nil {
		t.Error("row group size 5000 accepted")
	}
}
