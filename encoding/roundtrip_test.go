package encoding_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/autotag/file"
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
	"github.com/metaflow-go/metaflow/tag"
)

// tagStage tags both sides of every record from its addresses, as an
// autotagging stage would: a pod per address, and the resources around it.
type tagStage struct{}

func tagAddr(s *tag.Set, side tag.Side, a string, port uint16) {
	s.Set(side, "region", "region-1")
	s.Set(side, "az", "az-"+strconv.Itoa(len(a)%3))
	s.Set(side, "host", "host-"+a)
	s.Set(side, "pod_ns", "default")
	s.Set(side, "pod", "pod-"+a)
	if side == tag.Server {
		s.Set(side, "service", "svc-"+strconv.Itoa(int(port)))
	}
	s.Set(side, "gprocess", "")
}

func (tagStage) ProcessL4(r *flow.Record) bool {
	tagAddr(&r.Tags, tag.Client, r.IP0.String(), r.ClientPort)
	tagAddr(&r.Tags, tag.Server, r.IP1.String(), r.ServerPort)
	return true
}

func (tagStage) ProcessL7(r *l7.Record) bool {
	tagAddr(&r.Tags, tag.Client, r.Client.Addr().String(), r.Client.Port())
	tagAddr(&r.Tags, tag.Server, r.Server.Addr().String(), r.Server.Port())
	return true
}

type collect struct {
	mu sync.Mutex
	l4 []*flow.Record
	l7 []*l7.Record
}

func (c *collect) WriteL4(r *flow.Record) error {
	c.mu.Lock()
	c.l4 = append(c.l4, r.Clone())
	c.mu.Unlock()
	return nil
}

func (c *collect) WriteL7(r *l7.Record) error {
	c.mu.Lock()
	c.l7 = append(c.l7, r.Clone())
	c.mu.Unlock()
	return nil
}

var captured struct {
	once sync.Once
	l4   []*flow.Record
	l7   []*l7.Record
}

// captureRecords runs the pipeline on the project's test captures with
// tagStage and returns the records (the same slices for every caller: not
// to be modified).
func captureRecords(t testing.TB) ([]*flow.Record, []*l7.Record) {
	t.Helper()
	captured.once.Do(func() { captured.l4, captured.l7 = runCaptures(t) })
	if len(captured.l4) == 0 || len(captured.l7) == 0 {
		t.Fatalf("got %d l4 and %d l7 records", len(captured.l4), len(captured.l7))
	}
	return captured.l4, captured.l7
}

func runCaptures(t testing.TB) ([]*flow.Record, []*l7.Record) {
	var files []string
	for _, g := range []string{"l7/*.pcap", "flow/*.pcap"} {
		m, _ := filepath.Glob(testutil.Testdata(t, g))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no captures under testdata")
	}
	c := &collect{}
	for _, f := range files {
		src, err := capture.OpenFile(f)
		if err != nil {
			t.Fatalf("open %s: %v", f, err)
		}
		p, err := pipeline.New(pipeline.Config{Source: src, Stages: []pipeline.Stage{tagStage{}},
			Sinks: []pipeline.SinkConfig{{Sink: c}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatalf("run %s: %v", f, err)
		}
	}
	return c.l4, c.l7
}

func tagList(s *tag.Set) [2][]tag.Tag {
	var out [2][]tag.Tag
	for side := range 2 {
		out[side] = slices.Clone(s.Side(tag.Side(side)))
		slices.SortFunc(out[side], func(a, b tag.Tag) int {
			if a.Key < b.Key {
				return -1
			}
			if a.Key > b.Key {
				return 1
			}
			return 0
		})
	}
	return out
}

func equalL4(t *testing.T, i int, want, got *flow.Record) {
	t.Helper()
	if tw, tg := tagList(&want.Tags), tagList(&got.Tags); !reflect.DeepEqual(tw, tg) {
		t.Fatalf("l4 %d: tags\n got %v\nwant %v", i, tg, tw)
	}
	w, g := *want, *got
	w.Tags, g.Tags = tag.Set{}, tag.Set{}
	w.IP0, w.IP1 = w.IP0.WithZone(""), w.IP1.WithZone("")
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("l4 %d:\n got %+v\nwant %+v", i, g, w)
	}
}

func equalL7(t *testing.T, i int, want, got *l7.Record) {
	t.Helper()
	if tw, tg := tagList(&want.Tags), tagList(&got.Tags); !reflect.DeepEqual(tw, tg) {
		t.Fatalf("l7 %d: tags\n got %v\nwant %v", i, tg, tw)
	}
	w, g := *want, *got
	w.Tags, g.Tags = tag.Set{}, tag.Set{}
	for _, p := range [][2]*[]byte{{&w.Version, &g.Version}, {&w.RequestType, &g.RequestType},
		{&w.RequestDomain, &g.RequestDomain}, {&w.RequestResource, &g.RequestResource},
		{&w.Endpoint, &g.Endpoint}, {&w.ResponseException, &g.ResponseException},
		{&w.ResponseResult, &g.ResponseResult}, {&w.TraceID, &g.TraceID}, {&w.SpanID, &g.SpanID},
		{&w.ParentSpanID, &g.ParentSpanID}, {&w.XRequestID0, &g.XRequestID0},
		{&w.XRequestID1, &g.XRequestID1}, {&w.UserAgent, &g.UserAgent}} {
		if !bytes.Equal(*p[0], *p[1]) {
			t.Fatalf("l7 %d: a byte field: got %q want %q", i, *p[1], *p[0])
		}
		*p[0], *p[1] = nil, nil
	}
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("l7 %d:\n got %+v\nwant %+v", i, g, w)
	}
}

