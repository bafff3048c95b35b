package jsonw

import (
	"math"
	"net/netip"
	"strconv"
	"testing"
)

func TestAppendUint(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 65535, 1 << 32, 1e15 - 1, 1e15, 1e19 - 1, 1e19, math.MaxUint64}
	for i := uint64(1); i < 1e19 && i*10 > i; i *= 10 {
		vals = append(vals, i-1, i, i+1)
	}
	for _, v := range vals {
		if got, want := string(AppendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Errorf("AppendUint(%d) = %q, want %q", v, got, want)
		}
		if got, want := string(AppendInt(nil, -int64(v>>1))), strconv.FormatInt(-int64(v>>1), 10); got != want {
			t.Errorf("AppendInt(%d) = %q, want %q", -int64(v>>1), got, want)
		}
	}
	if got := string(AppendInt(nil, math.MinInt64)); got != strconv.FormatInt(math.MinInt64, 10) {
		t.Errorf("AppendInt(MinInt64) = %q", got)
	}
}

func TestAppendAddrPort(t *testing.T) {
	for _, s := range []string{
		"::", "::1", "1::", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "2001:0:0:1::1", "fe80::1:2:3:4",
		"1:2:3:4:5:6:7:8", "0:1:0:1:0:1:0:1", "1:0:0:2:0:0:0:3", "::ffff:10.0.0.1", "fe80::1%eth0",
		"10.0.0.1", "255.255.255.255", "0.0.0.0", "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
	} {
		a := netip.MustParseAddr(s)
		if got, want := string(AppendAddr([]byte("x"), a)), "x"+a.String(); got != want {
			t.Errorf("AppendAddr(%s) = %q, want %q", s, got, want)
		}
		for _, p := range []uint16{0, 7, 80, 65535} {
			if got, want := string(AppendAddrPort(nil, a, p)), netip.AddrPortFrom(a, p).String(); got != want {
				t.Errorf("AppendAddrPort(%s, %d) = %q, want %q", s, p, got, want)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		b := make([]byte, 0, 64)
		_ = AppendAddrPort(b, netip.MustParseAddr("2001:db8::1"), 443)
	}); n != 0 {
		t.Errorf("AppendAddrPort allocates %v times", n)
	}
}

// FuzzAppendAddr checks the formatters against strconv and netip.
func FuzzAppendAddr(f *testing.F) {
	f.Add([]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(443), uint64(12345))
	f.Add(make([]byte, 16), uint16(0), uint64(0))
	f.Fuzz(func(t *testing.T, raw []byte, port uint16, v uint64) {
		var a16 [16]byte
		copy(a16[:], raw)
		for _, a := range []netip.Addr{netip.AddrFrom16(a16), netip.AddrFrom4([4]byte(a16[12:]))} {
			if got, want := string(AppendAddrPort(nil, a, port)), netip.AddrPortFrom(a, port).String(); got != want {
				t.Fatalf("AppendAddrPort(%v) = %q, want %q", a16, got, want)
			}
		}
		if got, want := string(AppendUint(nil, v)), strconv.FormatUint(v, 10); got != want {
			t.Fatalf("AppendUint(%d) = %q", v, got)
		}
	})
}
