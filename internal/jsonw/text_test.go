package jsonw_test

import (
	"bytes"
	"math"
	"net/netip"
	"strconv"
	"testing"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// The reference text encoders: the records' AppendText methods as they
// were before they wrote at offsets into a buffer grown once per line,
// with strconv and netip in place of this package's writers (which their
// own tests hold to strconv and netip). The records' text must stay
// byte-identical to theirs.

// refL4Text is flow.Record.AppendText's reference.
func refL4Text(b []byte, r *flow.Record) []byte {
	b = append(b, "flow "...)
	b = strconv.AppendUint(b, r.FlowID, 10)
	b = append(b, ' ')
	b = append(b, flow.ProtocolName(r.Protocol)...)
	b = append(b, ' ')
	b = netip.AddrPortFrom(r.IP0, r.ClientPort).AppendTo(b)
	b = append(b, " -> "...)
	b = netip.AddrPortFrom(r.IP1, r.ServerPort).AppendTo(b)
	if r.VLAN != 0 {
		b = append(b, " vlan "...)
		b = strconv.AppendUint(b, uint64(r.VLAN), 10)
	}
	if r.TunnelType != decode.TunnelNone {
		b = append(b, ' ')
		b = append(b, r.TunnelType.String()...)
	}
	if r.L7Protocol != "" {
		b = append(b, ' ')
		b = append(b, r.L7Protocol...)
	}
	b = append(b, ' ')
	b = append(b, r.CloseType.String()...)
	b = append(b, ' ')
	b = refMicros(b, r.Duration)
	b = append(b, " tx "...)
	b = strconv.AppendUint(b, r.PacketTx, 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, r.ByteTx, 10)
	b = append(b, "B rx "...)
	b = strconv.AppendUint(b, r.PacketRx, 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, r.ByteRx, 10)
	b = append(b, 'B')
	if r.HasRTT {
		b = append(b, " rtt "...)
		b = refMicros(b, int64(r.RTT))
	}
	if n := r.RetransTx + r.RetransRx; n > 0 {
		b = append(b, " retrans "...)
		b = strconv.AppendUint(b, uint64(n), 10)
	}
	return b
}

// refMicros writes a µs duration with a unit: "850us", "2.5ms", "3.2s".
func refMicros(b []byte, us int64) []byte {
	switch {
	case us < 1000 && us > -1000:
		b = strconv.AppendInt(b, us, 10)
		return append(b, "us"...)
	case us < 1000000 && us > -1000000:
		return append(refScaled(b, us, 3), "ms"...)
	}
	return append(refScaled(b, us, 6), 's')
}

// refScaled writes v/10^k as strconv.AppendFloat(b, float64(v)/10^k, 'f',
// -1, 64) does.
func refScaled(b []byte, v int64, k int) []byte {
	pow := 1e3
	if k == 6 {
		pow = 1e6
	}
	return strconv.AppendFloat(b, float64(v)/pow, 'f', -1, 64)
}

// refL7Text is l7.Record.AppendText's reference.
func refL7Text(b []byte, r *l7.Record) []byte {
	b = append(b, r.L7Protocol...)
	b = append(b, ' ')
	b = netip.AddrPortFrom(r.Client.Addr(), r.Client.Port()).AppendTo(b)
	b = append(b, " > "...)
	b = netip.AddrPortFrom(r.Server.Addr(), r.Server.Port()).AppendTo(b)
	if r.HasRequest {
		b = refTextField(b, r.RequestType)
		b = refTextField(b, r.RequestDomain)
		b = refTextField(b, r.RequestResource)
	} else {
		b = append(b, " (no request)"...)
	}
	if r.HasResponse || r.HasStatus {
		b = append(b, " ->"...)
		if r.HasResponseCode {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(r.ResponseCode), 10)
		}
		if r.HasStatus {
			b = append(b, ' ')
			b = append(b, r.Status.String()...)
		}
		b = refTextField(b, r.ResponseException)
		b = refTextField(b, r.ResponseResult)
	}
	if d, ok := r.ResponseDuration(); ok {
		b = append(b, ' ')
		b = strconv.AppendInt(b, d, 10)
		b = append(b, "us"...)
	}
	if r.ProcessID0 != 0 || r.ProcessID1 != 0 {
		b = append(b, " ["...)
		b = refTextProcess(b, r.ProcessKName0, r.ProcessID0)
		b = append(b, " > "...)
		b = refTextProcess(b, r.ProcessKName1, r.ProcessID1)
		b = append(b, ']')
	}
	return b
}

// refTextProcess appends name/pid, or "-" when the side is unknown.
func refTextProcess(b, name []byte, pid uint32) []byte {
	if pid == 0 {
		return append(b, '-')
	}
	for _, c := range name {
		if c <= 0x20 || c == 0x7f {
			c = '.'
		}
		b = append(b, c)
	}
	if len(name) > 0 {
		b = append(b, '/')
	}
	return strconv.AppendUint(b, uint64(pid), 10)
}