// exchange encodes the records into one frame, lets the server decode and
// resolve it, and applies the server's acknowledgement to the agent. It
// returns the resolved batch.
func exchange(t *testing.T, enc *encoding.Encoder, server *encoding.Dictionary, agent *encoding.AgentDict,
	l4s []*flow.Record, l7s []*l7.Record) (*encoding.Batch, []byte) {
	t.Helper()
	for _, r := range l4s {
		enc.AddL4(r)
	}
	for _, r := range l7s {
		enc.AddL7(r)
	}
	frame, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encoding.Decode(frame)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := server.Resolve(b); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	ack, err := server.Sync(b.Epoch, b.DictVersion).AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	var d encoding.Delta
	if _, err := encoding.ParseDelta(ack, &d); err != nil {
		t.Fatalf("parse ack: %v", err)
	}
	if err := agent.Apply(&d); err != nil {
		t.Fatalf("apply ack: %v", err)
	}
	return b, frame
}

func checkBatch(t *testing.T, b *encoding.Batch, names encoding.Names, l4s []*flow.Record, l7s []*l7.Record) {
	t.Helper()
	var n4, n7 int
	var r4 flow.Record
	var r7 l7.Record
	for ti := range b.Tables {
		tb := &b.Tables[ti]
		for row := range tb.Rows {
			switch tb.Type {
			case encoding.TableL4:
				if err := tb.L4(row, names, &r4); err != nil {
					t.Fatal(err)
				}
				equalL4(t, n4, l4s[n4], &r4)
				n4++
			case encoding.TableL7:
				if err := tb.L7(row, names, &r7); err != nil {
					t.Fatal(err)
				}
				equalL7(t, n7, l7s[n7], &r7)
				n7++
			}
		}
	}
	if n4 != len(l4s) || n7 != len(l7s) {
		t.Fatalf("decoded %d l4 and %d l7 rows, want %d and %d", n4, n7, len(l4s), len(l7s))
	}
}

// TestEncoder_RoundTripCapture encodes the records of the test captures,
// tagged, and decodes them back equal: first with every tag value sent as a
// string (a new agent), then, after the acknowledgement, as ids; the
// second frame must be smaller and carry ids only.
func TestEncoder_RoundTripCapture(t *testing.T) {
	l4s, l7s := captureRecords(t)
	server := encoding.NewDictionary(nil)
	agent := encoding.NewAgentDict()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent})
	if err != nil {
		t.Fatal(err)
	}
	b1, f1 := exchange(t, enc, server, agent, l4s, l7s)
	checkBatch(t, b1, server, l4s, l7s)
	st := enc.Stats()
	if st.TagIDs != 0 || st.TagInline == 0 {
		t.Fatalf("first batch: %d ids, %d inline; want inline only", st.TagIDs, st.TagInline)
	}
	if ep, v := agent.Version(); ep != server.Epoch() || v != server.Version() || v == 0 {
		t.Fatalf("agent at %x/%d, server at %x/%d", ep, v, server.Epoch(), server.Version())
	}
	b2, f2 := exchange(t, enc, server, agent, l4s, l7s)
	checkBatch(t, b2, server, l4s, l7s)
	// The agent can read its own ids too.
	checkBatch(t, b2, agent, l4s, l7s)
	st2 := enc.Stats()
	if st2.TagInline != st.TagInline || st2.TagIDs == 0 {
		t.Fatalf("second batch: %d ids, %d inline; want ids only", st2.TagIDs-st.TagIDs, st2.TagInline-st.TagInline)
	}
	t.Logf("%d l4 + %d l7 records: %d bytes with strings, %d with ids", len(l4s), len(l7s), len(f1), len(f2))

	// String columns (no dictionary) decode to the same records, and
	// resolve into ids.
	senc, _ := encoding.NewEncoder(&encoding.EncoderConfig{TagStrings: true})
	b3, _ := exchange(t, senc, server, encoding.NewAgentDict(), l4s, l7s)
	checkBatch(t, b3, server, l4s, l7s)
	if v := server.Version(); v != uint64(server.Stats().Values) {
		t.Fatalf("version %d", v)
	}
}

