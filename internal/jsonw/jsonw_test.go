package jsonw

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
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

// quoteRef is Quote as it was before its eight-byte fast path: the
// reference the fast path must match byte for byte.
func quoteRef(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		size := validRuneLen(s[i:])
		if size == 0 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func TestQuote_MatchesReference(t *testing.T) {
	var in []string
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 17; pos++ {
			s := []byte(strings.Repeat("abcdefgh", 3))
			s[pos] = byte(c)
			in = append(in, string(s[:pos+1]), string(s))
		}
	}
	in = append(in, "", "GET /index.html HTTP/1.1", "héllo 世界 and more text", "x\xe4\xb8", strings.Repeat("\"\\", 9))
	for _, s := range in {
		if got, want := Quote(nil, s), quoteRef(nil, s); string(got) != string(want) {
			t.Fatalf("Quote(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzQuote_Reference(f *testing.F) {
	f.Add("a\"b\\c\x00\xff世 0123456789abcdef\x7f")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Quote(nil, s), quoteRef(nil, s); string(got) != string(want) {
			t.Fatalf("Quote(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestAppendTime_MatchesTime(t *testing.T) {
	ns := []int64{0, 1, -1, 999_999_999, -999_999_999, 1e9, -1e9, 86399_999_999_999, -86400_000_000_000,
		1_700_000_000_123_456_789, 951_782_400e9, 4_107_542_400e9 - 1, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		ns = append(ns, int64(r.Uint64()))
	}
	for _, v := range ns {
		want := time.Unix(0, v).UTC().AppendFormat(nil, TimeLayout)
		if got := AppendTime(nil, v); string(got) != string(want) {
			t.Fatalf("AppendTime(%d) = %s, want %s", v, got, want)
		}
	}
}

func FuzzAppendTime(f *testing.F) {
	f.Add(int64(1_700_000_000_123_456_789))
	f.Fuzz(func(t *testing.T, v int64) {
		want := time.Unix(0, v).UTC().AppendFormat(nil, TimeLayout)
		if got := AppendTime(nil, v); string(got) != string(want) {
			t.Fatalf("AppendTime(%d) = %s, want %s", v, got, want)
		}
	})
}

func TestAppendAddrPort_MatchesNetip(t *testing.T) {
	addrs := []netip.Addr{{}, netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"),
		netip.MustParseAddr("10.0.100.9"), netip.MustParseAddr("::ffff:1.2.3.4"), netip.MustParseAddr("2001:db8::1")}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 100000; i++ {
		var v [4]byte
		for j := range v {
			v[j] = byte(r.Uint32())
		}
		addrs = append(addrs, netip.AddrFrom4(v))
	}
	for i, a := range addrs {
		port := uint16(i * 7919)
		if got, want := string(AppendAddr(nil, a)), string(a.AppendTo(nil)); got != want {
			t.Fatalf("AppendAddr(%v) = %s, want %s", a, got, want)
		}
		if got, want := string(AppendAddrPort(nil, a, port)), string(netip.AddrPortFrom(a, port).AppendTo(nil)); got != want {
			t.Fatalf("AppendAddrPort(%v, %d) = %s, want %s", a, port, got, want)
		}
	}
}

// TestAppendTime_Cache formats runs of times within a minute (cache hits)
// from several goroutines at once, their minutes chosen to share cache
// entries, and checks every result against the time package.
func TestAppendTime_Cache(t *testing.T) {
	const workers = 4
	errs := make(chan string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			var b []byte
			for i := 0; i < 20000; i++ {
				// Minutes 64 apart map to the same entry.
				min := int64(29_000_000 + 64*(i%5+w*5))
				ns := min*60e9 + int64(r.Uint64N(60e9))
				b = AppendTime(b[:0], ns)
				if want := time.Unix(0, ns).UTC().Format(TimeLayout); string(b) != want {
					errs <- fmt.Sprintf("AppendTime(%d) = %s, want %s", ns, b, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
