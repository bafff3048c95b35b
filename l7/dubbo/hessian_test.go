package dubbo

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// Encodings from the Hessian 2.0 serialization specification's grammar
// and examples (http://hessian.caucho.com/doc/hessian-serialization.html).

func TestHreader_Int(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want int64
	}{
		{[]byte{0x90}, 0}, {[]byte{0x80}, -16}, {[]byte{0xbf}, 47},
		{[]byte{0xc8, 0x00}, 0}, {[]byte{0xc0, 0x00}, -2048}, {[]byte{0xcf, 0xff}, 2047},
		{[]byte{0xd4, 0x00, 0x00}, 0}, {[]byte{0xd0, 0x00, 0x00}, -262144}, {[]byte{0xd7, 0xff, 0xff}, 262143},
		{[]byte{'I', 0x00, 0x00, 0x01, 0x00}, 256}, {[]byte{'I', 0xff, 0xff, 0xff, 0xff}, -1},
		{[]byte{0xe0}, 0}, {[]byte{0xd8}, -8}, {[]byte{0xef}, 15},
		{[]byte{0xf8, 0x00}, 0}, {[]byte{0xf0, 0x00}, -2048}, {[]byte{0xff, 0xff}, 2047},
		{[]byte{0x3c, 0x00, 0x00}, 0}, {[]byte{0x38, 0x00, 0x00}, -262144}, {[]byte{0x3f, 0xff, 0xff}, 262143},
		{[]byte{'Y', 0x00, 0x00, 0x01, 0x2c}, 300}, {[]byte{'L', 0, 0, 0, 0, 0, 0, 0x01, 0x2c}, 300},
	} {
		r := hreader{b: tc.in}
		if got, ok := r.int(); !ok || got != tc.want || len(r.b) != 0 {
			t.Errorf("int(% x) = %d, %v, left %d; want %d", tc.in, got, ok, len(r.b), tc.want)
		}
	}
	r := hreader{b: []byte{'I', 0}}
	if _, ok := r.int(); ok || !r.bad {
		t.Errorf("short int read")
	}
}

func TestHreader_Str(t *testing.T) {
	long := strings.Repeat("x", 1100)
	medium := strings.Repeat("é", 500) // 2 bytes, 1 unit each
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", []byte{0x00}, ""},
		{"short", hstr("hello"), "hello"},
		{"medium multi-byte", hstr(medium), medium},
		{"S form", hstr(long), long},
		{"null", []byte{'N'}, ""},
		{"chunked", hchunked("ab", "cd", "ef"), "abcdef"},
		{"surrogates as Java writes them", []byte{0x02, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80}, "\xed\xa0\xbd\xed\xb8\x80"},
	} {
		r := hreader{b: cat(tc.in, hstr("end")), arena: make([]byte, 0, 64)}
		got, ok := r.str()
		if !ok || string(got) != tc.want {
			t.Errorf("%s: str = %q, %v", tc.name, got, ok)
		}
		if end, _ := r.str(); string(end) != "end" {
			t.Errorf("%s: next value %q, want end", tc.name, end)
		}
	}
	// A chunked string longer than the arena is cut at its size.
	r := hreader{b: hchunked("abcd", "efgh"), arena: make([]byte, 0, 6)}
	if got, ok := r.str(); !ok || string(got) != "abcdef" {
		t.Errorf("cut chunked = %q, %v", got, ok)
	}
	r = hreader{b: []byte{0x91}}
	if _, ok := r.str(); ok || len(r.b) != 1 {
		t.Errorf("an int read as a string")
	}
}

func TestHreader_Skip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"null true false", []byte{'N'}},
		{"true", []byte{'T'}},
		{"double 0 and 1", []byte{0x5b}},
		{"double byte", []byte{0x5d, 0x01}},
		{"double short", []byte{0x5e, 0x00, 0x80}},
		{"double float", []byte{0x5f, 0, 0, 0, 0}},
		{"double", []byte{'D', 0x40, 0x28, 0x80, 0, 0, 0, 0, 0}},
		{"date", []byte{0x4a, 0x00, 0x00, 0x00, 0xd0, 0x4b, 0x92, 0x84, 0xb8}},
		{"date minutes", []byte{0x4b, 0x00, 0xe3, 0x83, 0x8f}},
		{"short binary", []byte{0x23, 1, 2, 3}},
		{"medium binary", []byte{0x34, 0x05, 1, 2, 3, 4, 5}},
		{"chunked binary", []byte{'A', 0x00, 0x02, 'x', 'y', 'B', 0x00, 0x01, 'z'}},
		{"chunked binary, short final", []byte{'A', 0x00, 0x01, 'x', 0x21, 'y'}},
		{"ref", []byte{'Q', 0x90}},
		{"variable typed list", cat([]byte{'U'}, hstr("[int"), []byte{0x91, 0x92, 'Z'})},
		{"fixed typed list", cat([]byte{'V'}, hstr("[int"), []byte{0x92, 0x91, 0x92})},
		{"fixed list, type ref", []byte{'V', 0x90, 0x91, 0x91}},
		{"variable untyped list", []byte{'W', 0x91, 'Z'}},
		{"fixed untyped list", []byte{'X', 0x91, 0x91}},
		{"short typed list", cat([]byte{0x72}, hstr("[int"), []byte{0x91, 0x92})},
		{"short untyped list", []byte{0x7a, 0x91, 0x92}},
		{"typed map", cat([]byte{'M'}, hstr("java.util.HashMap"), hstr("a"), []byte{0x91, 'Z'})},
		{"untyped map", cat([]byte{'H', 0x91}, hstr("x"), []byte{'Z'})},
		{"object", cat([]byte{'C'}, hstr("Car"), []byte{0x92}, hstr("color"), hstr("model"),
			[]byte{'O', 0x90}, hstr("red"), hstr("corvette"))},
		{"nested", cat([]byte{'H'}, hstr("k"), []byte{0x79, 'H', 0x91, 0x7a, 'N', 'T', 'Z', 'Z'})},
	} {
		r := hreader{b: cat(tc.in, hstr("end"))}
		r.skip()
		if end, ok := r.str(); !ok || string(end) != "end" || r.bad {
			t.Errorf("%s: after skip, %q %v (bad %v)", tc.name, end, ok, r.bad)
		}
	}
	// A second object of a class defined earlier in the message.
	r := hreader{b: cat([]byte{'C'}, hstr("Car"), []byte{0x91}, hstr("color"), []byte{0x60}, hstr("red"), []byte{0x60}, hstr("blue"))}
	r.skip()
	r.skip()
	if r.bad || len(r.b) != 0 {
		t.Errorf("two objects of one class: bad %v, left %d", r.bad, len(r.b))
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"too deep", cat(bytesOf(0x79, 40), []byte{'N'})},
		{"unknown code", []byte{0x40}},
		{"undefined class", []byte{0x61}},
		{"list longer than input", []byte{'X', 0xbf, 0x91}},
		{"truncated", []byte{'D', 0, 0}},
	} {
		r := hreader{b: tc.in}
		r.skip()
		if !r.bad {
			t.Errorf("%s: not bad", tc.name)
		}
	}
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func TestParamCount(t *testing.T) {
	for desc, want := range map[string]int{
		"": 0, "I": 1, "Ljava/lang/String;": 1, "Ljava/lang/String;I[J": 3,
		"[[Ljava/lang/Object;Z": 2, "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;": 3,
	} {
		if got := paramCount([]byte(desc)); got != want {
			t.Errorf("paramCount(%q) = %d, want %d", desc, got, want)
		}
	}
}

