package encoding_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
)

func TestDictionary_Assign(t *testing.T) {
	d := encoding.NewDictionary(&encoding.DictConfig{Epoch: 7, MaxIDs: 3, MaxValueLen: 8})
	for i, tc := range []struct {
		key, value string
		id         uint32
		err        error
	}{
		{"pod", "a", 1, nil},
		{"pod", "b", 2, nil},
		{"pod", "a", 1, nil},
		{"service", "a", 1, nil},
		{"pod", "c", 3, nil},
		{"pod", "d", 0, encoding.ErrFull},
		{"pod", "123456789", 0, encoding.ErrTooLarge},
		{"pod", "", 0, encoding.ErrFull},
		{"az", "", 1, nil},
	} {
		id, err := d.Assign(tc.key, tc.value)
		if id != tc.id || !errors.Is(err, tc.err) {
			t.Fatalf("%d: Assign(%q, %q) = %d, %v; want %d, %v", i, tc.key, tc.value, id, err, tc.id, tc.err)
		}
	}
	if d.Version() != 5 || d.Epoch() != 7 {
		t.Fatalf("version %d epoch %d", d.Version(), d.Epoch())
	}
	if v, ok := d.Value("pod", 2); !ok || v != "b" {
		t.Fatalf("Value(pod, 2) = %q, %v", v, ok)
	}
	if _, ok := d.Value("pod", 4); ok {
		t.Fatal("Value of an unassigned id")
	}
	if st := d.Stats(); st.Rejected != 3 || st.Keys != 3 || st.Values != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAgentDict_Apply(t *testing.T) {
	server := encoding.NewDictionary(nil)
	server.Assign("pod", "a")
	server.Assign("pod", "b")
	agent := encoding.NewAgentDict()
	ep := server.Epoch()

	if err := agent.Apply(server.Sync(0, 0)); err != nil {
		t.Fatal(err)
	}
	server.Assign("service", "s")
	server.Assign("pod", "c")
	d, err := server.Delta(ep, 2)
	if err != nil || len(d.Entries) != 2 || d.To() != 4 {
		t.Fatalf("delta %+v, %v", d, err)
	}
	// A delta that starts after the agent's version is a gap.
	if err := agent.Apply(&encoding.Delta{Epoch: ep, From: 3, Entries: d.Entries[1:]}); !errors.Is(err, encoding.ErrGap) {
		t.Fatalf("gap: %v", err)
	}
	if err := agent.Apply(d); err != nil {
		t.Fatal(err)
	}
	// Applying again (an overlap) changes nothing.
	if err := agent.Apply(d); err != nil {
		t.Fatal(err)
	}
	if e, v := agent.Version(); e != ep || v != 4 {
		t.Fatalf("agent at %x/%d", e, v)
	}
	if id, ok := agent.Lookup("pod", "c"); !ok || id != 3 {
		t.Fatalf("pod c = %d, %v", id, ok)
	}
	// Contradictions are refused and leave the agent as it was.
	for _, bad := range []*encoding.Delta{
		{Epoch: ep, From: 4, Entries: []encoding.Entry{{Key: "pod", Value: "x", ID: 7}}},  // not the next id
		{Epoch: ep, From: 4, Entries: []encoding.Entry{{Key: "pod", Value: "a", ID: 4}}},  // a value with a second id
		{Epoch: ep, From: 3, Entries: []encoding.Entry{{Key: "pod", Value: "zz", ID: 3}}}, // overlap that disagrees
		{Epoch: ep, From: 4, Entries: []encoding.Entry{{Key: "az", Value: "x", ID: 1}, {Key: "az", Value: "x", ID: 2}}},
	} {
		if err := agent.Apply(bad); !errors.Is(err, encoding.ErrConflict) {
			t.Fatalf("Apply(%+v) = %v, want ErrConflict", bad, err)
		}
	}
	if _, v := agent.Version(); v != 4 {
		t.Fatalf("agent moved to %d on a bad delta", v)
	}
	// Another epoch: resync.
	var re *encoding.ResyncError
	if err := agent.Apply(&encoding.Delta{Epoch: ep + 1, From: 4}); !errors.As(err, &re) || !errors.Is(err, encoding.ErrResync) {
		t.Fatalf("other epoch: %v", err)
	}
	if _, err := server.Delta(ep+1, 4); !errors.Is(err, encoding.ErrResync) {
		t.Fatalf("server, other epoch: %v", err)
	}
	if _, err := server.Delta(ep, 5); !errors.Is(err, encoding.ErrResync) {
		t.Fatalf("server, agent ahead: %v", err)
	}
	if d := server.Sync(ep, 99); d.From != 0 || len(d.Entries) != 4 {
		t.Fatalf("Sync for an agent ahead: %+v", d)
	}
	agent.Reset()
	if e, v := agent.Version(); e != 0 || v != 0 {
		t.Fatal("Reset kept state")
	}
}

func TestParseDelta(t *testing.T) {
	d := &encoding.Delta{Epoch: 1 << 60, From: 3, Entries: []encoding.Entry{{"pod", "web-1", 4}, {"service", "", 1}}}
	b, err := d.AppendBinary([]byte("xx"))
	if err != nil {
		t.Fatal(err)
	}
	b = b[2:]
	var got encoding.Delta
	n, err := encoding.ParseDelta(append(b, "trailing"...), &got)
	if err != nil || n != len(b) || got.Epoch != d.Epoch || got.From != 3 || len(got.Entries) != 2 || got.Entries[0] != d.Entries[0] || got.Entries[1] != d.Entries[1] {
		t.Fatalf("ParseDelta = %d, %v, %+v", n, err, got)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, encoding.ErrTruncated},
		{"magic", []byte("MFEB\x00\x00\x00\x00"), encoding.ErrMagic},
		{"short", b[:len(b)-1], encoding.ErrTruncated},
		{"checksum", flip(b, 10), encoding.ErrChecksum},
		{"huge", []byte("MFD\x01\xff\xff\xff\xff"), encoding.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := encoding.ParseDelta(tc.in, &got); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func TestDictionary_ReadFromTruncated(t *testing.T) {
	d := encoding.NewDictionary(nil)
	d.Assign("pod", "a")
	var buf bytes.Buffer
	d.WriteTo(&buf)
	d.Assign("pod", "b")
	d.AppendDelta(&buf, 1)
	r := encoding.NewDictionary(nil)
	_, err := r.ReadFrom(bytes.NewReader(buf.Bytes()[:buf.Len()-3]))
	if !errors.Is(err, io.ErrUnexpectedEOF) || r.Version() != 1 || r.Epoch() != d.Epoch() {
		t.Fatalf("truncated journal: %v, version %d", err, r.Version())
	}
}

func TestLabels(t *testing.T) {
	server := encoding.NewLabels(0)
	if !server.Set(encoding.KindPod, 1, map[string]string{"app": "web", "tier": "front"}) ||
		!server.Set(encoding.KindPod, 2, map[string]string{"app": "db"}) ||
		!server.Set(encoding.KindService, 1, map[string]string{"app": "web"}) {
		t.Fatal("Set reported no change")
	}
	if server.Set(encoding.KindPod, 2, map[string]string{"app": "db"}) {
		t.Fatal("same labels counted as a change")
	}
	if got := server.Match(encoding.KindPod, "app", "web"); len(got) != 1 || got[0] != 1 {
		t.Fatalf("Match = %v", got)
	}
	agent := encoding.NewLabels(0)
	sync := func(want error) {
		t.Helper()
		d, err := server.Delta(agent.Epoch(), agent.Version())
		if err != nil {
			if !errors.Is(err, want) {
				t.Fatalf("delta: %v", err)
			}
			d, _ = server.Delta(0, 0)
		}
		b, err := d.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var p encoding.LabelDelta
		if _, err := encoding.ParseLabelDelta(b, &p); err != nil {
			t.Fatal(err)
		}
		if err := agent.Apply(&p); err != nil {
			t.Fatal(err)
		}
	}
	sync(encoding.ErrResync) // a new agent: another epoch
	if l, ok := agent.Get(encoding.KindPod, 1); !ok || l["tier"] != "front" {
		t.Fatalf("agent pod 1: %v", l)
	}
	server.Delete(encoding.KindPod, 2)
	server.Set(encoding.KindPod, 1, map[string]string{"app": "web2"})
	sync(nil)
	if _, ok := agent.Get(encoding.KindPod, 2); ok {
		t.Fatal("deleted pod still labelled")
	}
	if got := agent.Match(encoding.KindPod, "app", "web2"); len(got) != 1 || got[0] != 1 {
		t.Fatalf("agent Match = %v", got)
	}
	if agent.Version() != server.Version() || agent.Epoch() != server.Epoch() {
		t.Fatal("agent not at the server's version")
	}
	if _, err := server.Delta(server.Epoch(), server.Version()+1); !errors.Is(err, encoding.ErrResync) {
		t.Fatalf("agent ahead: %v", err)
	}
	if err := agent.Apply(&encoding.LabelDelta{Epoch: agent.Epoch(), From: agent.Version() + 2, To: agent.Version() + 3}); !errors.Is(err, encoding.ErrGap) {
		t.Fatalf("gap: %v", err)
	}
}

func TestDictionary_Rebase(t *testing.T) {
	d := encoding.NewDictionary(nil)
	d.Assign("pod", "a")
	old := d.Epoch()
	if e := d.Rebase(); e == old || d.Epoch() != e {
		t.Fatal("Rebase kept the epoch")
	}
	if id, ok := d.Lookup("pod", "a"); !ok || id != 1 {
		t.Fatal("Rebase lost an id")
	}
	if _, err := d.Delta(old, 1); !errors.Is(err, encoding.ErrResync) {
		t.Fatalf("agent of the old epoch: %v", err)
	}
}
