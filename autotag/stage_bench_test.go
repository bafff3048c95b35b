package autotag

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// BenchmarkStage tags records whose two addresses are drawn at random from
// a snapshot of 100,000 prefixes in 100 VPCs (one VPC per record), as a
// pipeline's stage does; l7-pid records also carry a known client pid.
// The 1k cases draw from 1,000 prefixes in one VPC, a snapshot that stays
// in cache.
func BenchmarkStage(b *testing.B) {
	b.Run("100k", func(b *testing.B) { benchStage(b, 100000, 100) })
	b.Run("1k", func(b *testing.B) { benchStage(b, 1000, 1) })
}

func benchStage(b *testing.B, prefixes, vpcs int) {
	es, qv, qa := benchEntries(prefixes, vpcs, 1<<16)
	tg := New()
	tg.Updater("bench").Update(&Entries{
		Addrs:     es,
		Processes: []ProcessEntry{{PID: 100, Resource: Resource{GProcess: "java", ContainerID: "c1", PodUID: "u1"}}},
		Pods:      []PodEntry{{UID: "u1", Resource: Resource{Pod: "app-1", PodNS: "shop"}}},
		Sockets:   []SocketEntry{{Proto: 6, Local: netip.MustParseAddrPort("0.0.0.0:8080"), PID: 100}},
	})
	runtime.GC()
	stages := make([]*Stage, 100)
	for i := range stages {
		stages[i] = tg.NewStage(StageConfig{VPC: int32(i)})
	}
	run := func(b *testing.B, one func(i int)) {
		b.ReportAllocs()
		cpu := cpuTime()
		i := 0
		for b.Loop() {
			one(i)
			i = (i + 2) & (1<<16 - 1)
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	}
	b.Run("l4", func(b *testing.B) {
		r := &flow.Record{ClientPort: 50000, ServerPort: 80, Protocol: 6}
		run(b, func(i int) {
			r.Tags.Reset()
			r.IP0, r.IP1 = qa[i], qa[i+1]
			stages[qv[i]].ProcessL4(r)
		})
	})
	b.Run("l7-pid", func(b *testing.B) {
		r := &l7.Record{Transport: l7.TCP, ProcessID0: 100}
		run(b, func(i int) {
			r.Tags.Reset()
			r.Client, r.Server = netip.AddrPortFrom(qa[i], 50000), netip.AddrPortFrom(qa[i+1], 80)
			stages[qv[i]].ProcessL7(r)
		})
	})
}
