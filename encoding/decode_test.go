package encoding_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// reseal fixes the payload length and checksum of a frame whose bytes were
// changed, so that decoding gets past them.
func reseal(f []byte) []byte {
	if len(f) < encoding.HeaderSize {
		return f
	}
	f = bytes.Clone(f)
	binary.LittleEndian.PutUint32(f[8:], uint32(len(f)-encoding.HeaderSize))
	tab := crc32.MakeTable(crc32.Castagnoli)
	c := crc32.Update(0, tab, f[:16])
	c = crc32.Update(c, tab, f[encoding.HeaderSize:])
	binary.LittleEndian.PutUint32(f[16:], c)
	return f
}

func encodeFrame(t testing.TB, cfg *encoding.EncoderConfig, l4s []*flow.Record, l7s []*l7.Record) []byte {
	enc, err := encoding.NewEncoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range l4s {
		enc.AddL4(r)
	}
	for _, r := range l7s {
		enc.AddL7(r)
	}
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDecoder_Errors(t *testing.T) {
	l4s, l7s := captureRecords(t)
	good := encodeFrame(t, &encoding.EncoderConfig{Compression: encoding.CompressS2}, l4s[:5], l7s[:5])
	zgood := encodeFrame(t, &encoding.EncoderConfig{Compression: encoding.CompressZstdBody}, l4s[:5], l7s[:5])
	// The default: packed columns, zstd where it pays.
	cz := encodeFrame(t, nil, l4s, l7s)
	old := encodeFrame(t, &encoding.EncoderConfig{Uvarints: true}, l4s[:5], l7s[:5]) // a 1.0 frame
	if good[6] != byte(encoding.FlagS2|encoding.FlagPacked) || zgood[6] != byte(encoding.FlagZstd|encoding.FlagPacked) ||
		cz[6] != byte(encoding.FlagColumnZstd|encoding.FlagPacked) || old[6] != byte(encoding.FlagZstd) || old[5] != 1 || cz[5] != 2 {
		t.Fatalf("flags %#x, %#x, %#x and %#x", good[6], zgood[6], cz[6], old[6])
	}
	for _, f := range [][]byte{good, zgood, cz, old} {
		if _, err := encoding.Decode(f); err != nil {
			t.Fatalf("frame with flags %#x: %v", f[6], err)
		}
	}
	raw := encodeFrame(t, &encoding.EncoderConfig{NoCompression: true}, l4s[:5], l7s[:5])
	if _, err := encoding.Decode(raw); err != nil {
		t.Fatalf("uncompressed frame: %v", err)
	}
	set := func(f []byte, i int, v byte) []byte { f = bytes.Clone(f); f[i] = v; return f }
	// A zstd bomb: 64 MiB of zeros in a small frame, claimed as small.
	bombBody := make([]byte, 64<<20)
	z, _ := zstd.NewWriter(nil)
	payload := z.EncodeAll(bombBody, nil)
	bomb := append(bytes.Clone(zgood[:encoding.HeaderSize]), payload...)
	binary.LittleEndian.PutUint32(bomb[12:], 100)
	bomb = reseal(bomb)
	// The same in S2: the block says 64 MiB, the header 100 bytes.
	s2bomb := append(bytes.Clone(good[:encoding.HeaderSize]), s2.Encode(nil, bombBody)...)
	binary.LittleEndian.PutUint32(s2bomb[12:], 100)
	s2bomb = reseal(s2bomb)
	// Both say 64 MiB, more than the decoder takes.
	s2big := bytes.Clone(s2bomb)
	binary.LittleEndian.PutUint32(s2big[12:], uint32(len(bombBody)))
	s2big = reseal(s2big)
	small, _ := encoding.NewDecoder(&encoding.DecoderConfig{MaxBodySize: 1 << 20})

	var fe *encoding.FormatError
	for _, tc := range []struct {
		name  string
		frame []byte
		dec   *encoding.Decoder
		want  error
	}{
		{"empty", nil, nil, encoding.ErrTruncated},
		{"magic", set(good, 0, 'X'), nil, encoding.ErrMagic},
		{"version", reseal(set(good, 4, 2)), nil, encoding.ErrVersion},
		{"required flag", reseal(set(good, 6, 0x81)), nil, encoding.ErrFlags},
		{"optional flag", reseal(set(good, 7, 0x80)), nil, nil},
		{"newer minor", reseal(set(good, 5, 9)), nil, nil},
		{"checksum", set(good, len(good)-1, good[len(good)-1]^1), nil, encoding.ErrChecksum},
		{"header checksum", set(good, 13, good[13]^1), nil, encoding.ErrChecksum},
		{"truncated", good[:len(good)-1], nil, encoding.ErrTruncated},
		{"trailing", append(bytes.Clone(good), 0), nil, encoding.ErrCorrupt},
		{"body length", reseal(set(raw, 12, raw[12]+1)), nil, encoding.ErrTruncated},
		{"body cut", reseal(raw[:len(raw)-3]), nil, encoding.ErrTruncated},
		{"zstd bomb", bomb, small, encoding.ErrTooLarge},
		{"frame too large", good, mustDecoder(t, &encoding.DecoderConfig{MaxFrameSize: 64}), encoding.ErrTooLarge},
		{"bad zstd", reseal(set(zgood, encoding.HeaderSize, 0xff)), nil, encoding.ErrCorrupt},
		{"s2 bomb", s2bomb, nil, encoding.ErrTooLarge},
		{"s2 too large", s2big, small, encoding.ErrTooLarge},
		{"s2 cut", reseal(good[:len(good)-1]), nil, encoding.ErrCorrupt},
		{"s2 length", reseal(set(good, 12, good[12]+1)), nil, encoding.ErrTruncated},
		{"two compressions", reseal(set(good, 6, byte(encoding.FlagS2|encoding.FlagZstd))), nil, encoding.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := tc.dec
			if dec == nil {
				dec = mustDecoder(t, nil)
			}
			var b encoding.Batch
			err := dec.Decode(tc.frame, &b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if errors.Is(err, encoding.ErrTruncated) && !errors.As(err, &fe) {
				t.Fatalf("%v is not a *FormatError", err)
			}
		})
	}
}

func mustDecoder(t testing.TB, cfg *encoding.DecoderConfig) *encoding.Decoder {
	d, err := encoding.NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDecoder_UnknownColumns checks the evolution rule: a column of an
// unknown type is kept raw, unknown names are kept, and the known columns
// still decode.
func TestDecoder_UnknownColumns(t *testing.T) {
	// A body by hand: epoch 0, version 0, no strings, one l4 table of two
	// rows with a known column, a column of an unknown type and an
	// unknown name.
	var body []byte
	body = append(body, 0, 0, 0, 1) // epoch, version, strings, tables
	body = append(body, 1, 2, 3)    // l4, 2 rows, 3 columns
	body = append(body, 7, 'f', 'l', 'o', 'w', '_', 'i', 'd', byte(encoding.ColDelta), 2, 10, 2)
	body = append(body, 4, 'n', 'e', 'w', '1', 200, 3, 1, 2, 3)
	body = append(body, 4, 'n', 'e', 'w', '2', byte(encoding.ColUvarint), 2, 5, 6)
	frame := make([]byte, encoding.HeaderSize)
	copy(frame, "MFEB\x01\x00")
	binary.LittleEndian.PutUint32(frame[12:], uint32(len(body)))
	frame = reseal(append(frame, body...))
	b, err := encoding.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	tb := &b.Tables[0]
	if c := tb.Column("new1"); c == nil || c.Raw != "\x01\x02\x03" {
		t.Fatalf("unknown column: %+v", c)
	}
	if c := tb.Column("new2"); c == nil || c.Uint(1) != 6 {
		t.Fatalf("unknown name: %+v", c)
	}
	var r flow.Record
	if err := tb.L4(1, nil, &r); err != nil || r.FlowID != 6 || r.PacketTx != 0 {
		t.Fatalf("row 1: %v flow %d", err, r.FlowID)
	}
}

// TestDecoder_Packed decodes hand-made 1.2 bodies: ColPacked blocks of
// every width, a ColZstd column and a zstd string table, and refuses their
// corruptions with the errors FORMAT.md names.
func TestDecoder_Packed(t *testing.T) {
	z, _ := zstd.NewWriter(nil)
	frameOf := func(flags uint16, body []byte) []byte {
		frame := make([]byte, encoding.HeaderSize)
		copy(frame, "MFEB\x01\x02")
		binary.LittleEndian.PutUint16(frame[6:], flags)
		binary.LittleEndian.PutUint32(frame[12:], uint32(len(body)))
		return reseal(append(frame, body...))
	}
	col := func(name string, typ byte, data []byte) []byte {
		b := append([]byte{byte(len(name))}, name...)
		b = append(b, typ)
		b = binary.AppendUvarint(b, uint64(len(data)))
		return append(b, data...)
	}
	// 130 rows: blocks of 64, 64 and 2.
	const rows = 130
	want := make([]uint64, rows)
	var start []byte
	start = append(start, byte(encoding.ColDelta))
	// Block 1: width 0, least 1,000,000 (zigzag 2,000,000).
	start = append(start, 0)
	start = binary.AppendUvarint(start, 2_000_000)
	for i := range 64 {
		want[i] = 1_000_000
	}
	// Block 2: width 3, least 1,000,000+5 (zigzag of +5: 10).
	start = append(start, 3, 10)
	for i := range 64 {
		v := uint32(i * 70000)
		start = append(start, byte(v), byte(v>>8), byte(v>>16))
		want[64+i] = 1_000_005 + uint64(v)
	}
	// Block 3: width 8, least 0 (zigzag of -1,000,005).
	start = append(start, 8)
	start = binary.AppendUvarint(start, 2_000_009)
	start = binary.LittleEndian.AppendUint64(start, 1<<63)
	start = binary.LittleEndian.AppendUint64(start, 7)
	want[128], want[129] = 1<<63, 7
	dur := []byte{byte(encoding.ColVarint), 1, 0} // block 1: width 1, least 0
	for i := range 64 {
		dur = append(dur, byte(i)) // zigzag: 0, -1, 1, -2 ...
	}
	dur = append(dur, 0, 0)       // block 2: width 0, least 0
	dur = append(dur, 1, 0, 3, 4) // block 3: width 1, least 0, zigzag 3 (-2), 4 (2)
	strs := []byte{1, 'a', 1, 'b'}
	zstrs := z.EncodeAll(strs, nil)
	proto := []byte{byte(encoding.ColString)}
	for b := 0; b < 3; b++ {
		n := min(64, rows-64*b)
		proto = append(proto, 1, 0)
		for i := range n {
			proto = append(proto, byte(i%3))
		}
	}
	zproto := binary.AppendUvarint(nil, uint64(len(proto)))
	zproto = append(zproto, z.EncodeAll(proto, nil)...)
	body := func(strTable []byte, cols ...[]byte) []byte {
		n := byte(2)
		if len(strTable) == 1 {
			n = 0
		}
		b := []byte{0, 0, n}
		b = append(b, strTable...)
		b = append(b, 1, byte(encoding.TableL4))
		b = binary.AppendUvarint(b, rows)
		b = append(b, byte(len(cols)))
		for _, c := range cols {
			b = append(b, c...)
		}
		return b
	}
	zTable := binary.AppendUvarint(nil, uint64(len(zstrs)))
	zTable = append(zTable, byte(len(strs)))
	zTable = append(zTable, zstrs...)
	good := body(zTable, col("start_time", byte(encoding.ColPacked), start), col("duration", byte(encoding.ColPacked), dur),
		col("l7_protocol", byte(encoding.ColPacked|encoding.ColZstd), zproto))
	flags := encoding.FlagPacked | encoding.FlagColumnZstd
	b, err := encoding.Decode(frameOf(flags, good))
	if err != nil {
		t.Fatal(err)
	}
	tb := &b.Tables[0]
	var r flow.Record
	for row := range rows {
		if err := tb.L4(row, nil, &r); err != nil {
			t.Fatal(err)
		}
		wantDur := int64(0)
		switch {
		case row < 64:
			wantDur = int64((row + 1) / 2)
			if row%2 == 1 {
				wantDur = -wantDur
			}
		case row == 128:
			wantDur = -2
		case row == 129:
			wantDur = 2
		}
		wantProto := []string{"", "a", "b"}[(row%64)%3]
		if uint64(r.StartTime) != want[row] || r.Duration != wantDur || r.L7Protocol != wantProto {
			t.Fatalf("row %d: start %d duration %d l7_protocol %q; want %d %d %q", row, r.StartTime, r.Duration, r.L7Protocol, want[row], wantDur, wantProto)
		}
	}
	if c := tb.Column("start_time"); c.Type != encoding.ColDelta {
		t.Fatalf("start_time decodes as type %d", c.Type)
	}

	cut := func(c []byte, n int) []byte { return c[:len(c)-n] }
	with := func(c []byte, i int, v byte) []byte { c = bytes.Clone(c); c[i] = v; return c }
	for _, tc := range []struct {
		name  string
		flags uint16
		body  []byte
		want  error
	}{
		{"no flag: unknown type kept", 0, body(strs, col("start_time", byte(encoding.ColPacked), start)), nil},
		{"width", flags, body([]byte{0}, col("start_time", byte(encoding.ColPacked), with(start, 1, 9))), encoding.ErrCorrupt},
		{"packed type", flags, body([]byte{0}, col("start_time", byte(encoding.ColPacked), with(start, 0, byte(encoding.ColAddr)))), encoding.ErrCorrupt},
		{"block cut", flags, body([]byte{0}, col("start_time", byte(encoding.ColPacked), cut(start, 1))), encoding.ErrTruncated},
		{"blocks missing", flags, body([]byte{0}, col("start_time", byte(encoding.ColPacked), start[:5])), encoding.ErrTruncated},
		{"trailing", flags, body([]byte{0}, col("start_time", byte(encoding.ColPacked), append(bytes.Clone(start), 0))), encoding.ErrCorrupt},
		{"string index", flags, body([]byte{0}, col("l7_protocol", byte(encoding.ColPacked|encoding.ColZstd), zproto)), encoding.ErrCorrupt},
		{"zstd cut", flags, body(zTable, col("l7_protocol", byte(encoding.ColPacked|encoding.ColZstd), cut(zproto, 2))), encoding.ErrCorrupt},
		{"zstd length", flags, body(zTable, col("l7_protocol", byte(encoding.ColPacked|encoding.ColZstd), with(zproto, 0, zproto[0]-1))), encoding.ErrCorrupt},
		{"string table cut", flags, body(cut(zTable, 1)), encoding.ErrCorrupt},
		{"string table length", flags, body(with(zTable, 1, 3)), encoding.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := encoding.Decode(frameOf(tc.flags, tc.body))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// resealDelta fixes the length and checksum of a delta whose bytes were
// changed.
func resealDelta(b []byte) []byte {
	if len(b) < 12 {
		return b
	}
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-12))
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestFrameLen(t *testing.T) {
	l4s, l7s := captureRecords(t)
	f := encodeFrame(t, nil, l4s[:3], l7s[:3])
	stream := append(bytes.Clone(f), f...)
	n, err := encoding.FrameLen(stream, 0)
	if err != nil || n != len(f) {
		t.Fatalf("FrameLen = %d, %v; want %d", n, err, len(f))
	}
	if _, err := encoding.FrameLen(f[:10], 0); !errors.Is(err, encoding.ErrTruncated) {
		t.Fatalf("short header: %v", err)
	}
	if _, err := encoding.FrameLen(f, 32); !errors.Is(err, encoding.ErrTooLarge) {
		t.Fatalf("limit: %v", err)
	}
}

// TestDictionary_ResolveUnknownID: ids the dictionary never assigned are
// refused, even in the right epoch.
func TestDictionary_ResolveUnknownID(t *testing.T) {
	a := encoding.NewDictionary(&encoding.DictConfig{Epoch: 5})
	a.Assign("pod", "a")
	a.Assign("pod", "b")
	agent := encoding.NewAgentDict()
	if err := agent.Apply(a.Sync(0, 0)); err != nil {
		t.Fatal(err)
	}
	b := encoding.NewDictionary(&encoding.DictConfig{Epoch: 5})
	b.Assign("service", "x")
	b.Assign("service", "y")
	b.Assign("service", "z")
	r := &flow.Record{FlowID: 1}
	r.Tags.Add(0, "pod", "b")
	frame := encodeFrame(t, &encoding.EncoderConfig{Dict: agent}, []*flow.Record{r}, nil)
	batch, err := encoding.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Resolve(batch); !errors.Is(err, encoding.ErrUnknownID) {
		t.Fatalf("Resolve = %v, want ErrUnknownID", err)
	}
	batch, _ = encoding.Decode(frame)
	if err := a.Resolve(batch); err != nil {
		t.Fatal(err)
	}
	if c := batch.Tables[len(batch.Tables)-1].Column("pod_id_0"); c == nil || c.IDs[0] != 2 {
		t.Fatalf("pod_id_0: %+v", c)
	}
}
