package encoding_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/tag"
)

// TestEncoder_Allocs: in steady state (values known, buffers grown),
// adding l4 records and writing frames does not allocate; l7 records cost
// one allocation per distinct string of the batch (the string table keeps
// a copy: the record's bytes are borrowed).
func TestEncoder_Allocs(t *testing.T) {
	l4s, l7s := captureRecords(t)
	l7s = l7s[:50]
	distinct := map[string]bool{}
	for _, r := range l7s {
		for _, b := range [][]byte{r.Version, r.RequestType, r.RequestDomain, r.RequestResource, r.Endpoint,
			r.ResponseException, r.ResponseResult, r.TraceID, r.SpanID, r.ParentSpanID, r.XRequestID0,
			r.XRequestID1, r.UserAgent} {
			if len(b) > 0 {
				distinct[string(b)] = true
			}
		}
		distinct[r.L7Protocol] = true
	}
	g := newGenerator(2000)
	_, agent := g.dictionaries()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent})
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
		for _, r := range l7s {
			enc.AddL7(r)
		}
		enc.AddL4(l4s[0])
		frame, _ = enc.AppendFrame(frame[:0])
	}
	for range 3 {
		run()
	}
	if n := testing.AllocsPerRun(5, run); n > float64(len(distinct)) {
		t.Fatalf("%v allocations per batch, want at most %d", n, len(distinct))
	}
	l7s = nil
	if n := testing.AllocsPerRun(5, run); n != 0 {
		t.Fatalf("%v allocations per batch of l4 records", n)
	}
}

// TestSmartEncoding_Size checks the size target on 100,000 rows of the
// benchmark's generator: SmartEncoding at least 5 times smaller than JSON
// Lines with string tags, and smaller than string-tagged columns with zstd.
func TestSmartEncoding_Size(t *testing.T) {
	g := newGenerator(100_000)
	_, agent := g.dictionaries()
	n := len(g.rows)
	smart := smartEncode(&encoding.EncoderConfig{Dict: agent})(t)(g, n)
	strs := smartEncode(&encoding.EncoderConfig{TagStrings: true, Compression: encoding.CompressZstd})(t)(g, n)
	json := jsonEncode(false)(t)(g, n)
	t.Logf("bytes/row: smart %.1f, string columns %.1f, JSON %.1f (%.1fx)", float64(smart)/float64(n),
		float64(strs)/float64(n), float64(json)/float64(n), float64(json)/float64(smart))
	if smart*5 > json {
		t.Errorf("smart %d bytes, JSON %d: less than 5x smaller", smart, json)
	}
	if smart >= strs {
		t.Errorf("smart %d bytes, string columns %d", smart, strs)
	}
}

// TestEncoder_RoundTripGenerated encodes 5 frames of the benchmark's rows
// (thousands of endpoints, 15 tags a side, the tag set cache in use across
// frames) and decodes every row back equal, tags resolved by the server.
func TestEncoder_RoundTripGenerated(t *testing.T) {
	const rows = 5 * 4096
	g := newGenerator(rows)
	server, agent := g.dictionaries()
	for _, cfg := range []*encoding.EncoderConfig{
		{Dict: agent}, {}, {Dict: agent, Compression: encoding.CompressS2}, {Dict: agent, Compression: encoding.CompressZstdBody},
		{Dict: agent, NoCompression: true}, {Dict: agent, Uvarints: true}, {Uvarints: true, Compression: encoding.CompressS2},
	} {
		enc, err := encoding.NewEncoder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dec := mustDecoder(t, nil)
		var want, got flow.Record
		var b encoding.Batch
		var frame []byte
		for start := 0; start < rows; start += 4096 {
			for i := start; i < start+4096; i++ {
				g.fill(i, &want)
				enc.AddL4(&want)
			}
			if frame, err = enc.AppendFrame(frame[:0]); err != nil {
				t.Fatal(err)
			}
			if err := dec.Decode(frame, &b); err != nil {
				t.Fatal(err)
			}
			if err := server.Resolve(&b); err != nil {
				t.Fatal(err)
			}
			tb := &b.Tables[len(b.Tables)-1]
			if tb.Type != encoding.TableL4 || tb.Rows != 4096 {
				t.Fatalf("last table: type %d, %d rows", tb.Type, tb.Rows)
			}
			for row := range tb.Rows {
				if err := tb.L4(row, server, &got); err != nil {
					t.Fatal(err)
				}
				g.fill(start+row, &want)
				equalL4(t, start+row, &want, &got)
			}
		}
		st := enc.Stats()
		if cfg.Dict != nil && (st.SetHits < rows || st.TagInline != 0) {
			t.Fatalf("%+v: want most sides found in the tag set cache, every tag an id", st)
		}
	}
}

