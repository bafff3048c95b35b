package encoding_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/l7"
)

// TestEncoder_EBPFColumns: the eBPF fields of l7 records, their tap side
// and the capture point's name go through a frame (packed and uvarint
// layouts), and frames without them decode as before.
func TestEncoder_EBPFColumns(t *testing.T) {
	ap := netip.MustParseAddrPort
	local := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): true, netip.MustParseAddr("10.0.0.9"): true}
	rec := func(c, s string, pid0, pid1 uint32) *l7.Record {
		return &l7.Record{FlowID: 7, StartTime: 1e18, EndTime: 1e18 + 5e5, Client: ap(c), Server: ap(s),
			Transport: l7.TCP, L7Protocol: "HTTP", HasRequest: true, HasResponse: true, ReqTCPSeq: 11, RespTCPSeq: 12,
			ProcessID0: pid0, ProcessID1: pid1}
	}
	cp := rec("10.0.0.1:40000", "10.0.0.2:80", 4242, 0)
	cp.ProcessKName0 = []byte("curl")
	cp.SyscallTraceIDRequest, cp.SyscallTraceIDResponse = 1<<63|5, 6
	cp.SyscallThread0, cp.SyscallThread1 = 4243, 4244
	cp.SyscallCoroutine0, cp.SyscallCoroutine1 = 1<<40+1, 77
	sp := rec("10.0.0.1:40000", "10.0.0.2:80", 0, 99)
	sp.ProcessKName1 = []byte("nginx")
	sp.SyscallTraceIDRequest, sp.SyscallTraceIDResponse = 1, 1
	sp.SyscallThread0, sp.SyscallThread1 = 100, 100
	recs := []*l7.Record{cp, sp,
		rec("10.0.0.1:40000", "10.0.0.2:80", 0, 0), // client local: c
		rec("10.0.0.2:40000", "10.0.0.1:80", 0, 0), // server local: s
		rec("10.0.0.1:40000", "10.0.0.9:80", 0, 0), // both: local
		rec("10.0.0.3:40000", "10.0.0.4:80", 0, 0), // neither: rest
	}
	sides := []string{"c-p", "s-p", "c", "s", "local", "rest"}
	for _, tc := range []struct {
		name string
		cfg  encoding.EncoderConfig
	}{
		{"packed", encoding.EncoderConfig{AgentID: "node-1", LocalAddr: func(a netip.Addr) bool { return local[a] }}},
		{"uvarints", encoding.EncoderConfig{Uvarints: true, AgentID: "node-1", LocalAddr: func(a netip.Addr) bool { return local[a] }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encoding.Decode(encodeFrame(t, &tc.cfg, nil, recs))
			if err != nil {
				t.Fatal(err)
			}
			tab := &b.Tables[0]
			for i, want := range recs {
				var got l7.Record
				if err := tab.L7(i, nil, &got); err != nil {
					t.Fatal(err)
				}
				if got.ProcessID0 != want.ProcessID0 || got.ProcessID1 != want.ProcessID1 ||
					!bytes.Equal(got.ProcessKName0, want.ProcessKName0) || !bytes.Equal(got.ProcessKName1, want.ProcessKName1) ||
					got.SyscallTraceIDRequest != want.SyscallTraceIDRequest || got.SyscallTraceIDResponse != want.SyscallTraceIDResponse ||
					got.SyscallThread0 != want.SyscallThread0 || got.SyscallThread1 != want.SyscallThread1 || got.ReqTCPSeq != 11 ||
					got.SyscallCoroutine0 != want.SyscallCoroutine0 || got.SyscallCoroutine1 != want.SyscallCoroutine1 {
					t.Errorf("row %d: got %+v\nwant %+v", i, got, *want)
				}
				if side, agent := tab.Point(i); side != sides[i] || agent != "node-1" {
					t.Errorf("row %d: tap side %q agent %q, want %q node-1", i, side, agent, sides[i])
				}
			}
			if s, a := tab.Point(len(recs)); s != "" || a != "" {
				t.Errorf("row out of range: %q %q", s, a)
			}
		})
	}
	// Packet records without a LocalAddr or AgentID: none of the new
	// columns is sent, so the frame is what a decoder before them reads,
	// and rows read as zero.
	b, err := encoding.Decode(encodeFrame(t, nil, nil, recs[2:]))
	if err != nil {
		t.Fatal(err)
	}
	tab := &b.Tables[0]
	for _, c := range []string{"process_id_0", "process_kname_1", "syscall_trace_id_request", "syscall_thread_0", "syscall_coroutine_0", "tap_side", "agent_id"} {
		if tab.Column(c) != nil {
			t.Errorf("column %s sent for packet records", c)
		}
	}
	var got l7.Record
	if err := tab.L7(0, nil, &got); err != nil || got.ProcessID0 != 0 || got.SyscallTraceIDRequest != 0 {
		t.Fatalf("%v %+v", err, got)
	}
	if s, a := tab.Point(0); s != "" || a != "" {
		t.Errorf("tap side %q agent %q without them", s, a)
	}
}