// refTextField appends ' ' and v with control bytes as '.', or nothing
// when v is empty.
func refTextField(b, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(b, ' ')
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			c = '.'
		}
		b = append(b, c)
	}
	return b
}

// TestRecords_Text holds the text of every record of the shared captures
// to the reference encoders', appended to an empty buffer, to a buffer
// with room and to one with text before it.
func TestRecords_Text(t *testing.T) {
	l4s, l7s := records(t)
	prefix := []byte("prefix ")
	check := func(what string, i int, enc, ref func([]byte) []byte) {
		t.Helper()
		want := ref(nil)
		if got := enc(nil); !bytes.Equal(got, want) {
			t.Fatalf("%s %d:\n got %q\nwant %q", what, i, got, want)
		}
		if got := enc(make([]byte, 0, 4096)); !bytes.Equal(got, want) {
			t.Fatalf("%s %d (room):\n got %q\nwant %q", what, i, got, want)
		}
		got := enc(append([]byte(nil), prefix...))
		if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("%s %d (after text):\n got %q\nwant %q", what, i, got, append(prefix, want...))
		}
	}
	for i, r := range l4s {
		check("l4", i, r.AppendText, func(b []byte) []byte { return refL4Text(b, r) })
	}
	for i, r := range l7s {
		check("l7", i, r.AppendText, func(b []byte) []byte { return refL7Text(b, r) })
	}
	t.Logf("%d l4 and %d l7 lines identical", len(l4s), len(l7s))
}

// TestRecords_TextAllocs checks that AppendText does not allocate when the
// buffer has room.
func TestRecords_TextAllocs(t *testing.T) {
	l4s, l7s := records(t)
	b := make([]byte, 0, 1<<16)
	if n := testing.AllocsPerRun(10, func() {
		for _, r := range l4s {
			b = r.AppendText(b[:0])
		}
		for _, r := range l7s {
			b = r.AppendText(b[:0])
		}
	}); n != 0 {
		t.Errorf("AppendText allocates %v times per pass", n)
	}
}

