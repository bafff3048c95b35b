package encoding_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
)

// learnSets encodes rows [0, n) of g with TagSetIDs in frames of batchRows,
// each decoded and resolved by server and acknowledged to agent: agent then
// knows the tag set ids of the endpoints of those rows (an agent's steady
// state).
func learnSets(tb testing.TB, g *generator, n int, server *encoding.Dictionary, agent *encoding.AgentDict) {
	tb.Helper()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent, TagSetIDs: true})
	if err != nil {
		tb.Fatal(err)
	}
	var r flow.Record
	var frame []byte
	for i := range n {
		g.fill(i, &r)
		enc.AddL4(&r)
		if (i+1)%batchRows != 0 && i != n-1 {
			continue
		}
		if frame, err = enc.AppendFrame(frame[:0]); err != nil {
			tb.Fatal(err)
		}
		b, err := encoding.Decode(frame)
		if err != nil {
			tb.Fatal(err)
		}
		if err := server.Resolve(b); err != nil {
			tb.Fatal(err)
		}
		if err := agent.Apply(server.Sync(b.Epoch, b.DictVersion)); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestEncoder_TagSetIDs checks format 1.3's tag set ids on the test
// captures: the first frame sends its tag sets as rows (and the server
// names them), the second only ids, and both resolve to the same records;
// the second frame, resent to a server restored from its snapshot and
// journal, resolves the same; a server that lost its journal refuses it
// (ErrResync) as it does value ids.
func TestEncoder_TagSetIDs(t *testing.T) {
	l4s, l7s := captureRecords(t)
	server := encoding.NewDictionary(nil)
	agent := encoding.NewAgentDict()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent, TagSetIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	var journal bytes.Buffer
	if _, err := server.WriteTo(&journal); err != nil {
		t.Fatal(err)
	}
	snapshot := journal.Len()
	b1, f1 := exchange(t, enc, server, agent, l4s, l7s)
	checkBatch(t, b1, server, l4s, l7s)
	if b1.Minor != encoding.Minor || b1.Flags&encoding.FlagTagSetIDs == 0 {
		t.Fatalf("frame 1.%d flags %#x, want 1.%d with FlagTagSetIDs", b1.Minor, b1.Flags, encoding.Minor)
	}
	if st := enc.Stats(); st.SetIDs != 0 {
		t.Fatalf("first frame: %d sides by set id, want none", st.SetIDs)
	}
	if _, ok := server.Lookup(encoding.TagSetKey, "x"); ok {
		t.Fatal("lookup of a bad set value succeeded")
	}
	nsets := 0
	all, _ := server.Delta(0, 0)
	for _, e := range all.Entries {
		if e.Key == encoding.TagSetKey {
			nsets++
		}
	}
	if nsets == 0 {
		t.Fatal("the server named no tag set")
	}
	saved, err := server.AppendDelta(&journal, 0)
	if err != nil {
		t.Fatal(err)
	}

	b2, f2 := exchange(t, enc, server, agent, l4s, l7s)
	checkBatch(t, b2, server, l4s, l7s)
	st := enc.Stats()
	if st.SetIDs == 0 {
		t.Fatal("second frame: no side by set id")
	}
	for i := range b2.Tables {
		if tb := &b2.Tables[i]; tb.Type == encoding.TableTagSets && tb.Rows > 0 {
			t.Fatalf("second frame: %d tag set rows, want none (every set is named)", tb.Rows)
		}
	}
	if server.Version() != saved {
		t.Fatalf("the second frame assigned %d ids", server.Version()-saved)
	}
	t.Logf("%d l4 + %d l7 records, %d named tag sets: %d bytes with strings, %d with set ids; %d sides by id",
		len(l4s), len(l7s), nsets, len(f1), len(f2), st.SetIDs)

	// The second frame resent to a server restored from its snapshot and
	// journal (at least once delivery).
	restored := encoding.NewDictionary(nil)
	if _, err := restored.ReadFrom(bytes.NewReader(journal.Bytes())); err != nil {
		t.Fatal(err)
	}
	b, err := encoding.Decode(f2)
	if err != nil {
		t.Fatal(err)
	}
	if err := restored.Resolve(b); err != nil {
		t.Fatalf("resolve on the restored server: %v", err)
	}
	checkBatch(t, b, restored, l4s, l7s)

	// A server that lost its journal cannot read the set ids.
	lost := encoding.NewDictionary(nil)
	if _, err := lost.ReadFrom(bytes.NewReader(journal.Bytes()[:snapshot])); err != nil {
		t.Fatal(err)
	}
	if b, err = encoding.Decode(f2); err != nil {
		t.Fatal(err)
	}
	if err := lost.Resolve(b); !errors.Is(err, encoding.ErrResync) {
		t.Fatalf("resolve on a server that lost its journal: %v, want ErrResync", err)
	}

	// A frame without the option is still a 1.2 frame.
	plain := encodeFrame(t, &encoding.EncoderConfig{Dict: agent}, l4s, l7s)
	if b, err = encoding.Decode(plain); err != nil {
		t.Fatal(err)
	}
	if b.Minor != 2 || b.Flags&encoding.FlagTagSetIDs != 0 {
		t.Fatalf("default frame 1.%d flags %#x, want 1.2", b.Minor, b.Flags)
	}
	if err := server.Resolve(b); err != nil {
		t.Fatal(err)
	}
	checkBatch(t, b, server, l4s, l7s)
}

// TestDictionary_ResolveBadSetID checks that a set id the dictionary never
// assigned, or one whose value is not a set of known ids, is ErrUnknownID.
func TestDictionary_ResolveBadSetID(t *testing.T) {
	l4s, _ := captureRecords(t)
	l4s = l4s[:10]
	server := encoding.NewDictionary(nil)
	agent := encoding.NewAgentDict()
	enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent, TagSetIDs: true})
	exchange(t, enc, server, agent, l4s, nil)
	_, frame := exchange(t, enc, server, agent, l4s, nil)
	if enc.Stats().SetIDs == 0 {
		t.Fatal("no set ids")
	}
	// The same frame on a server of the same epoch whose sets are other
	// values: ids unknown, or values that are not sets.
	for name, values := range map[string][]string{
		"missing":  nil,
		"not-set":  {"garbage", "a=b", "pod=99999999", ",", "=1", "pod=0"},
		"unknowns": {"nokey=1", "nokey=2", "nokey=3", "nokey=4", "nokey=5", "nokey=6"},
	} {
		t.Run(name, func(t *testing.T) {
			d := encoding.NewDictionary(&encoding.DictConfig{Epoch: server.Epoch()})
			all, _ := server.Delta(0, 0)
			for _, e := range all.Entries {
				if e.Key != encoding.TagSetKey {
					d.Assign(e.Key, e.Value)
				}
			}
			for _, v := range values {
				d.Assign(encoding.TagSetKey, v)
			}
			for d.Version() < server.Version() {
				d.Assign("filler", string(rune('a'+d.Version()%26))+string(rune('a'+d.Version()/26%26))+string(rune('a'+d.Version()/676)))
			}
			b, err := encoding.Decode(frame)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Resolve(b); !errors.Is(err, encoding.ErrUnknownID) {
				t.Fatalf("resolve: %v, want ErrUnknownID", err)
			}
		})
	}
}