func TestLocalAddrs(t *testing.T) {
	f, err := encoding.LocalAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	if !f(netip.MustParseAddr("127.0.0.1")) {
		t.Error("127.0.0.1 not local")
	}
	if f(netip.MustParseAddr("192.0.2.77")) {
		t.Error("TEST-NET address local")
	}
}

// BenchmarkEncoder_EBPF encodes frames of 16,384 l7 records of eBPF
// processes (pids, command names, syscall trace ids and threads, tap
// sides and an agent id) beside the same records as packet capture points
// see them (none of those fields, no LocalAddr): what the columns cost.
func BenchmarkEncoder_EBPF(b *testing.B) {
	const n = encoding.DefaultBatchRows
	recs := make([]l7.Record, n)
	for i := range recs {
		r := &recs[i]
		r.FlowID, r.StartTime, r.EndTime = uint64(i/4), 1.8e18+int64(i)*50_000, 1.8e18+int64(i)*50_000+400_000
		r.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8 & 3), 1}), uint16(30000+i%2000))
		r.Server = netip.MustParseAddrPort("10.0.9.2:6379")
		r.Transport, r.L7Protocol, r.HasRequest, r.HasResponse = l7.TCP, "Redis", true, true
		r.ReqTCPSeq, r.RespTCPSeq = uint32(i*7919), uint32(i*104729)
		r.RequestType, r.RequestResource = []byte("GET"), []byte("GET session:1")
	}
	ebpf := make([]l7.Record, n)
	for i := range ebpf {
		r := &ebpf[i]
		*r = recs[i]
		if i%2 == 0 {
			r.ProcessID0, r.ProcessKName0 = 4000+uint32(i%3), []byte("python3")
		} else {
			r.ProcessID1, r.ProcessKName1 = 900, []byte("redis-server")
		}
		r.SyscallTraceIDRequest = 1<<62 + uint64(i)*3
		r.SyscallTraceIDResponse = r.SyscallTraceIDRequest + 1
		r.SyscallThread0, r.SyscallThread1 = 4100+uint32(i%64), 4100+uint32(i%64)
	}
	for _, tc := range []struct {
		name string
		cfg  *encoding.EncoderConfig
		recs []l7.Record
	}{
		{"packets", nil, recs},
		{"ebpf", &encoding.EncoderConfig{AgentID: "node-1"}, ebpf},
	} {
		b.Run(tc.name, func(b *testing.B) {
			enc, err := encoding.NewEncoder(tc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			var f []byte
			b.ReportAllocs()
			for b.Loop() {
				for i := range tc.recs {
					enc.AddL7(&tc.recs[i])
				}
				if f, err = enc.AppendFrame(f[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
			b.ReportMetric(float64(len(f))/n, "bytes/row")
		})
	}
}
