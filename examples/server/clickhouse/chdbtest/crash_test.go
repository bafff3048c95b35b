//go:build chdb

package chdbtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
)

var errCrash = errors.New("chdbtest: crash injected")

// faultConn fails its failAt-th write (Exec or Insert): before running
// it (the write is lost) or after (it is stored, but the store never
// learns): the two sides of a crash or a lost answer.
type faultConn struct {
	clickhouse.Conn
	writes, failAt int
	after          bool
}

func (f *faultConn) write(run func() error) error {
	f.writes++
	if f.writes != f.failAt {
		return run()
	}
	if f.after {
		if err := run(); err != nil {
			return err
		}
	}
	return errCrash
}

func (f *faultConn) Exec(ctx context.Context, q string) error {
	return f.write(func() error { return f.Conn.Exec(ctx, q) })
}

func (f *faultConn) Insert(ctx context.Context, t string, b *clickhouse.Block, token string) error {
	return f.write(func() error { return f.Conn.Insert(ctx, t, b, token) })
}

func (f *faultConn) Close() error { return nil }

// TestStore_CrashWindows fails each write of an ingest in turn, before or
// after it takes effect, then resends the batch to the same store (the
// agent retrying a 500) or to a store reopened on the tables (a crash and
// restart), with another batch in between: every batch is stored exactly
// once, under one seq, its tag ids naming the strings the agent sent.
func TestStore_CrashWindows(t *testing.T) {
	// The writes of one ingest: b1 brings a new tag key and new strings.
	probe := &faultConn{Conn: shared{conn}}
	ps := open(t, "t_crash_probe", probe)
	ad := encoding.NewAgentDict()
	res, err := ps.Ingest("b0", frame(t, nil, 20, 7, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	ad.Apply(res.Ack)
	b1 := encodeFrame(t, ad, 30, 9, "zone")
	w0 := probe.writes
	if _, err := ps.Ingest("b1", decode(t, b1)); err != nil {
		t.Fatal(err)
	}
	writes := probe.writes - w0
	if writes < 6 {
		t.Fatalf("an ingest made %d writes", writes)
	}
	cases := 0
	for k := 1; k <= writes; k++ {
		// Each write fails after taking effect (the first also before),
		// followed by a restart or, alternately, a resend to the running
		// store.
		for _, after := range []bool{false, true} {
			if !after && k > 1 {
				continue
			}
			restart := after == (k%2 == 0)
			name := fmt.Sprintf("write%d_after%v_restart%v", k, after, restart)
			t.Run(name, func(t *testing.T) {
				cases++
				crashCase(t, fmt.Sprintf("t_crash_%d", cases), k, after, restart)
			})
		}
	}
	t.Logf("%d writes an ingest, %d cases", writes, cases)
}

func crashCase(t *testing.T, db string, k int, after, restart bool) {
	f := &faultConn{Conn: shared{conn}}
	s := open(t, db, f)
	ad := encoding.NewAgentDict()
	res, err := s.Ingest("b0", frame(t, nil, 20, 7, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	ad.Apply(res.Ack)
	b1 := encodeFrame(t, ad, 30, 9, "zone")
	f.failAt = f.writes + k
	f.after = after
	if _, err := s.Ingest("b1", decode(t, b1)); !errors.Is(err, errCrash) {
		t.Fatalf("ingest with write %d failing: %v", k, err)
	}
	if restart {
		s = open(t, db, shared{conn})
	}
	// Another batch first, with strings of its own: ids b1 created and
	// lost must not name other strings now.
	if _, err := s.Ingest("b2", decode(t, encodeFrame(t, nil, 10, 12, "zone"))); err != nil {
		t.Fatal(err)
	}
	r1, err := s.Ingest("b1", decode(t, b1))
	if err != nil {
		t.Fatalf("resend: %v", err)
	}
	if r, err := s.Ingest("b1", decode(t, b1)); err != nil || !r.Duplicate {
		t.Fatalf("second resend: %+v %v", r, err)
	}
	q := func(sql string) string { return scalar(t, fmt.Sprintf(sql, db)) }
	if got := q("SELECT toString(count()) || '/' || toString(uniqExact(batch_seq, row_no)) FROM %s.l7_flow_log"); got != "60/60" {
		t.Fatalf("l7 rows/distinct %s, want 60/60", got)
	}
	if got := q("SELECT count() FROM %s.l4_flow_log"); got != "60" {
		t.Fatalf("l4 rows %s, want 60", got)
	}
	// b1's rows: one seq, the one its batches row holds and Ingest said.
	if got := q("SELECT arrayStringConcat(groupUniqArray(toString(batch_seq)), ',') FROM %s.l7_flow_log WHERE flow_id > 1000"); got != fmt.Sprint(r1.Seq) {
		t.Fatalf("b1 rows under seq %s, ingest said %d", got, r1.Seq)
	}
	if got := q("SELECT toString(max(seq)) || '/' || toString(max(state)) FROM %s.batches WHERE batch_id = 'b1'"); got != fmt.Sprintf("%d/1", r1.Seq) {
		t.Fatalf("b1 batches row %s", got)
	}
	// Every tag id names the string the agent sent (the frame's pods and
	// zones are functions of client_port).
	if got := q(`SELECT count() FROM %[1]s.l7_flow_log l
		LEFT JOIN (SELECT id, any(value) AS v FROM %[1]s.tag_dict WHERE key = 'pod' GROUP BY id) p ON p.id = l.pod_id_0
		LEFT JOIN (SELECT id, any(value) AS v FROM %[1]s.tag_dict WHERE key = 'zone' GROUP BY id) z ON z.id = l.zone_id_1
		WHERE flow_id > 1000 AND (p.v != concat('pod-', toString((client_port - 40000) %% 9)) OR z.v != concat('zone-', toString(client_port %% 4)))`); got != "0" {
		t.Fatalf("%s rows of b1 with wrong tags", got)
	}
	if got := q("SELECT count() FROM %s.l7_flow_log WHERE flow_id > 1000 AND zone_id_1 = 0"); got != "0" {
		t.Fatalf("%s rows of b1 without zone", got)
	}
}

// encodeFrame is frame with flow ids from 1001 (and from 2001 for a
// batch with more pods) and a server-side tag key named key.
func encodeFrame(t testing.TB, dict *encoding.AgentDict, n, pods int, key string) []byte {
	t.Helper()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
	if err != nil {
		t.Fatal(err)
	}
	base := uint64(1000)
	if pods > 9 {
		base = 0
	}
	for _, r := range l4Records(n, pods, base, key, time.Now()) {
		enc.AddL4(r)
	}
	for _, r := range l7Records(n, pods, base, key, time.Now()) {
		enc.AddL7(r)
	}
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func decode(t testing.TB, f []byte) *encoding.Batch {
	t.Helper()
	b, err := encoding.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStore_CrashAcrossPartitions resends a batch whose rows span three
// days (three partitions, so three parts an insert) after each of its
// row inserts took effect and failed: still stored once.
func TestStore_CrashAcrossPartitions(t *testing.T) {
	enc, err := encoding.NewEncoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	for d := 0; d < 3; d++ {
		start := time.Now().Add(-time.Duration(d) * day)
		for _, r := range l4Records(40, 5, uint64(1000*d), "team", start) {
			enc.AddL4(r)
		}
		for _, r := range l7Records(40, 5, uint64(1000*d), "team", start) {
			enc.AddL7(r)
		}
	}
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []int{2, 3} { // the l4 and the l7 insert of a batch with no new strings
		db := fmt.Sprintf("t_parts_%d", i)
		fc := &faultConn{Conn: shared{conn}}
		s := open(t, db, fc)
		if _, err := s.Ingest("warm", frame(t, nil, 5, 5, time.Now())); err != nil {
			t.Fatal(err)
		}
		fc.failAt, fc.after = fc.writes+k, true
		if _, err := s.Ingest("b", decode(t, f)); !errors.Is(err, errCrash) {
			t.Fatalf("write %d: %v", k, err)
		}
		s = open(t, db, shared{conn})
		if r, err := s.Ingest("b", decode(t, f)); err != nil || r.Duplicate {
			t.Fatalf("resend: %+v %v", r, err)
		}
		got := scalar(t, "SELECT toString(count()) || '/' || toString(uniqExact(_partition_id)) FROM "+db+".l7_flow_log")
		if got != "125/3" {
			t.Fatalf("write %d: l7 rows/partitions %s, want 125/3", k, got)
		}
		if got := scalar(t, "SELECT count() FROM "+db+".l4_flow_log"); got != "125" {
			t.Fatalf("write %d: l4 rows %s, want 125", k, got)
		}
	}
}
