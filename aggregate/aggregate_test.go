package aggregate

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC).UnixNano()

// collector sums the delivered windows per view and interval.
type collector struct {
	sec, min, late map[string]*Rollup
	windows        int
}

func newCollector() *collector {
	return &collector{sec: map[string]*Rollup{}, min: map[string]*Rollup{}, late: map[string]*Rollup{}}
}

func (c *collector) onWindow(w *Window) {
	c.windows++
	m := c.sec
	if w.Interval == Minute {
		m = c.min
	}
	if w.Late {
		m = c.late
	}
	r := m[w.View.Name]
	if r == nil {
		r = NewRollup()
		m[w.View.Name] = r
	}
	r.Add(w)
}

func (c *collector) get(m map[string]*Rollup, view string) *Rollup {
	if r := m[view]; r != nil {
		return r
	}
	return NewRollup()
}

func l7rec(rng *rand.Rand, start int64, client, server int) *l7.Record {
	r := &l7.Record{
		StartTime:  start,
		EndTime:    start,
		Client:     netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(client >> 8), byte(client)}), 40000),
		Server:     netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(server >> 8), byte(server)}), 80),
		Transport:  l7.TCP,
		L7Protocol: "HTTP",
		HasRequest: true,
		Endpoint:   []byte("/api/" + string(rune('a'+server%5))),
	}
	switch x := rng.IntN(20); {
	case x == 0: // timeout, reported late
		r.Status, r.HasStatus = l7.StatusTimeout, true
	case x == 1: // a lone response
		r.HasRequest, r.HasResponse = false, true
		r.Status, r.HasStatus = l7.StatusOk, true
	default:
		r.HasResponse = true
		r.EndTime = start + int64(rng.ExpFloat64()*float64(20*time.Millisecond))
		if x == 2 {
			r.EndTime = start + int64(3*time.Second) // late for its second
		}
		r.Status, r.HasStatus = l7.StatusOk, true
		if x == 3 {
			r.Status = l7.StatusClientError
		}
		if x == 4 {
			r.Status = l7.StatusServerError
		}
	}
	return r
}

// appTotals are the totals of the records themselves.
func appTotals(recs []*l7.Record) AppMetrics {
	var t AppMetrics
	for _, r := range recs {
		if r.HasRequest {
			t.Request++
		}
		if r.HasResponse {
			t.Response++
		}
		switch r.Status {
		case l7.StatusClientError:
			t.ClientError++
		case l7.StatusServerError:
			t.ServerError++
		case l7.StatusTimeout:
			t.Timeout++
		}
		if d, ok := r.ResponseDuration(); ok {
			t.RRT.Add(uint64(d))
		}
	}
	return t
}

// appEqual compares counters, and whether a's sketch holds every latency
// (1 min level) or none (1 s level).
func appEqual(a, b *AppMetrics, minute bool) bool {
	want := 0.0
	if minute {
		want = float64(a.RRT.Count)
	}
	return a.Request == b.Request && a.Response == b.Response && a.ClientError == b.ClientError &&
		a.ServerError == b.ServerError && a.Timeout == b.Timeout && a.RRT == b.RRT &&
		a.Latency.Count() == want
}

func addApps(ms ...AppMetrics) AppMetrics {
	var t AppMetrics
	for i := range ms {
		t.Merge(&ms[i])
	}
	return t
}

