package jsonw

import (
	"math"
	"net/netip"
	"strconv"
	"testing"
)

// put runs a PutX at offset 1 of a buffer of exactly the room it may use
// (plus one byte before it that must survive) and returns its text.
func put(t testing.TB, room int, f func(b []byte, n int) int) string {
	t.Helper()
	b := make([]byte, 1+room)
	b[0] = 'x'
	n := f(b, 1)
	if b[0] != 'x' || n < 1 || n > len(b)-PutSlack {
		t.Fatalf("wrote before its offset or past its room: end %d of %d", n, len(b))
	}
	return string(b[1:n])
}

// scaledRef is what PutScaled must write: the shortest decimal of the
// float, for v below 10^15.
func scaledRef(v uint64, k int) string {
	return strconv.FormatFloat(float64(v)/float64(pow10[k]), 'f', -1, 64)
}

func TestPutUint(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 65535, 1 << 32, 1e15 - 1, 1e15, 1e19 - 1, 1e19, math.MaxUint64}
	for i := uint64(1); i < 1e19 && i*10 > i; i *= 10 {
		vals = append(vals, i-1, i, i+1)
	}
	for _, v := range vals {
		if got, want := put(t, MaxUintLen+PutSlack, func(b []byte, n int) int { return PutUint(b, n, v) }), strconv.FormatUint(v, 10); got != want {
			t.Errorf("PutUint(%d) = %q, want %q", v, got, want)
		}
		for _, s := range []int64{int64(v), -int64(v), int64(v >> 1), -int64(v >> 1)} {
			if got, want := put(t, MaxIntLen+PutSlack, func(b []byte, n int) int { return PutInt(b, n, s) }), strconv.FormatInt(s, 10); got != want {
				t.Errorf("PutInt(%d) = %q, want %q", s, got, want)
			}
		}
		for k := range 8 {
			got := put(t, MaxScaledLen+PutSlack, func(b []byte, n int) int { return PutScaled(b, n, v, k) })
			if v < 1e15 {
				if want := scaledRef(v, k); got != want {
					t.Errorf("PutScaled(%d, %d) = %q, want %q", v, k, got, want)
				}
			}
			if back, err := strconv.ParseUint(stripPoint(got, k), 10, 64); err != nil || back != v {
				t.Errorf("PutScaled(%d, %d) = %q: reads back as %d (%v)", v, k, got, back, err)
			}
		}
	}
	if got := put(t, MaxIntLen+PutSlack, func(b []byte, n int) int { return PutInt(b, n, math.MinInt64) }); got != strconv.FormatInt(math.MinInt64, 10) {
		t.Errorf("PutInt(MinInt64) = %q", got)
	}
}

// stripPoint returns the integer that s, PutScaled's text of v/10^k, is
// v of: the point removed and the trailing zeros it dropped restored.
func stripPoint(s string, k int) string {
	frac := 0
	for i := range len(s) {
		if s[i] == '.' {
			frac = len(s) - i - 1
			s = s[:i] + s[i+1:]
			break
		}
	}
	for ; frac < k; frac++ {
		s += "0"
	}
	return s
}

func TestPutAddrPort(t *testing.T) {
	for _, s := range []string{
		"::", "::1", "1::", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "2001:0:0:1::1", "fe80::1:2:3:4",
		"1:2:3:4:5:6:7:8", "0:1:0:1:0:1:0:1", "1:0:0:2:0:0:0:3", "::ffff:255.255.255.255", "fe80::1%eth0",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%zone", "10.0.0.1", "255.255.255.255", "0.0.0.0",
		"abcd:ef01:2345:6789:abcd:ef01:2345:6789",
	} {
		a := netip.MustParseAddr(s)
		for _, p := range []uint16{0, 7, 10, 80, 999, 1000, 9999, 10000, 65535} {
			room := MaxAddrPortLen + len(a.Zone()) + PutSlack
			if got, want := put(t, room, func(b []byte, n int) int { return PutAddrPort(b, n, a, p) }), string(netip.AddrPortFrom(a, p).AppendTo(nil)); got != want {
				t.Errorf("PutAddrPort(%s, %d) = %q, want %q", s, p, got, want)
			}
		}
	}
	if got := put(t, MaxAddrPortLen+PutSlack, func(b []byte, n int) int { return PutAddrPort(b, n, netip.Addr{}, 1) }); got != "" {
		t.Errorf("PutAddrPort(invalid) = %q, want nothing (as AppendTo)", got)
	}
}