// textCases are records whose text takes the rare paths: addresses that
// netip formats (zones, IPv4-mapped, invalid), protocol numbers, negative
// and huge durations, control bytes, tunnels and VLANs.
func textCases() ([]*flow.Record, []*l7.Record) {
	addrs := []netip.Addr{
		netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("0.0.0.0"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
		netip.MustParseAddr("::ffff:255.255.255.255"), netip.MustParseAddr("fe80::1%a-rather-long-zone-name-0123456789"),
		{},
	}
	durs := []int64{0, 1, 999, 1000, 1001, 1010, 1100, 7045, 999999, 1000000, 1000001, 1500000, 20825333,
		123456789012, 1e15 - 1, 1e15, math.MaxInt64, -1, -999, -1000, -7045, -1e6, -1234567, -1e15, math.MinInt64}
	var l4s []*flow.Record
	for i, d := range durs {
		a, c := addrs[i%len(addrs)], addrs[(i+3)%len(addrs)]
		r := &flow.Record{
			FlowID: uint64(i) * 0x1234_5678_9abc, IP0: a, IP1: c, ClientPort: uint16(i * 9973), ServerPort: uint16(i),
			Protocol: []uint8{6, 17, 1, 58, 0, 132, 255}[i%7], VLAN: uint16(i % 3 * 4095), TunnelType: decode.TunnelType(i % 9),
			L7Protocol: []string{"", "HTTP", "a-long-protocol-name-of-some-sort"}[i%3], CloseType: flow.CloseType(i % 40),
			Duration: d, PacketTx: uint64(i) << 40, PacketRx: math.MaxUint64 >> (i % 64), ByteTx: uint64(d), ByteRx: 1e8,
			HasRTT: i%2 == 0, RTT: uint32(d), RetransTx: uint32(i % 5), RetransRx: math.MaxUint32 >> (i % 32),
		}
		l4s = append(l4s, r)
	}
	fields := [][]byte{nil, []byte("GET"), []byte("a\x00b\x1fc\x7fd"), []byte("0123456789abcdef\n\t"), bytes.Repeat([]byte("x\x01"), 300), []byte("\xff\xfe ü")}
	var l7s []*l7.Record
	for i := range 64 {
		f := func(k int) []byte { return fields[(i+k)%len(fields)] }
		r := &l7.Record{
			Client: netip.AddrPortFrom(addrs[i%len(addrs)], uint16(i*7919)), Server: netip.AddrPortFrom(addrs[(i/8)%len(addrs)], uint16(i)),
			L7Protocol: []string{"", "HTTP", "Redis", "a-long-protocol-name"}[i%4],
			HasRequest: i&1 != 0, HasResponse: i&2 != 0, HasStatus: i&4 != 0, HasResponseCode: i&8 != 0,
			StartTime: 1e18, EndTime: 1e18 + int64(i)*int64(i)*int64(i)*12345678 - 5000,
			RequestType: f(0), RequestDomain: f(1), RequestResource: f(2), ResponseException: f(3), ResponseResult: f(4),
			Status: []l7.Status{0, 1, 2, 3, 4, 5, 6, 15, 16, 200, 255}[i%11], ResponseCode: []int32{0, -1, 200, math.MinInt32, math.MaxInt32}[i%5],
			ProcessKName0: f(5), ProcessKName1: f(1),
		}
		if i&16 != 0 {
			r.ProcessID0 = uint32(i) * 1000
		}
		if i&32 != 0 {
			r.ProcessID1 = math.MaxUint32 - uint32(i)
		}
		l7s = append(l7s, r)
	}
	return l4s, l7s
}

func TestRecords_TextCases(t *testing.T) {
	l4s, l7s := textCases()
	for i, r := range l4s {
		if got, want := r.AppendText([]byte("x")), refL4Text([]byte("x"), r); !bytes.Equal(got, want) {
			t.Errorf("l4 case %d:\n got %q\nwant %q", i, got, want)
		}
	}
	for i, r := range l7s {
		if got, want := r.AppendText([]byte("x")), refL7Text([]byte("x"), r); !bytes.Equal(got, want) {
			t.Errorf("l7 case %d:\n got %q\nwant %q", i, got, want)
		}
	}
}

// FuzzRecords_Text builds records from the fuzzer's values and holds their
// text to the reference encoders'.
func FuzzRecords_Text(f *testing.F) {
	f.Add([]byte{10, 0, 0, 1}, []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "", uint16(51000), uint16(80),
		uint64(1), int64(2500), uint64(1200), uint32(120), uint8(6), uint16(0), []byte("GET\x01"), []byte("example.com"), int32(200), uint32(4242))
	f.Add([]byte{}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}, "eth0", uint16(0), uint16(65535),
		uint64(math.MaxUint64), int64(-1234567), uint64(0), uint32(math.MaxUint32), uint8(132), uint16(4095), []byte(nil), []byte("\x7f"), int32(-1), uint32(0))
	f.Fuzz(func(t *testing.T, a0, a1 []byte, zone string, p0, p1 uint16, u uint64, d int64, v uint64, w uint32,
		proto uint8, vlan uint16, s0, s1 []byte, code int32, pid uint32) {
		addr := func(raw []byte) netip.Addr {
			switch {
			case len(raw) == 4:
				return netip.AddrFrom4([4]byte(raw))
			case len(raw) >= 16:
				a := netip.AddrFrom16([16]byte(raw[:16]))
				if len(raw) > 16 && zone != "" {
					a = a.WithZone(zone)
				}
				return a
			}
			return netip.Addr{}
		}
		ip0, ip1 := addr(a0), addr(a1)
		r4 := &flow.Record{
			FlowID: u, IP0: ip0, IP1: ip1, ClientPort: p0, ServerPort: p1, Protocol: proto, VLAN: vlan,
			TunnelType: decode.TunnelType(w % 10), L7Protocol: string(s0), CloseType: flow.CloseType(w % 32),
			Duration: d, PacketTx: v, PacketRx: u ^ v, ByteTx: u >> (w % 64), ByteRx: v >> (w % 64),
			HasRTT: w&1 != 0, RTT: w, RetransTx: w >> 3, RetransRx: pid,
		}
		if got, want := r4.AppendText([]byte("x")), refL4Text([]byte("x"), r4); !bytes.Equal(got, want) {
			t.Fatalf("l4:\n got %q\nwant %q", got, want)
		}
		r7 := &l7.Record{
			Client: netip.AddrPortFrom(ip0, p0), Server: netip.AddrPortFrom(ip1, p1), L7Protocol: zone,
			HasRequest: w&1 != 0, HasResponse: w&2 != 0, HasStatus: w&4 != 0, HasResponseCode: w&8 != 0,
			StartTime: int64(u), EndTime: d, RequestType: s0, RequestDomain: s1, RequestResource: s0,
			Status: l7.Status(w >> 4), ResponseCode: code, ResponseException: s1, ResponseResult: s0,
			ProcessID0: pid, ProcessID1: uint32(p1), ProcessKName0: s1, ProcessKName1: s0,
		}
		if got, want := r7.AppendText([]byte("x")), refL7Text([]byte("x"), r7); !bytes.Equal(got, want) {
			t.Fatalf("l7:\n got %q\nwant %q", got, want)
		}
	})
}
