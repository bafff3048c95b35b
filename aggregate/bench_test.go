package aggregate

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// seriesRecords returns n l7 records of n distinct series in each default
// application view (every record its own client, server and endpoint).
func seriesRecords(n int) []l7.Record {
	recs := make([]l7.Record, n)
	for i := range recs {
		ip := func(a byte) netip.Addr {
			return netip.AddrFrom4([4]byte{a, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		recs[i] = l7.Record{
			Client: netip.AddrPortFrom(ip(10), 40000), Server: netip.AddrPortFrom(ip(11), 8080),
			Transport: l7.TCP, L7Protocol: "HTTP", HasRequest: true, HasResponse: true,
			Status: l7.StatusOk, HasStatus: true, Endpoint: []byte("/api/v1/items/" + strconv.Itoa(i%1000)),
		}
	}
	return recs
}

// BenchmarkWriteL7 writes l7 records into the four default views' 1 s and
// 1 min windows (or into application_map alone), hitting 100,000 series of each application view in random
// order while record time runs at 100,000 records per second (each 1 s
// window holds most of the series, and windows close and are recycled as
// they would be live: the warm-up covers several seconds of record time).
// Each record written is one of n records in memory, picked at random
// (so reading it is a cache miss too), except with record=hot: there one
// record is refilled with the series' fields each time, as a decoder
// hands a sink the record it has just built.
func BenchmarkWriteL7(b *testing.B) {
	edge := []View{DefaultViews()[3]}
	for _, c := range []struct {
		n     int
		views []View
		hot   bool
	}{{1000, nil, false}, {100_000, nil, false}, {100_000, edge, false}, {100_000, nil, true}} {
		n := c.n
		name := "series=" + strconv.Itoa(n)
		if c.views != nil {
			name += "/views=application_map"
		}
		if c.hot {
			name += "/record=hot"
		}
		b.Run(name, func(b *testing.B) {
			recs := seriesRecords(n)
			rng := rand.New(rand.NewPCG(1, 2))
			order := make([]int32, 1<<20)
			lat := make([]int64, 1<<10)
			for i := range order {
				order[i] = int32(rng.IntN(n))
			}
			for i := range lat {
				lat[i] = int64(rng.ExpFloat64() * 5e6)
			}
			a, _ := New(&Config{Views: c.views})
			now := t0
			i := 0
			var hot l7.Record
			var endpoints [1000][]byte
			for e := range endpoints {
				endpoints[e] = []byte("/api/v1/items/" + strconv.Itoa(e))
			}
			write := func() {
				r := &recs[order[i&(len(order)-1)]]
				if c.hot {
					s := order[i&(len(order)-1)]
					ip := func(a byte) netip.Addr {
						return netip.AddrFrom4([4]byte{a, byte(s >> 16), byte(s >> 8), byte(s)})
					}
					hot = l7.Record{
						Client: netip.AddrPortFrom(ip(10), 40000), Server: netip.AddrPortFrom(ip(11), 8080),
						Transport: l7.TCP, L7Protocol: "HTTP", HasRequest: true, HasResponse: true,
						Status: l7.StatusOk, HasStatus: true, Endpoint: endpoints[s%1000],
					}
					r = &hot
				}
				r.StartTime = now
				r.EndTime = now + lat[i&(len(lat)-1)]
				a.WriteL7(r)
				now += 10_000
				i++
			}
			for range max(3*n, 500_000) { // warm: every series exists in the open windows
				write()
			}
			b.ReportAllocs()
			b.ResetTimer()
			c := startCPU()
			for b.Loop() {
				write()
			}
			c.report(b)
		})
	}
}

// BenchmarkWriteL4 writes flow snapshot records into the default network
// views, 100,000 flows of 100,000 edges in random order.
func BenchmarkWriteL4(b *testing.B) {
	const n = 100_000
	recs := make([]flow.Record, n)
	for i := range recs {
		recs[i] = flow.Record{
			Snapshot: true, FlowID: uint64(i + 1), StartTime: t0,
			IP0:        netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			IP1:        netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}),
			ClientPort: 40000, ServerPort: 443, Protocol: 6, L7Protocol: "TLS",
			PacketTx: 3, PacketRx: 2, ByteTx: 300, ByteRx: 1200, SRTSum: 100, SRTCount: 1, SRTMax: 100,
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int32, 1<<20)
	for i := range order {
		order[i] = int32(rng.IntN(n))
	}
	a, _ := New(nil)
	now := t0
	i := 0
	write := func() {
		r := &recs[order[i&(len(order)-1)]]
		r.EndTime = now
		a.WriteL4(r)
		now += 1000
		i++
	}
	for range 3 * n {
		write()
	}
	b.ReportAllocs()
	b.ResetTimer()
	c := startCPU()
	for b.Loop() {
		write()
	}
	c.report(b)
}

// BenchmarkMemory reports the heap held by 100,000 active series: three
// seconds of 20 records a second for each of 100,000 distinct series (one
// series in each default application view per record), so that the open
// windows hold what they do live: two 1 s windows and the 1 min window of
// each view, 600,000 series-windows in all. Run it with -benchtime 1x.
func BenchmarkMemory(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		recs := seriesRecords(n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		a, _ := New(nil)
		now := t0
		for s := range 3 { // three seconds of every series, each 20 times
			for j := range 20 * n {
				r := &recs[j%n]
				r.StartTime = now + int64(s)*int64(time.Second) + int64(j)*int64(time.Second)/int64(20*n)
				r.EndTime = r.StartTime + int64(j%977)*1000
				a.WriteL7(r)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := a.Stats()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/100k-series")
		b.ReportMetric(float64(st.OpenSeries), "open-series")
		runtime.KeepAlive(a)
	}
}

// cpuClock measures the process's CPU time (user and system, every
// thread: GC included), since the machine the benchmarks run on is
// shared and wall-clock ns/op overstates the cost under load.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{cpuNow()} }

// report adds cpu-ns/op and records/cpu-s.
func (c cpuClock) report(b *testing.B) {
	d := cpuNow() - c.start
	if d <= 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/d.Seconds(), "records/cpu-s")
}