// TestDictionary_Restart restores a server from its snapshot and journal:
// same ids, same epoch; an agent ahead of a server that lost its journal
// must resync, and a batch with its ids is refused.
func TestDictionary_Restart(t *testing.T) {
	l4s, l7s := captureRecords(t)
	server := encoding.NewDictionary(nil)
	agent := encoding.NewAgentDict()
	enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent})
	var store bytes.Buffer
	if _, err := server.WriteTo(&store); err != nil {
		t.Fatal(err)
	}
	snapshot := store.Len()
	exchange(t, enc, server, agent, l4s[:len(l4s)/2], l7s[:len(l7s)/2])
	saved, err := server.AppendDelta(&store, 0)
	if err != nil || saved != server.Version() {
		t.Fatalf("journal to %d, %v", saved, err)
	}
	exchange(t, enc, server, agent, l4s[len(l4s)/2:], l7s[len(l7s)/2:])
	if saved, err = server.AppendDelta(&store, saved); err != nil || saved != server.Version() {
		t.Fatalf("journal to %d, %v", saved, err)
	}

	restored := encoding.NewDictionary(nil)
	if _, err := restored.ReadFrom(bytes.NewReader(store.Bytes())); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if restored.Epoch() != server.Epoch() || restored.Version() != server.Version() {
		t.Fatalf("restored %x/%d, had %x/%d", restored.Epoch(), restored.Version(), server.Epoch(), server.Version())
	}
	all, _ := server.Delta(0, 0)
	for _, e := range all.Entries {
		if id, ok := restored.Lookup(e.Key, e.Value); !ok || id != e.ID {
			t.Fatalf("%s=%q: id %d after restore, was %d", e.Key, e.Value, id, e.ID)
		}
	}
	t.Logf("restored %+v from %d bytes", restored.Stats(), store.Len())
	// The restored server reads the agent's ids.
	b, _ := exchange(t, enc, restored, agent, l4s, l7s)
	checkBatch(t, b, restored, l4s, l7s)

	// A server restored from the snapshot only (the journal was lost) is
	// behind the agent: the agent is told to resync, its batch refused.
	lost := encoding.NewDictionary(nil)
	if _, err := lost.ReadFrom(bytes.NewReader(store.Bytes()[:snapshot])); err != nil {
		t.Fatal(err)
	}
	ep, v := agent.Version()
	if _, err := lost.Delta(ep, v); !errors.Is(err, encoding.ErrResync) {
		t.Fatalf("delta for an agent ahead: %v, want ErrResync", err)
	}
	for _, r := range l4s {
		enc.AddL4(r)
	}
	frame, _ := enc.AppendFrame(nil)
	fb, err := encoding.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	var re *encoding.ResyncError
	if err := lost.Resolve(fb); !errors.As(err, &re) || re.Version != v {
		t.Fatalf("resolve on a server that lost state: %v", err)
	}
	// Resync: the whole dictionary from 0, then batches decode again.
	if err := agent.Apply(lost.Sync(ep, v)); err != nil {
		t.Fatal(err)
	}
	b, _ = exchange(t, enc, lost, agent, l4s, l7s)
	checkBatch(t, b, lost, l4s, l7s)

	// A fresh server (new epoch) tells the agent to resync too.
	fresh := encoding.NewDictionary(nil)
	ep, v = agent.Version()
	if _, err := fresh.Delta(ep, v); !errors.Is(err, encoding.ErrResync) {
		t.Fatalf("delta for an agent of another epoch: %v", err)
	}
}