// TestHreader_ManyClasses defines more classes than a reader holds itself
// (inlineClasses): the later ones go to the Parser's scratch, or to a
// table of its own for a reader built alone, and Idle clears them.
func TestHreader_ManyClasses(t *testing.T) {
	var defs, objs []byte
	for i := 0; i < inlineClasses+3; i++ {
		name := string(rune('A' + i))
		defs = cat(defs, []byte{'C'}, hstr("Class"+name), hint(1), hstr("f"))
		objs = cat(objs, []byte{0x60 + byte(i)}, hstr("v"+name))
	}
	r := hreader{b: cat(defs, objs, hstr("end"))}
	for i := 0; i < inlineClasses+3; i++ {
		r.skip()
	}
	if end, ok := r.str(); !ok || string(end) != "end" || r.bad || r.ncls != inlineClasses+3 {
		t.Fatalf("alone: %q %v bad %v, %d classes", end, ok, r.bad, r.ncls)
	}
	if string(r.object(0x60+inlineClasses+2).name) != "ClassG" {
		t.Errorf("alone: class %d is %q", inlineClasses+2, r.object(0x60+inlineClasses+2).name)
	}

	// An exception whose class is defined after inlineClasses others.
	exc := cat(hint(0), defs, []byte{'C'}, hstr("java.lang.IllegalStateException"), hint(2), hstr("cause"),
		hstr("detailMessage"), []byte{0x60 + inlineClasses + 3}, []byte{'N'}, hstr("no way"))
	d := New(nil)
	p := d.NewParser(l7.TCP).(*Parser)
	var m l7.Message
	if n := l7test.ParseAll(p, frame(0x02, 20, 9, exc), l7.ToClient, &m); n != 1 {
		t.Fatalf("%d messages", n)
	}
	if got := string(m.Exception); got != "java.lang.IllegalStateException: no way" || d.Stats().BodyErrors != 0 {
		t.Errorf("exception %q, stats %+v", got, d.Stats())
	}
	sc := p.sc
	if sc == nil || p.ncls != inlineClasses+4 {
		t.Fatalf("scratch %v", sc)
	}
	p.Idle()
	if p.ncls != 0 || sc.classes[inlineClasses].name != nil || p.sc != nil {
		t.Errorf("after Idle: %d classes, %q, scratch %v", p.ncls, sc.classes[inlineClasses].name, p.sc)
	}
}

// TestUtf8Len compares utf8Len with a byte-at-a-time count on text of
// every length up to 24 units with one multi-byte character at each place,
// within longer and exactly sized buffers.
func TestUtf8Len(t *testing.T) {
	slow := func(b []byte, n int) int {
		i := 0
		for ; n > 0; n-- {
			if i >= len(b) {
				return -1
			}
			switch c := b[i]; {
			case c < 0x80:
				i++
			case c&0xe0 == 0xc0:
				i += 2
			case c&0xf0 == 0xe0:
				i += 3
			default:
				i += 4
				n--
			}
		}
		if i > len(b) {
			return -1
		}
		return i
	}
	for n := 0; n <= 24; n++ {
		for at := -1; at < n; at++ {
			for _, ch := range []string{"é", "€", "😀"} {
				text := strings.Repeat("a", n)
				if at >= 0 {
					text = text[:at] + ch + text[at+1:]
				}
				for _, b := range [][]byte{[]byte(text), []byte(text + "tail-of-buffer"), []byte(text)[:max(0, len(text)-1)]} {
					for _, units := range []int{n, n + 1, max(0, n-1)} {
						if got, want := utf8Len(b, units), slow(b, units); got != want {
							t.Errorf("utf8Len(%q, %d) = %d, want %d", b, units, got, want)
						}
					}
				}
			}
		}
	}
}