func TestPut_Allocs(t *testing.T) {
	b := make([]byte, 256)
	a4, a6 := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::1")
	if n := testing.AllocsPerRun(100, func() {
		n := PutUint(b, 0, 12345678901)
		n = PutInt(b, n, -42)
		n = PutScaled(b, n, 7045, 3)
		n = PutAddrPort(b, n, a4, 443)
		PutAddrPort(b, n, a6, 443)
	}); n != 0 {
		t.Errorf("PutX allocate %v times", n)
	}
}

// FuzzPut holds the writers at offsets to strconv and netip.
func FuzzPut(f *testing.F) {
	f.Add([]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "", uint16(443), uint64(12345), uint8(3))
	f.Add(make([]byte, 16), "eth0", uint16(0), uint64(0), uint8(6))
	f.Add([]byte{10, 0, 0, 1}, "", uint16(65535), uint64(math.MaxUint64), uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, zone string, port uint16, v uint64, k uint8) {
		var a16 [16]byte
		copy(a16[:], raw)
		a6 := netip.AddrFrom16(a16)
		if a6.Is6() && !a6.Is4In6() && len(raw) > 16 {
			a6 = a6.WithZone(zone)
		}
		for _, a := range []netip.Addr{a6, netip.AddrFrom4([4]byte(a16[12:]))} {
			room := MaxAddrPortLen + len(a.Zone()) + PutSlack
			if got, want := put(t, room, func(b []byte, n int) int { return PutAddrPort(b, n, a, port) }), string(netip.AddrPortFrom(a, port).AppendTo(nil)); got != want {
				t.Fatalf("PutAddrPort(%v) = %q, want %q", a, got, want)
			}
		}
		if got, want := put(t, MaxUintLen+PutSlack, func(b []byte, n int) int { return PutUint(b, n, v) }), strconv.FormatUint(v, 10); got != want {
			t.Fatalf("PutUint(%d) = %q", v, got)
		}
		if got, want := put(t, MaxIntLen+PutSlack, func(b []byte, n int) int { return PutInt(b, n, int64(v)) }), strconv.FormatInt(int64(v), 10); got != want {
			t.Fatalf("PutInt(%d) = %q", int64(v), got)
		}
		kk := int(k % 8)
		got := put(t, MaxScaledLen+PutSlack, func(b []byte, n int) int { return PutScaled(b, n, v, kk) })
		if v < 1e15 {
			if want := scaledRef(v, kk); got != want {
				t.Fatalf("PutScaled(%d, %d) = %q, want %q", v, kk, got, want)
			}
		}
		if back, err := strconv.ParseUint(stripPoint(got, kk), 10, 64); err != nil || back != v {
			t.Fatalf("PutScaled(%d, %d) = %q: reads back as %d (%v)", v, kk, got, back, err)
		}
	})
}

func TestPutString(t *testing.T) {
	src := "0123456789abcdefghijklmnopqrstuvwxyz"
	for l := range len(src) + 1 {
		s := src[:l]
		if got := put(t, l+PutSlack, func(b []byte, n int) int { return PutString(b, n, s) }); got != s {
			t.Errorf("PutString(%q) = %q", s, got)
		}
		if got := put(t, l+PutSlack, func(b []byte, n int) int { return PutString(b, n, []byte(s)) }); got != s {
			t.Errorf("PutString([]byte %q) = %q", s, got)
		}
		if l <= 24 {
			w, ok := MakeWords(s)
			if got := put(t, 24+PutSlack, func(b []byte, n int) int { return PutWords(b, n, &w) }); !ok || got != s {
				t.Errorf("PutWords(%q) = %q, %v", s, got, ok)
			}
		} else if _, ok := MakeWords(s); ok {
			t.Errorf("MakeWords(%q) took %d bytes", s, l)
		}
		if l <= 8 {
			w := MakeWord(s)
			if got := put(t, 8+PutSlack, func(b []byte, n int) int { return PutWord(b, n, w) }); got != s {
				t.Errorf("PutWord(%q) = %q", s, got)
			}
		}
	}
}