// TestEncoder_Packed writes blocks of every kind: addresses none, IPv4,
// IPv6 and mixed, columns zero for whole blocks before their first value,
// wide and negative values, a last block of a few rows; and reads them
// back, in packed and in uvarint frames.
func TestEncoder_Packed(t *testing.T) {
	const rows = 64*5 + 7
	recs := make([]flow.Record, rows)
	for i := range recs {
		r := &recs[i]
		r.FlowID = uint64(i) * 0x0123456789
		r.StartTime = int64(i) * 1000
		r.Duration = int64(i%7) - 3
		switch blk := i / 64; {
		case blk == 0: // no addresses
		case blk == 1 || blk == 4: // IPv4, far apart
			r.IP0 = netip.AddrFrom4([4]byte{10, 0, byte(i), 1})
			r.IP1 = netip.AddrFrom4([4]byte{byte(200 + i%50), 1, 2, 3})
		case blk == 2: // IPv6, and IPv4
			r.IP0 = netip.MustParseAddr("2001:db8::1")
			r.IP1 = netip.AddrFrom4([4]byte{192, 168, 0, byte(i)})
		default: // IPv4 and none
			if i%2 == 0 {
				r.IP0 = netip.AddrFrom4([4]byte{1, 2, 3, byte(i)})
			}
		}
		if i >= 128 {
			r.VLAN = uint16(i)
			r.ByteTx = uint64(1) << (i % 64)
		}
	}
	for _, cfg := range []*encoding.EncoderConfig{{}, {Uvarints: true}, {NoCompression: true}} {
		enc, err := encoding.NewEncoder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			enc.AddL4(&recs[i])
		}
		frame, err := enc.AppendFrame(nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := encoding.Decode(frame)
		if err != nil {
			t.Fatal(err)
		}
		tb := &b.Tables[0]
		var got flow.Record
		for i := range recs {
			if err := tb.L4(i, nil, &got); err != nil {
				t.Fatal(err)
			}
			w := &recs[i]
			if got.FlowID != w.FlowID || got.StartTime != w.StartTime || got.Duration != w.Duration ||
				got.IP0 != w.IP0 || got.IP1 != w.IP1 || got.VLAN != w.VLAN || got.ByteTx != w.ByteTx {
				t.Fatalf("%+v: row %d: got %d %d %d %v %v %d %d", cfg, i, got.FlowID, got.StartTime, got.Duration,
					got.IP0, got.IP1, got.VLAN, got.ByteTx)
			}
		}
	}
}

// TestEncoder_ListSides: the generator's records carry the lists of its
// autotag.Stage (one per endpoint, the endpoint's tags); frames of sides
// with lists, sides with tags of their own (the same values, hashed) and
// lists of equal contents but another identity decode to the same tags,
// and list sides are found in the tag set cache without allocating.
func TestEncoder_ListSides(t *testing.T) {
	const rows = 3 * 4096
	g := newGenerator(rows)
	server, agent := g.dictionaries()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent})
	if err != nil {
		t.Fatal(err)
	}
	dec := mustDecoder(t, nil)
	var want, got flow.Record
	var own tag.Set
	var b encoding.Batch
	var frame []byte
	lists := map[int]*tag.List{}
	other := map[*tag.List]*tag.List{} // a copy of a list: equal tags, another identity
	// variant tags row i's record: 0 the stage's lists, 1 its own copy,
	// 2 another list of the same tags.
	variant := func(i int, r *flow.Record) {
		g.fill(i, r)
		row := &g.rows[i]
		for side, ep := range []uint16{row.cli, row.srv} {
			l := r.Tags.List(tag.Side(side))
			if l == nil || !slices.Equal(l.Tags(), g.eps[ep].tags) {
				t.Fatalf("row %d side %d: list %v, want the endpoint's %v", i, side, l.Tags(), g.eps[ep].tags)
			}
			if p := lists[int(ep)]; p != nil && p != l {
				t.Fatalf("endpoint %d has two lists", ep)
			}
			lists[int(ep)] = l
		}
		switch i % 3 {
		case 1:
			own.Reset()
			for side := range tag.Side(2) {
				for _, tg := range r.Tags.Side(side) {
					own.Add(side, tg.Key, tg.Value)
				}
			}
			r.Tags = own
		case 2:
			for side := range tag.Side(2) {
				l := r.Tags.List(side)
				if other[l] == nil {
					other[l] = tag.NewList(l.Tags())
				}
				r.Tags.Attach(side, other[l])
			}
		}
	}
	for start := 0; start < rows; start += 4096 {
		for i := start; i < start+4096; i++ {
			variant(i, &want)
			enc.AddL4(&want)
			if i%3 == 1 {
				own = want.Tags
				want.Tags = tag.Set{}
			}
		}
		if frame, err = enc.AppendFrame(frame[:0]); err != nil {
			t.Fatal(err)
		}
		if err := dec.Decode(frame, &b); err != nil {
			t.Fatal(err)
		}
		if err := server.Resolve(&b); err != nil {
			t.Fatal(err)
		}
		tb := &b.Tables[len(b.Tables)-1]
		for row := range tb.Rows {
			if err := tb.L4(row, server, &got); err != nil {
				t.Fatal(err)
			}
			g.fill(start+row, &want)
			equalL4(t, start+row, &want, &got)
		}
	}
	if st := enc.Stats(); st.SetHits < rows || st.TagInline != 0 {
		t.Fatalf("%+v: want most sides found in the tag set cache, every tag an id", st)
	}
	// Lists only: no allocation a row.
	var r flow.Record
	if n := testing.AllocsPerRun(3, func() {
		for i := range 4096 {
			g.fill(i, &r)
			enc.AddL4(&r)
		}
		frame, _ = enc.AppendFrame(frame[:0])
	}); n != 0 {
		t.Fatalf("%v allocations per batch of 4,096 rows", n)
	}
}
