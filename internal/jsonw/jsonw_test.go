package jsonw

import (
	"encoding/json"
	"testing"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "GET /a?b=c", "GET /a?b=c"},
		{"escapes", "a\"b\\c\n\r\t\x01\x7f", "a\"b\\c\n\r\t\x01\x7f"},
		{"utf8", "héllo 世界", "héllo 世界"},
		{"invalid", "a\xffb\xc3", "a\ufffdb\ufffd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Quote(nil, tc.in)
			var got string
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Quote(%q) = %s: not JSON: %v", tc.in, b, err)
			}
			if got != tc.want {
				t.Fatalf("Quote(%q) decodes to %q, want %q", tc.in, got, tc.want)
			}
			if bb := Quote(nil, []byte(tc.in)); string(bb) != string(b) {
				t.Fatalf("Quote of bytes %s differs from Quote of string %s", bb, b)
			}
		})
	}
}

func TestMembers(t *testing.T) {
	b := []byte(`{"type":"x"`)
	b = Uint(b, "u", 42)
	b = Int(b, "i", -7)
	b = Bool(b, "ok", true)
	b = String(b, "s", "v")
	b = OmitEmpty(b, "empty", "")
	b = OmitEmpty(b, "bytes", []byte("w"))
	b = Time(b, "t", 1_700_000_000_123_456_789)
	b = append(b, '}')
	want := `{"type":"x","u":42,"i":-7,"ok":true,"s":"v","bytes":"w","t":"2023-11-14T22:13:20.123456789Z"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	n := testing.AllocsPerRun(100, func() {
		b := String(buf[:0], "k", "a\"b\xff")
		b = Time(b, "t", 1)
		_ = Uint(b, "u", 1)
	})
	if n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

func FuzzQuote(f *testing.F) {
	f.Add("a\"b\\c\x00\xff世")
	f.Fuzz(func(t *testing.T, s string) {
		var v string
		if err := json.Unmarshal(Quote(nil, s), &v); err != nil {
			t.Fatalf("Quote(%q) is not JSON: %v", s, err)
		}
	})
}
