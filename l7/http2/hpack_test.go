package http2

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// collect is a fieldSink that keeps copies of the fields; it wants
// every value but those of fields named skip.
type collect struct {
	got  []string
	skip string
}

func (c *collect) wants(name []byte) bool { return c.skip == "" || string(name) != c.skip }

func (c *collect) field(name, value []byte) {
	switch {
	case name == nil && value == nil:
		c.got = append(c.got, "?")
	case name == nil:
		c.got = append(c.got, "?: "+string(value))
	default:
		c.got = append(c.got, string(name)+": "+string(value))
	}
}

// TestHPACK_StaticTable checks the static table against x/net's encoder,
// which emits an indexed field for each exact static entry.
func TestHPACK_StaticTable(t *testing.T) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	var d hpackDecoder
	var sc byteSink
	d.init(DefaultMaxTableSize)
	for i, e := range staticTable {
		name := string(staticBytes[e.no : e.no+e.nl])
		value := string(staticBytes[e.vo : e.vo+e.vl])
		buf.Reset()
		enc.WriteField(hpack.HeaderField{Name: name, Value: value})
		if buf.Len() != 1 || int(buf.Bytes()[0]&0x7f) != i+1 {
			t.Errorf("entry %d %s: %s: x/net encodes % x", i+1, name, value, buf.Bytes())
		}
		var c collect
		if _, err := d.decode(buf.Bytes(), &c, &sc, DefaultMaxTableSize); err != nil || len(c.got) != 1 || c.got[0] != name+": "+value {
			t.Errorf("entry %d: decoded %q, %v", i+1, c.got, err)
		}
	}
}

// TestHPACK_Encoder decodes random header lists that x/net's encoder
// wrote (literals, Huffman strings, dynamic table references, evictions
// and size updates) and compares them with what was encoded; with idle,
// the decoder packs its table (as an idle connection's does) after every
// block but one in three, and lays it out again at the next. With skip,
// the sink does not want the fields of one name, whose values the table
// then does not keep: the other fields must come out the same.
func TestHPACK_Encoder(t *testing.T) {
	for _, idle := range []bool{false, true} {
		for _, skip := range []string{"", "x-custom", "cookie"} {
			t.Run(fmt.Sprintf("idle=%v,skip=%s", idle, skip), func(t *testing.T) { testEncoder(t, idle, skip) })
		}
	}
}

func testEncoder(t *testing.T, idle bool, skip string) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{":method", ":path", ":authority", "content-type", "x-custom", "grpc-status", "user-agent", "cookie", "x-b3-traceid"}
	for _, tableSize := range []uint32{0, 64, 256, 4096, 20000} {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		enc.SetMaxDynamicTableSizeLimit(tableSize)
		enc.SetMaxDynamicTableSize(tableSize)
		var d, eager hpackDecoder // eager: a sink wanting every value
		var sc, esc byteSink
		d.init(DefaultMaxTableSize)
		eager.init(DefaultMaxTableSize)
		for block := range 300 {
			buf.Reset()
			var want []string
			for range 1 + r.IntN(8) {
				f := hpack.HeaderField{Name: names[r.IntN(len(names))], Value: fmt.Sprintf("v%d", r.IntN(20))}
				if r.IntN(4) == 0 {
					f.Value += string(bytes.Repeat([]byte{'x'}, r.IntN(100)))
				}
				if tableSize > 4096 && r.IntN(8) == 0 {
					f.Value += string(bytes.Repeat([]byte{'y'}, r.IntN(3000)))
				}
				f.Sensitive = r.IntN(10) == 0
				enc.WriteField(f)
				if f.Name != skip {
					want = append(want, f.Name+": "+f.Value)
				}
			}
			c := collect{skip: skip}
			if _, err := d.decode(buf.Bytes(), &c, &sc, DefaultMaxTableSize); err != nil {
				t.Fatalf("size %d block %d: %v", tableSize, block, err)
			}
			if fmt.Sprint(c.got) != fmt.Sprint(want) {
				t.Fatalf("size %d block %d: got %q, want %q", tableSize, block, c.got, want)
			}
			if _, err := eager.decode(buf.Bytes(), &collect{}, &esc, DefaultMaxTableSize); err != nil {
				t.Fatal(err)
			}
			if d.n != eager.n || d.size != eager.size {
				t.Fatalf("size %d block %d: %d entries, size %d; wanting every value: %d, %d", tableSize, block, d.n, d.size, eager.n, eager.size)
			}
			if idle && block%3 != 0 {
				d.idle()
				if d.w != nil {
					t.Fatalf("size %d block %d: idle kept the ring", tableSize, block)
				}
			}
		}
	}
}

// TestHPACK_MidStream decodes blocks of an encoder whose first blocks were
// never seen: references to entries inserted before are unknown, later
// insertions and literals are exact, and nothing is ever wrong.
func TestHPACK_MidStream(t *testing.T) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	block := func(kv ...string) []byte {
		buf.Reset()
		for i := 0; i < len(kv); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	block(":path", "/seen-before", "x-old", "1") // lost
	var d hpackDecoder
	var sc byteSink
	d.init(DefaultMaxTableSize)
	var c collect
	unknown, err := d.decode(block(":method", "GET", ":path", "/seen-before", "x-new", "2", "x-old", "1"), &c, &sc, DefaultMaxTableSize)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{":method: GET", "?", "x-new: 2", "?"}
	if fmt.Sprint(c.got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", c.got, want)
	}
	c.got = nil
	u2, _ := d.decode(block("x-new", "2", "x-old", "3", ":path", "/seen-before"), &c, &sc, DefaultMaxTableSize)
	unknown += u2
	want = []string{"x-new: 2", "?: 3", "?"} // x-old's name is the lost entry's
	if fmt.Sprint(c.got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", c.got, want)
	}
	if unknown != 4 {
		t.Errorf("unknown %d, want 4", unknown)
	}
}

func TestHPACK_Malformed(t *testing.T) {
	for _, b := range [][]byte{
		{0x80},                   // index 0
		{0xff, 0xff, 0xff, 0xff}, // integer cut
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // integer overflow
		{0x40, 0x05, 'a'},  // string cut
		{0x00, 0x81, 0xff}, // bad Huffman
	} {
		var d hpackDecoder
		d.init(DefaultMaxTableSize)
		if _, err := d.decode(b, &collect{}, new(byteSink), DefaultMaxTableSize); err == nil {
			t.Errorf("% x: no error", b)
		}
	}
}

func TestReadInt(t *testing.T) {
	// RFC 7541, C.1.
	for _, tc := range []struct {
		b      []byte
		prefix uint8
		want   uint64
	}{
		{[]byte{0x0a}, 5, 10},
		{[]byte{0x1f, 0x9a, 0x0a}, 5, 1337},
		{[]byte{0x2a}, 8, 42},
	} {
		v, rest, ok := readInt(tc.b, tc.prefix)
		if !ok || v != tc.want || len(rest) != 0 {
			t.Errorf("readInt(% x, %d) = %d, %v", tc.b, tc.prefix, v, ok)
		}
	}
}
