package encoding_test

import (
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
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