// TestAggregator_WindowsAddUp is the property test: for every view, the
// 1 s windows plus the late-second bucket equal the 1 min windows, and the
// 1 min windows plus the late-minute bucket equal the records' totals, with
// records arriving in their emission order (timeouts 120 s late, some
// responses 3 s late, a few records beyond any lateness) and a cap small
// enough to overflow.
func TestAggregator_WindowsAddUp(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, seed))
		c := newCollector()
		a, err := New(&Config{OnWindow: c.onWindow, MaxSeries: 40})
		if err != nil {
			t.Fatal(err)
		}
		type emitted struct {
			at int64
			r  *l7.Record
		}
		var recs []*l7.Record
		var out []emitted
		for i := range 20000 {
			start := t0 + int64(i)*int64(15*time.Millisecond) + rng.Int64N(int64(time.Second))
			r := l7rec(rng, start, rng.IntN(30), rng.IntN(20))
			at := r.EndTime
			if r.Status == l7.StatusTimeout {
				at = start + int64(l7.DefaultSessionTimeout)
			}
			if rng.IntN(500) == 0 {
				at += int64(10 * time.Minute) // a straggler past any lateness
			}
			recs = append(recs, r)
			out = append(out, emitted{at, r})
		}
		slices.SortStableFunc(out, func(x, y emitted) int { return int(x.at - y.at) })
		for _, e := range out {
			if err := a.WriteL7(e.r); err != nil {
				t.Fatal(err)
			}
		}
		a.Close()
		st := a.Stats()
		if st.OpenSeries != 0 {
			t.Errorf("seed %d: %d series still open after Close", seed, st.OpenSeries)
		}
		if st.LateSecond == 0 || st.LateMinute == 0 || st.Overflow == 0 {
			t.Fatalf("seed %d: the test should exercise lateness and overflow: %+v", seed, st)
		}
		want := appTotals(recs)
		for i, v := range a.Views() {
			if v.Kind != Application {
				continue
			}
			lateSec, lateMin := a.Late(i)
			sec := c.get(c.sec, v.Name).TotalApp()
			min := c.get(c.min, v.Name).TotalApp()
			if late := c.get(c.late, v.Name).TotalApp(); !appEqual(&late, &lateSec.App, false) {
				t.Errorf("seed %d %s: late windows %+v != late-second bucket %+v", seed, v.Name, late, lateSec.App)
			}
			if got := addApps(sec, lateSec.App); !appEqual(&got, &min, false) {
				t.Errorf("seed %d %s: 1 s windows + late %+v != 1 min windows %+v", seed, v.Name, got, min)
			}
			if got := addApps(min, lateMin.App); !appEqual(&got, &want, true) {
				t.Errorf("seed %d %s: 1 min windows + late %+v (sketch %v) != records %+v", seed, v.Name, got, got.Latency.Count(), want)
			}
		}
	}
}

func l4rec(id uint64, end int64, snap bool, ct flow.CloseType) *flow.Record {
	return &flow.Record{
		Snapshot: snap, FlowID: id, StartTime: t0, EndTime: end,
		IP0: netip.AddrFrom4([4]byte{10, 0, 0, byte(id % 7)}), IP1: netip.AddrFrom4([4]byte{10, 1, 0, byte(id % 3)}),
		ClientPort: uint16(30000 + id), ServerPort: 443, Protocol: 6, CloseType: ct,
		PacketTx: id % 5, PacketRx: 2, ByteTx: 100 * id, ByteRx: 70,
		RTT: 300, RTTClient: 100, RTTServer: 200, HasRTT: true, HasRTTClient: true, HasRTTServer: true,
		SRTSum: 50, SRTCount: 2, SRTMax: 30, SynCount: 1, RetransTx: uint32(id % 2),
	}
}