// TestSink runs the pipeline into a Sink with small batches and decodes
// every frame it sends: the records of the capture, in order.
func TestSink(t *testing.T) {
	server := encoding.NewDictionary(nil)
	agent := encoding.NewAgentDict()
	enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent})
	var frames int
	var got4 []*flow.Record
	var r4 flow.Record
	sink := encoding.NewSink(enc, 7, func(frame []byte) error {
		frames++
		b, err := encoding.Decode(frame)
		if err != nil {
			return err
		}
		if err := server.Resolve(b); err != nil {
			return err
		}
		for i := range b.Tables {
			if tb := &b.Tables[i]; tb.Type == encoding.TableL4 {
				for row := range tb.Rows {
					if err := tb.L4(row, server, &r4); err != nil {
						return err
					}
					got4 = append(got4, r4.Clone())
				}
			}
		}
		return agent.Apply(server.Sync(b.Epoch, b.DictVersion))
	})
	want := &collect{}
	src, err := capture.OpenFile(testutil.Testdata(t, "l7/dns.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{Source: src, Stages: []pipeline.Stage{tagStage{}},
		Sinks: []pipeline.SinkConfig{{Sink: sink}, {Sink: want}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got4) != len(want.l4) || len(got4) == 0 || frames < len(got4)/7 {
		t.Fatalf("%d frames, %d l4 records, want %d", frames, len(got4), len(want.l4))
	}
	for i := range got4 {
		equalL4(t, i, want.l4[i], got4[i])
	}
	t.Logf("%d l4 records in %d frames", len(got4), frames)
}

// TestSink_Stage runs an agent's path: a capture through the pipeline, an
// autotag.Stage fed by the file source (autotag/file), and a Sink whose
// frames the server decodes and resolves. Every tagged side reaches the
// Encoder with the Stage's tag.List (EncoderStats.ListSides: no string
// hashing) and decodes to the tags the Stage set.
func TestSink_Stage(t *testing.T) {
	tg := autotag.New()
	src := file.New(file.Config{Path: filepath.Join(testutil.ModuleRoot(t), "autotag", "testdata", "http-nginx.json"), Interval: -1})
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tg.Run(ctx, src)
	for tg.Snapshot().Prefixes() == 0 {
		runtime.Gosched()
	}
	server := encoding.NewDictionary(nil)
	agent := encoding.NewAgentDict()
	enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent})
	got := &collect{}
	var r4 flow.Record
	var r7 l7.Record
	sink := encoding.NewSink(enc, 0, func(frame []byte) error {
		b, err := encoding.Decode(frame)
		if err != nil {
			return err
		}
		if err := server.Resolve(b); err != nil {
			return err
		}
		for i := range b.Tables {
			tb := &b.Tables[i]
			for row := range tb.Rows {
				switch tb.Type {
				case encoding.TableL4:
					if err := tb.L4(row, server, &r4); err != nil {
						return err
					}
					got.l4 = append(got.l4, r4.Clone())
				case encoding.TableL7:
					if err := tb.L7(row, server, &r7); err != nil {
						return err
					}
					got.l7 = append(got.l7, r7.Clone())
				}
			}
		}
		return agent.Apply(server.Sync(b.Epoch, b.DictVersion))
	})
	want := &collect{}
	in, err := capture.OpenFile(testutil.Testdata(t, "l7/http-nginx.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{Source: in, Stages: []pipeline.Stage{tg.NewStage(autotag.StageConfig{})},
		Sinks: []pipeline.SinkConfig{{Sink: sink}, {Sink: want}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got.l4) != len(want.l4) || len(got.l7) != len(want.l7) || len(got.l7) == 0 {
		t.Fatalf("decoded %d l4 and %d l7 records, want %d and %d", len(got.l4), len(got.l7), len(want.l4), len(want.l7))
	}
	sides := 0
	for i := range got.l4 {
		equalL4(t, i, want.l4[i], got.l4[i])
		for s := range tag.Side(2) {
			if len(want.l4[i].Tags.Side(s)) > 0 {
				sides++
			}
		}
	}
	for i := range got.l7 {
		equalL7(t, i, want.l7[i], got.l7[i])
		for s := range tag.Side(2) {
			if len(want.l7[i].Tags.Side(s)) > 0 {
				sides++
			}
		}
	}
	if v, _ := got.l7[0].Tags.Get(tag.Server, "service"); v != "nginx" {
		t.Fatalf("service_1 = %q", v)
	}
	st := sink.Stats()
	if sides == 0 || st.ListSides != uint64(sides) {
		t.Fatalf("%+v: %d tagged sides, want every one keyed by its list", st, sides)
	}
	t.Logf("%d l4 and %d l7 records, %d tagged sides: %+v", len(got.l4), len(got.l7), sides, st)
}
