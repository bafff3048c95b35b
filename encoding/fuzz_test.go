package encoding_test

import (
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// FuzzDecode decodes arbitrary frames, as they are and with their length
// and checksum fixed up (so that mutations reach the body), and uses what
// decodes: rows to records, tags resolved into a dictionary. Nothing may
// panic; every error must be one of the package's.
func FuzzDecode(f *testing.F) {
	l4s, l7s := captureRecords(f)
	server := encoding.NewDictionary(nil)
	agent := encoding.NewAgentDict()
	for _, n := range []int{1, 3, 20} {
		for _, cfg := range []*encoding.EncoderConfig{
			{NoCompression: true}, {}, {Compression: encoding.CompressZstdBody}, {TagStrings: true, NoCompression: true},
			{Dict: agent, NoCompression: true}, {Uvarints: true, NoCompression: true},
			{Dict: agent, TagSetIDs: true, NoCompression: true}, {Dict: agent, TagSetIDs: true},
		} {
			frame := encodeFrame(f, cfg, l4s[:min(n, len(l4s))], l7s[:min(n, len(l7s))])
			f.Add(frame)
			if cfg.Dict != nil {
				// Teach the agent, so the next seeds carry ids.
				b, err := encoding.Decode(frame)
				if err != nil {
					f.Fatal(err)
				}
				if err := server.Resolve(b); err != nil {
					f.Fatal(err)
				}
				if err := agent.Apply(server.Sync(b.Epoch, b.DictVersion)); err != nil {
					f.Fatal(err)
				}
			}
		}
	}
	// Generated rows: packed blocks of several widths, columns and tag set
	// tables compressed with zstd.
	g := newGenerator(600)
	genEnc, _ := encoding.NewEncoder(nil)
	var r flow.Record
	for i := range 600 {
		g.fill(i, &r)
		genEnc.AddL4(&r)
	}
	genFrame, _ := genEnc.AppendFrame(nil)
	f.Add(genFrame)
	dec, err := encoding.NewDecoder(&encoding.DecoderConfig{MaxBodySize: 1 << 20, MaxRows: 1 << 12})
	if err != nil {
		f.Fatal(err)
	}
	// The server's dictionary as the seeds left it (value and tag set ids),
	// for resolving the frames' ids.
	snap, _ := server.Delta(0, 0)
	f.Fuzz(func(t *testing.T, frame []byte) {
		var b encoding.Batch
		for _, in := range [][]byte{frame, reseal(frame)} {
			if err := dec.Decode(in, &b); err != nil {
				checkErr(t, err)
				continue
			}
			use(t, &b, server)
			// Again, resolved by a dictionary of the seeds' epoch: ids,
			// tag set ids expanded.
			if dec.Decode(in, &b) == nil {
				d := encoding.NewDictionary(&encoding.DictConfig{Epoch: snap.Epoch, MaxIDs: 1 << 16})
				if err := d.Apply(snap); err != nil {
					t.Fatal(err)
				}
				d.Resolve(&b)
			}
		}
	})
}

func checkErr(t *testing.T, err error) {
	for _, e := range []error{encoding.ErrMagic, encoding.ErrVersion, encoding.ErrFlags, encoding.ErrChecksum,
		encoding.ErrTooLarge, encoding.ErrTruncated, encoding.ErrCorrupt} {
		if errorsIs(err, e) {
			return
		}
	}
	t.Fatalf("unexpected error %v", err)
}

func use(t *testing.T, b *encoding.Batch, names encoding.Names) {
	var r4 flow.Record
	var r7 l7.Record
	for i := range b.Tables {
		tb := &b.Tables[i]
		for row := range tb.Rows {
			switch tb.Type {
			case encoding.TableL4:
				tb.L4(row, names, &r4)
				r4.AppendJSON(nil)
			case encoding.TableL7:
				tb.L7(row, names, &r7)
				r7.AppendJSON(nil)
			}
		}
	}
	d := encoding.NewDictionary(&encoding.DictConfig{MaxIDs: 1 << 16})
	d.Resolve(b)
}

// FuzzParseDelta parses arbitrary dictionary deltas and applies them to
// an agent dictionary.
func FuzzParseDelta(f *testing.F) {
	d := &encoding.Delta{Epoch: 9, From: 0, Entries: []encoding.Entry{{"pod", "a", 1}, {"pod", "b", 2}, {"az", "x", 1}}}
	b, _ := d.AppendBinary(nil)
	f.Add(b)
	d2 := &encoding.Delta{Epoch: 9, From: 3, Entries: []encoding.Entry{{"pod", "c", 3}}}
	b2, _ := d2.AppendBinary(nil)
	f.Add(b2)
	f.Fuzz(func(t *testing.T, in []byte) {
		var d encoding.Delta
		for _, x := range [][]byte{in, resealDelta(in)} {
			n, err := encoding.ParseDelta(x, &d)
			if err != nil {
				checkErr(t, err)
				continue
			}
			if n > len(x) {
				t.Fatalf("used %d of %d bytes", n, len(x))
			}
			a := encoding.NewAgentDict()
			a.Apply(&d)
			server := encoding.NewDictionary(nil)
			server.Apply(&d)
		}
	})
}

// FuzzParseLabelDelta parses arbitrary label deltas and applies them.
func FuzzParseLabelDelta(f *testing.F) {
	d := &encoding.LabelDelta{Epoch: 3, From: 0, To: 2, Updates: []encoding.LabelUpdate{
		{Kind: encoding.KindPod, ID: 1, Labels: map[string]string{"app": "web"}},
		{Kind: encoding.KindService, ID: 7},
	}}
	b, _ := d.AppendBinary(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var d encoding.LabelDelta
		for _, x := range [][]byte{in, resealDelta(in)} {
			n, err := encoding.ParseLabelDelta(x, &d)
			if err != nil {
				checkErr(t, err)
				continue
			}
			if n > len(x) {
				t.Fatalf("used %d of %d bytes", n, len(x))
			}
			encoding.NewLabels(0).Apply(&d)
		}
	})
}