// TestAggregator_Flows checks the flow bookkeeping across snapshots: a
// flow counts once in new_flow and its RTT once, closes once, and its
// close type lands in the right anomaly, with the same window sums as
// above.
func TestAggregator_Flows(t *testing.T) {
	c := newCollector()
	a, err := New(&Config{OnWindow: c.onWindow})
	if err != nil {
		t.Fatal(err)
	}
	closes := []flow.CloseType{flow.CloseFinish, flow.CloseTCPClientRst, flow.CloseTCPServerRst,
		flow.CloseClientSynRepeat, flow.CloseServerReset, flow.CloseTimeout, flow.CloseServerHalfClose}
	var want NetworkMetrics
	const flows = 300
	for s := range 200 { // 200 s of snapshots
		now := t0 + int64(s)*int64(time.Second)
		for id := uint64(1); id <= flows; id++ {
			first, last := int(id%50), int(id%50)+int(id%120)
			if s < first || s > last {
				continue
			}
			r := l4rec(id, now+int64(id)*int64(time.Millisecond), s < last, flow.CloseForcedReport)
			if s == last {
				r.CloseType = closes[id%uint64(len(closes))]
			}
			if id%11 == 0 {
				r.PacketTx, r.PacketRx, r.EndTime = 0, 0, t0 // idle: lands at the watermark
			}
			want.PacketTx += r.PacketTx
			want.ByteTx += r.ByteTx
			want.RetransTx += uint64(r.RetransTx)
			want.SRT.Merge(&Latency{Sum: 50, Count: 2, Max: 30})
			if s == first {
				want.NewFlow++
				want.RTT.Add(300)
			}
			if s == last {
				want.ClosedFlow++
			}
			want.Records++
			if err := a.WriteL4(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	a.Close()
	if n := len(a.flows); n != 0 {
		t.Errorf("%d flows still remembered after every flow closed", n)
	}
	for i, v := range a.Views() {
		if v.Kind != Network {
			continue
		}
		lateSec, lateMin := a.Late(i)
		sec := c.get(c.sec, v.Name).TotalNet()
		min := c.get(c.min, v.Name).TotalNet()
		sec.Merge(&lateSec.Net)
		if sec != min {
			t.Errorf("%s: 1 s windows + late\n%+v\n!= 1 min windows\n%+v", v.Name, sec, min)
		}
		min.Merge(&lateMin.Net)
		got := min
		if got.PacketTx != want.PacketTx || got.ByteTx != want.ByteTx || got.RetransTx != want.RetransTx ||
			got.SRT != want.SRT || got.NewFlow != want.NewFlow || got.ClosedFlow != want.ClosedFlow ||
			got.RTT != want.RTT || got.Records != want.Records || got.FlowLoad != want.Records {
			t.Errorf("%s: totals\n%+v\nwant\n%+v", v.Name, got, want)
		}
		if got.ClientRstFlow == 0 || got.ServerRstFlow == 0 || got.ServerSynMiss == 0 || got.ServerReset == 0 ||
			got.TCPTimeout == 0 || got.ServerHalfCloseFlow == 0 {
			t.Errorf("%s: anomalies missing: %+v", v.Name, got)
		}
		if got.TCPEstablishFail() != got.ServerSynMiss+got.ServerReset {
			t.Errorf("%s: tcp_establish_fail %d", v.Name, got.TCPEstablishFail())
		}
	}
	if st := a.Stats(); st.LateMinute != 0 {
		t.Errorf("in-order snapshots came late: %+v", st)
	}
}

// exactQuantile is the value DDSketch approximates: rank floor(q·(n-1)).
func exactQuantile(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}

// TestSketch_Accuracy checks the percentiles of merged 1 min windows
// against exact percentiles of the raw latencies.
func TestSketch_Accuracy(t *testing.T) {
	dists := map[string]func(*rand.Rand) float64{
		"lognormal": func(r *rand.Rand) float64 { return math.Round(math.Exp(6 + 2*r.NormFloat64())) },
		"uniform":   func(r *rand.Rand) float64 { return float64(1 + r.IntN(1_000_000)) },
		"bimodal": func(r *rand.Rand) float64 {
			if r.IntN(10) == 0 {
				return float64(100_000 + r.IntN(5000))
			}
			return float64(200 + r.IntN(50))
		},
	}
	for name, dist := range dists {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 7))
			var got *AppMetrics
			a, _ := New(&Config{
				Views: []View{{Name: "app", Kind: Application, Fields: FieldServerIP}},
				OnWindow: func(w *Window) {
					if w.Interval == Minute {
						m := w.Series[0].App.Clone()
						got = &m
					}
				},
			})
			var raw []float64
			for i := range 50000 {
				start := t0 + int64(i)*int64(time.Millisecond) // 50 s: one minute, 50 seconds
				us := dist(rng)
				r := &l7.Record{StartTime: start, EndTime: start + int64(us)*1000, HasRequest: true, HasResponse: true,
					Server: netip.MustParseAddrPort("10.0.0.1:80"), L7Protocol: "HTTP"}
				raw = append(raw, us)
				a.WriteL7(r)
			}
			a.Close()
			slices.Sort(raw)
			if got == nil || got.Latency.Count() != float64(len(raw)) {
				t.Fatalf("sketch missing or short: %+v", got)
			}
			for _, q := range []float64{0, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				want := exactQuantile(raw, q)
				v := got.Latency.Quantile(q)
				if math.Abs(v-want) > RelativeAccuracy*want+1e-9 {
					t.Errorf("q%v = %v, exact %v: error %.4f > %v", q, v, want, math.Abs(v-want)/want, RelativeAccuracy)
				}
			}
		})
	}
}