// TestEncoder_TagSetIDsAllocs checks that a batch whose sides are all
// named sets allocates nothing.
func TestEncoder_TagSetIDsAllocs(t *testing.T) {
	g := newGenerator(4000)
	server, agent := g.dictionaries()
	learnSets(t, g, len(g.rows), server, agent)
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent, TagSetIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	var r flow.Record
	var frame []byte
	run := func() {
		for i := range g.rows {
			g.fill(i, &r)
			enc.AddL4(&r)
		}
		frame, _ = enc.AppendFrame(frame[:0])
	}
	for range 3 {
		run()
	}
	if n := testing.AllocsPerRun(5, run); n != 0 {
		t.Fatalf("%v allocations per batch", n)
	}
	st := enc.Stats()
	if st.SetIDs == 0 {
		t.Fatal("no side by set id")
	}
	b, err := encoding.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Resolve(b); err != nil {
		t.Fatal(err)
	}
	// Every row resolves to the endpoint's tags.
	var got flow.Record
	for ti := range b.Tables {
		tb := &b.Tables[ti]
		if tb.Type != encoding.TableL4 {
			continue
		}
		for row := range tb.Rows {
			g.fill(row, &r)
			if err := tb.L4(row, server, &got); err != nil {
				t.Fatal(err)
			}
			if w, h := tagList(&r.Tags), tagList(&got.Tags); !reflect.DeepEqual(w, h) {
				t.Fatalf("row %d: tags %v, want %v", row, h, w)
			}
		}
	}
}
