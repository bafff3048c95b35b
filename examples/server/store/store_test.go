package store_test

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// frame encodes n l4 and n l7 records tagged with pod-<i%pods> and
// service svc-<i%3>, with ids from dict when it is not nil.
func frame(t testing.TB, dict *encoding.AgentDict, n, pods int) *encoding.Batch {
	t.Helper()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	for i := 0; i < n; i++ {
		var r flow.Record
		r.FlowID = uint64(i + 1)
		r.StartTime, r.EndTime = now, now+int64(i)
		r.IP0 = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		r.IP1 = netip.MustParseAddr("10.1.0.1")
		r.ClientPort, r.ServerPort, r.Protocol = uint16(40000+i), 80, 6
		r.L7Protocol = "HTTP"
		r.PacketTx, r.ByteTx, r.RTT, r.HasRTT = uint64(i), uint64(100*i), 42, true
		r.Tags.Set(tag.Client, "pod", "pod-"+strconv.Itoa(i%pods))
		r.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(i%3))
		enc.AddL4(&r)
		var q l7.Record
		q.FlowID = r.FlowID
		q.StartTime, q.EndTime = now, now+1000
		q.Client = netip.AddrPortFrom(r.IP0, r.ClientPort)
		q.Server = netip.AddrPortFrom(r.IP1, 80)
		q.L7Protocol = "HTTP"
		q.HasRequest, q.HasResponse = true, true
		q.RequestType, q.RequestResource = []byte("GET"), []byte("/item/"+strconv.Itoa(i))
		q.ResponseCode, q.HasResponseCode = 200+int32(i%2)*300, true
		q.TraceID = []byte("trace-" + strconv.Itoa(i))
		q.Tags.Set(tag.Client, "pod", "pod-"+strconv.Itoa(i%pods))
		q.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(i%3))
		q.Tags.Set(tag.Server, "team", "blue") // a key without columns yet
		enc.AddL7(&q)
	}
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encoding.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func count(t testing.TB, s *store.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestStore_Ingest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.duckdb")
	s, err := store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Ingest("b1", frame(t, nil, 100, 7))
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicate || res.L4 != 100 || res.L7 != 100 {
		t.Fatalf("result %+v", res)
	}
	// pod-0..6, svc-0..2, team blue: 11 assignments, all in the ack.
	if len(res.Ack.Entries) != 11 || res.Ack.From != 0 {
		t.Fatalf("ack from %d with %d entries, want 0 and 11", res.Ack.From, len(res.Ack.Entries))
	}
	// The agent learns the ids and sends them: nothing new to assign.
	ad := encoding.NewAgentDict()
	if err := ad.Apply(res.Ack); err != nil {
		t.Fatal(err)
	}
	b2 := frame(t, ad, 50, 7)
	res2, err := s.Ingest("b2", b2)
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Ack.Entries) != 0 {
		t.Fatalf("second ack has %d entries", len(res2.Ack.Entries))
	}
	// Resent: acknowledged, not stored.
	if r, err := s.Ingest("b1", frame(t, nil, 100, 7)); err != nil || !r.Duplicate {
		t.Fatalf("resend: %+v %v", r, err)
	}
	if n := count(t, s, "SELECT count(*) FROM l4_flow_log"); n != 150 {
		t.Fatalf("l4 rows %d, want 150", n)
	}
	if n := count(t, s, "SELECT count(*) FROM l7_flow_log WHERE batch_seq = ?", res.Seq); n != 100 {
		t.Fatalf("l7 rows of batch 1: %d", n)
	}
	// Tag strings resolved through the dictionary table.
	n := count(t, s, `SELECT count(*) FROM l7_flow_log l JOIN tag_dict d ON d.key = 'service' AND d.id = l.service_id_1 WHERE d.value = 'svc-1' AND l.team_id_1 > 0`)
	if want := 33 + 17; n != want {
		t.Fatalf("svc-1 rows %d, want %d", n, want)
	}
	var code int
	var res0 string
	var rtt int64
	if err := s.DB().QueryRow(`SELECT response_code, request_resource FROM l7_flow_log WHERE trace_id = 'trace-5' AND batch_seq = ?`, res.Seq).Scan(&code, &res0); err != nil {
		t.Fatal(err)
	}
	if code != 500 || res0 != "/item/5" {
		t.Fatalf("row 5: %d %q", code, res0)
	}
	if err := s.DB().QueryRow(`SELECT rtt FROM l4_flow_log WHERE client_port = 40003`).Scan(&rtt); err != nil || rtt != 42 {
		t.Fatalf("rtt %d %v", rtt, err)
	}
	epoch, version := s.Dict().Epoch(), s.Dict().Version()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened: same dictionary, same batch ids.
	s, err = store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dict().Epoch() != epoch || s.Dict().Version() != version {
		t.Fatalf("dictionary after reopen: %d/%d, want %d/%d", s.Dict().Epoch(), s.Dict().Version(), epoch, version)
	}
	if id, ok := s.Dict().Lookup("team", "blue"); !ok || id != 1 {
		t.Fatalf("team blue: %d %v", id, ok)
	}
	if r, err := s.Ingest("b2", frame(t, ad, 50, 7)); err != nil || !r.Duplicate {
		t.Fatalf("resend after reopen: %+v %v", r, err)
	}
	if _, err := s.Ingest("b3", frame(t, ad, 10, 9)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM l4_flow_log"); n != 160 {
		t.Fatalf("l4 rows %d, want 160", n)
	}
	st := s.Stats()
	if st.Batches != 1 || st.Duplicates != 1 || st.L4Rows != 10 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStore_IngestRefused(t *testing.T) {
	s, err := store.Open(store.Config{Path: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Ids of another epoch: a resync, nothing stored or assigned.
	other := encoding.NewAgentDict()
	d := encoding.NewDictionary(nil)
	d.Assign("pod", "pod-0")
	other.Apply(d.Sync(0, 0))
	_, err = s.Ingest("x", frame(t, other, 5, 1))
	var re *encoding.ResyncError
	if !errors.As(err, &re) {
		t.Fatalf("err %v, want a ResyncError", err)
	}
	// A column of the wrong type.
	b := frame(t, nil, 5, 2)
	for i := range b.Tables {
		if c := b.Tables[i].Column("client_port"); c != nil {
			c.Type = encoding.ColVarint
		}
	}
	if _, err := s.Ingest("y", b); !errors.Is(err, store.ErrSchema) {
		t.Fatalf("err %v, want ErrSchema", err)
	}
	if n := count(t, s, "SELECT count(*) FROM l4_flow_log"); n != 0 {
		t.Fatalf("%d rows stored", n)
	}
	if s.Dict().Version() != 0 || count(t, s, "SELECT count(*) FROM tag_dict") != 0 {
		t.Fatalf("dictionary version %d after refused batches", s.Dict().Version())
	}
	if st := s.Stats(); st.Failed != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStore_Maintain(t *testing.T) {
	s, err := store.Open(store.Config{Path: ":memory:", Retention: time.Hour, DedupWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Ingest("old", frame(t, nil, 20, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Maintain(time.Now().Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM l4_flow_log") + count(t, s, "SELECT count(*) FROM l7_flow_log"); n != 0 {
		t.Fatalf("%d rows left after retention", n)
	}
	if n := count(t, s, "SELECT count(*) FROM batches"); n != 0 {
		t.Fatalf("%d batch ids left after the window", n)
	}
	// Forgotten: the id is accepted again.
	if r, err := s.Ingest("old", frame(t, nil, 20, 2)); err != nil || r.Duplicate {
		t.Fatalf("%+v %v", r, err)
	}
	if st := s.Stats(); st.Deleted != 40 || st.Forgotten != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStore_IngestRollback makes the transaction fail after the rows were
// appended (the batch's sequence number is taken): no row, dictionary entry
// or batch id of it stays.
func TestStore_IngestRollback(t *testing.T) {
	s, err := store.Open(store.Config{Path: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB().Exec(`INSERT INTO batches VALUES (1, 'squatter', now(), 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest("z", frame(t, nil, 30, 3)); err == nil {
		t.Fatal("no error with a taken sequence number")
	}
	if n := count(t, s, "SELECT count(*) FROM l4_flow_log") + count(t, s, "SELECT count(*) FROM l7_flow_log"); n != 0 {
		t.Fatalf("%d rows of a rolled back batch", n)
	}
	if v := s.Dict().Version(); v != 0 {
		t.Fatalf("dictionary version %d after rollback", v)
	}
	if n := count(t, s, "SELECT count(*) FROM tag_dict"); n != 0 {
		t.Fatalf("%d dictionary rows after rollback", n)
	}
}