// TestAggregator_Keys checks grouping: the edge view keeps the client, the
// endpoint view the endpoint, and tags join keys.
func TestAggregator_Keys(t *testing.T) {
	c := newCollector()
	a, _ := New(&Config{OnWindow: c.onWindow, Views: append(DefaultViews(),
		View{Name: "by_service", Kind: Application, Fields: FieldL7Protocol, Tags: []TagKey{{Side: 1, Key: "service"}}})})
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 100 {
		r := l7rec(rng, t0+int64(i)*int64(time.Millisecond), i%3, i%2)
		if i%2 == 0 {
			r.Tags.Add(1, "service", "web")
		}
		a.WriteL7(r)
	}
	a.Close()
	if n := len(c.get(c.min, "application_map").App); n != 6 {
		t.Errorf("application_map has %d series, want 6 (3 clients × 2 servers)", n)
	}
	svc := c.get(c.min, "by_service").App
	if len(svc) != 2 {
		t.Fatalf("by_service: %d series, want web and untagged", len(svc))
	}
	if m := svc[Key{L7Protocol: "HTTP", Tags: [MaxTags]string{"web"}}]; m == nil || m.Request+m.Response == 0 || svc[Key{L7Protocol: "HTTP"}] == nil {
		t.Errorf("by_service web: %+v", m)
	}
	for k := range c.get(c.min, "application").App {
		if k.ClientIP.IsValid() || k.Endpoint == "" || k.ServerPort != 80 || k.Protocol != 6 {
			t.Errorf("application key %+v", k)
		}
	}
}

func TestNew_Errors(t *testing.T) {
	for name, c := range map[string]Config{
		"no kind":  {Views: []View{{Name: "x"}}},
		"tags":     {Views: []View{{Name: "x", Kind: Network, Tags: make([]TagKey, MaxTags+1)}}},
		"lateness": {SecondLateness: time.Hour, Lateness: time.Minute},
	} {
		if _, err := New(&c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestAggregator_ZeroAlloc: writing records of existing series allocates
// nothing.
func TestAggregator_ZeroAlloc(t *testing.T) {
	a, _ := New(nil)
	rng := rand.New(rand.NewPCG(1, 1))
	recs := make([]*l7.Record, 64)
	for i := range recs {
		recs[i] = l7rec(rng, t0+int64(i)*1000, i%8, i%4)
		recs[i].EndTime = recs[i].StartTime + 1000
	}
	l4 := l4rec(5, t0+1000, true, flow.CloseForcedReport)
	for _, r := range recs {
		a.WriteL7(r)
	}
	a.WriteL4(l4)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		a.WriteL7(recs[i%len(recs)])
		i++
	}); n != 0 {
		t.Errorf("WriteL7: %v allocs", n)
	}
	if n := testing.AllocsPerRun(1000, func() { a.WriteL4(l4) }); n != 0 {
		t.Errorf("WriteL4: %v allocs", n)
	}
}

// TestRollup_MergeAgents: the windows of two agents that each saw half of
// the records merge into exactly the windows of one agent that saw them
// all: counters add and the merged sketches give the same quantiles.
func TestRollup_MergeAgents(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	var recs []*l7.Record
	for i := range 5000 {
		recs = append(recs, l7rec(rng, t0+int64(i)*int64(5*time.Millisecond), rng.IntN(10), rng.IntN(5)))
	}
	run := func(recs []*l7.Record) map[string]*Rollup {
		out := map[string]*Rollup{}
		a, _ := New(&Config{OnWindow: func(w *Window) {
			if w.Interval != Minute {
				return
			}
			k := w.View.Name + w.Start.String()
			if out[k] == nil {
				out[k] = NewRollup()
			}
			out[k].Add(w)
		}})
		for _, r := range recs {
			a.WriteL7(r)
		}
		a.Close()
		return out
	}
	var half [2][]*l7.Record
	for i, r := range recs {
		half[i%2] = append(half[i%2], r)
	}
	all, a, b := run(recs), run(half[0]), run(half[1])
	for k, r := range b {
		if a[k] == nil {
			a[k] = NewRollup()
		}
		a[k].Merge(r)
	}
	if len(all) != len(a) || len(all) == 0 {
		t.Fatalf("%d windows, merged %d", len(all), len(a))
	}
	for k, want := range all {
		got := a[k]
		if len(got.App) != len(want.App) {
			t.Fatalf("%s: %d series, merged %d", k, len(want.App), len(got.App))
		}
		for key, w := range want.App {
			g := got.App[key]
			if g == nil || !appEqual(g, w, true) {
				t.Fatalf("%s %+v: merged %+v, want %+v", k, key, g, w)
			}
			for _, q := range []float64{0.5, 0.99} {
				if g.Latency.Quantile(q) != w.Latency.Quantile(q) {
					t.Errorf("%s %+v: merged q%v %v, one agent %v", k, key, q, g.Latency.Quantile(q), w.Latency.Quantile(q))
				}
			}
		}
	}
}
