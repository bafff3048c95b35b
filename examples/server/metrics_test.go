package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/aggregate"
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/sender"
	"github.com/metaflow-go/metaflow/examples/server/query"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/pipeline"
	"github.com/metaflow-go/metaflow/tag"
)

// metricSet is a metric table's content by "table|time|key fields|tags"
// and metric name.
type metricSet map[string]map[string]uint64

// refAggregator is the aggregate package on the agent's records, with
// DeepFlow's default views grouped by the tags (client side only in the
// _map views) and windows that take every record, however late, as the
// server's do.
func refAggregator(t testing.TB, tags []aggregate.TagKey, out metricSet) *aggregate.Aggregator {
	t.Helper()
	views := aggregate.DefaultViews()
	for i := range views {
		for _, tk := range tags {
			if tk.Side == tag.Server || views[i].Fields&aggregate.FieldClientIP != 0 {
				views[i].Tags = append(views[i].Tags, tk)
			}
		}
	}
	const forever = 100 * 365 * 24 * time.Hour
	agg, err := aggregate.New(&aggregate.Config{Views: views, SecondLateness: forever, Lateness: forever,
		OnWindow: func(w *aggregate.Window) {
			if w.Late {
				return
			}
			table := w.View.Name + ".1s"
			if w.Interval == aggregate.Minute {
				table = w.View.Name + ".1m"
			}
			for _, se := range w.Series {
				k := se.Key
				var f []string
				fl := w.View.Fields
				if fl&aggregate.FieldClientIP != 0 {
					f = append(f, addrString(k.ClientIP.IsValid(), k.ClientIP.String()))
				}
				if fl&aggregate.FieldServerIP != 0 {
					f = append(f, addrString(k.ServerIP.IsValid(), k.ServerIP.String()))
				}
				if fl&aggregate.FieldServerPort != 0 {
					f = append(f, strconv.Itoa(int(k.ServerPort)))
				}
				if fl&aggregate.FieldProtocol != 0 {
					f = append(f, strconv.Itoa(int(k.Protocol)))
				}
				if fl&aggregate.FieldL7Protocol != 0 {
					f = append(f, k.L7Protocol)
				}
				if fl&aggregate.FieldEndpoint != 0 {
					f = append(f, k.Endpoint)
				}
				f = append(f, strconv.FormatBool(k.Overflow))
				f = append(f, k.Tags[:len(w.View.Tags)]...)
				key := table + "|" + strconv.FormatInt(w.Start.UnixNano(), 10) + "|" + strings.Join(f, "|")
				vals := out[key]
				if vals == nil {
					vals = map[string]uint64{}
					out[key] = vals
				}
				if se.Net != nil {
					for _, nf := range aggregate.NetworkFields {
						addMetric(vals, nf.Name, nf.Max, nf.Value(se.Net))
					}
				} else {
					for _, af := range aggregate.AppFields {
						addMetric(vals, af.Name, af.Max, af.Value(se.App))
					}
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return agg
}

func addrString(ok bool, s string) string {
	if !ok {
		return ""
	}
	return s
}

func addMetric(vals map[string]uint64, name string, isMax bool, v uint64) {
	if isMax {
		vals[name] = max(vals[name], v)
	} else {
		vals[name] += v
	}
}

// storedMetrics reads every metric table, its rows (partial sums of
// several flushes) added up, the tag ids of tags named through the
// dictionary.
func storedMetrics(t testing.TB, st *store.Store, tags []aggregate.TagKey) metricSet {
	t.Helper()
	out := metricSet{}
	dict := st.Dict()
	for _, mt := range store.MetricTables() {
		var tagCols []string
		var tagKeys []string
		for _, tk := range tags {
			if tk.Side == tag.Server || mt.Edge {
				tagCols = append(tagCols, fmt.Sprintf("%s_id_%d", tk.Key, tk.Side))
				tagKeys = append(tagKeys, tk.Key)
			}
		}
		cols := append([]string{"time"}, mt.Keys...)
		cols = append(cols, "overflow")
		cols = append(cols, tagCols...)
		sel := strings.Join(cols, ", ")
		for _, m := range mt.Metrics {
			agg := "sum"
			if m.Max {
				agg = "max"
			}
			sel += fmt.Sprintf(", %s(%s)::UBIGINT", agg, m.Name)
		}
		rows, err := st.DB().Query("SELECT " + sel + " FROM " + store.Quote(mt.Name) + " GROUP BY ALL")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols)+len(mt.Metrics))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var f []string
			for i, c := range cols[1:] {
				v := vals[1+i]
				if j := i - len(mt.Keys) - 1; j >= 0 {
					id := v.(uint32)
					s := ""
					if id != 0 {
						var ok bool
						if s, ok = dict.Value(tagKeys[j], id); !ok {
							t.Fatalf("%s: %s id %d unknown", mt.Name, c, id)
						}
					}
					f = append(f, s)
					continue
				}
				if v == nil {
					f = append(f, "")
				} else {
					f = append(f, fmt.Sprint(v))
				}
			}
			key := mt.Name + "|" + fmt.Sprint(vals[0]) + "|" + strings.Join(f, "|")
			m := out[key]
			if m == nil {
				m = map[string]uint64{}
				out[key] = m
			}
			for i, mc := range mt.Metrics {
				addMetric(m, mc.Name, mc.Max, vals[len(cols)+i].(uint64))
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// compareMetrics fails unless stored holds want's series with the same
// values (the derived metrics of want are not stored).
func compareMetrics(t testing.TB, stored, want metricSet) {
	t.Helper()
	var missing, extra, differ []string
	for k, wv := range want {
		sv, ok := stored[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		for name, v := range wv {
			if s, ok := sv[name]; ok && s != v {
				differ = append(differ, fmt.Sprintf("%s %s: stored %d, aggregate %d", k, name, s, v))
			} else if !ok && v != 0 && !strings.HasSuffix(name, "_fail") {
				differ = append(differ, fmt.Sprintf("%s %s: not stored, aggregate %d", k, name, v))
			}
		}
	}
	for k := range stored {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(differ)
	if len(missing)+len(extra)+len(differ) > 0 {
		t.Fatalf("metrics: %d series, %d stored; %d missing %.5q, %d extra %.5q, %d values differ %.5q",
			len(want), len(stored), len(missing), missing, len(extra), extra, len(differ), differ)
	}
}

// replayAgg replays pcap as replay does, the agent's records also counted
// by agg.
func replayAgg(t testing.TB, pcap, serverURL, token string, agg *aggregate.Aggregator) sender.Stats {
	t.Helper()
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	dict := encoding.NewAgentDict()
	snd, err := sender.New(sender.Config{URL: serverURL, Token: token, Dir: t.TempDir(), Dict: dict, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
	if err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Config{
		Shards: 1,
		Source: src,
		Stages: []pipeline.Stage{tagStage{}},
		Sinks:  []pipeline.SinkConfig{{Sink: agg}, {Sink: encoding.NewSink(enc, 512, snd.Send)}},
	}
	cfg.L7.Registry = reg
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := snd.Flush(ctx); err != nil {
		t.Fatalf("%v (last error %v)", err, snd.LastError())
	}
	return snd.Stats()
}

// TestServer_MetricsEndToEnd replays every committed capture into the
// server: the 1 s and 1 min metric tables hold what the aggregate package
// computes on the agent's records, per window and key (requests, errors,
// response times, bytes, packets, retransmissions, every stored metric).
// Every capture is sent twice: the resent batches are acknowledged and
// counted once.
func TestServer_MetricsEndToEnd(t *testing.T) {
	const token = "m"
	// A short flush interval: windows are written in several flushes
	// and their partial rows add up.
	ts := startServer(t, options{db: filepath.Join(t.TempDir(), "metrics.duckdb"), token: token, maxBytes: 64 << 20,
		metricsFlush: 50 * time.Millisecond})
	pcaps, _ := filepath.Glob("../../testdata/l7/*.pcap")
	if len(pcaps) < 5 {
		t.Fatalf("captures: %v", pcaps)
	}
	tags := []aggregate.TagKey{{Side: tag.Client, Key: "pod"}, {Side: tag.Server, Key: "service"}}
	want := metricSet{}
	ref := refAggregator(t, tags, want)
	for _, pcap := range pcaps {
		st := replayAgg(t, pcap, ts.url, token, ref)
		if st.Refused != 0 || st.Dropped != 0 || st.Acked != st.Batches {
			t.Fatalf("%s: sender %+v", pcap, st)
		}
	}
	ref.Close()
	if err := ts.st.FlushMetrics(); err != nil {
		t.Fatal(err)
	}
	got := storedMetrics(t, ts.st, tags)
	compareMetrics(t, got, want)
	// Maintain merges the partial rows of the 1 min windows (the flushes
	// were many): one row per window and key, the same sums.
	rowsOf := func(table string) (rows, keys int) {
		q := store.Quote(table)
		ts.st.DB().QueryRow("SELECT count(*) FROM " + q).Scan(&rows)
		ts.st.DB().QueryRow("SELECT count(*) FROM (SELECT DISTINCT * EXCLUDE (batch_seq, request, response, client_error, server_error, timeout, rrt_sum, rrt_count, rrt_max) FROM " + q + ")").Scan(&keys)
		return rows, keys
	}
	r0, k0 := rowsOf("application.1m")
	if err := ts.st.Maintain(time.Now()); err != nil {
		t.Fatal(err)
	}
	r1, k1 := rowsOf("application.1m")
	compareMetrics(t, storedMetrics(t, ts.st, tags), want)
	if merged := ts.st.Stats().Metrics.Merged; r1 >= r0 || k1 != k0 || merged == 0 {
		t.Fatalf("application.1m: %d rows of %d keys before Maintain, %d rows of %d keys after, %d merged", r0, k0, r1, k1, merged)
	}
	t.Logf("application.1m: %d partial rows of %d windows and keys, %d after Maintain", r0, k0, r1)
	// What the comparison covered.
	var req, pkts, retrans, rrtMax, flushes uint64
	for k, v := range got {
		if strings.HasPrefix(k, "application.1m|") {
			req += v["request"]
			rrtMax = max(rrtMax, v["rrt_max"])
		}
		if strings.HasPrefix(k, "network.1s|") {
			pkts += v["packet_tx"] + v["packet_rx"]
			retrans += v["retrans_tx"] + v["retrans_rx"]
		}
	}
	flushes = ts.st.Stats().Metrics.Flushes
	if req < 1000 || pkts == 0 || rrtMax == 0 || flushes < 2 {
		t.Fatalf("%d requests, %d packets, rrt_max %d, %d flushes", req, pkts, rrtMax, flushes)
	}
	t.Logf("%d series equal; %d requests, %d packets, %d retransmissions, %d flushes", len(want), req, pkts, retrans, flushes)

	// Resent batches: every capture again through a fresh agent would
	// be new batches; the sender's own retries are the duplicates. Post
	// one stored batch again by hand: acknowledged, not counted.
	before := storedMetrics(t, ts.st, tags)
	frame := frameOf(t, 100)
	if code, msg := post(t, ts.url, token, "dup-1", frame); code != 200 {
		t.Fatal(code, msg)
	}
	if err := ts.st.FlushMetrics(); err != nil {
		t.Fatal(err)
	}
	once := storedMetrics(t, ts.st, tags)
	if code, msg := post(t, ts.url, token, "dup-1", frame); code != 200 {
		t.Fatal(code, msg)
	}
	if err := ts.st.FlushMetrics(); err != nil {
		t.Fatal(err)
	}
	twice := storedMetrics(t, ts.st, tags)
	if fmt.Sprint(once) != fmt.Sprint(twice) || fmt.Sprint(once) == fmt.Sprint(before) {
		t.Fatalf("a resent batch changed the metrics (or the first did not)")
	}

	// The query API over the metric tables: per service, the requests of
	// each window add up to the stored ones.
	for _, iv := range []string{"1s", "1m"} {
		var ans query.MetricsAnswer
		u := ts.url + "/api/v1/metrics/application?interval=" + iv + "&group=service&" + url.Values{"service_1": {"svc-6379"}}.Encode()
		if code := getJSON(t, u, token, &ans); code != 200 {
			t.Fatalf("%s: %d", u, code)
		}
		var n uint64
		for _, s := range ans.Series {
			if s.Group["service"] != "svc-6379" {
				t.Fatalf("series %v", s.Group)
			}
			for _, p := range s.Points {
				n += uint64(p.Values["request"])
			}
		}
		var wantN uint64
		for k, v := range twice {
			if strings.HasPrefix(k, "application.1"+iv[1:]+"|") && strings.HasSuffix(k, "|svc-6379") {
				wantN += v["request"]
			}
		}
		if n == 0 || n != wantN {
			t.Fatalf("interval %s: %d redis requests through the API, %d stored", iv, n, wantN)
		}
	}
}

// TestServer_MetricsAPI checks the metric endpoints' groups against the
// stored tables, their refusals, and the retention of Maintain.
func TestServer_MetricsAPI(t *testing.T) {
	const token = "a"
	ts := startServer(t, options{db: filepath.Join(t.TempDir(), "api.duckdb"), token: token, maxBytes: 64 << 20,
		metricsFlush: time.Hour, metricsRet1s: 24 * time.Hour, metricsRet: "application.1m=1h"})
	for _, pcap := range []string{"../../testdata/l7/http-nginx.pcap", "../../testdata/l7/redis.pcap", "../../testdata/l7/mysql.pcap"} {
		ref := refAggregator(t, nil, metricSet{})
		if st := replayAgg(t, pcap, ts.url, token, ref); st.Acked != st.Batches {
			t.Fatalf("%s: %+v", pcap, st)
		}
	}
	if err := ts.st.FlushMetrics(); err != nil {
		t.Fatal(err)
	}
	tags := []aggregate.TagKey{{Side: tag.Client, Key: "pod"}, {Side: tag.Server, Key: "service"}}
	stored := storedMetrics(t, ts.st, tags)
	sum := func(table, metric string, match func(key string) bool) float64 {
		var n float64
		for k, v := range stored {
			if strings.HasPrefix(k, table+"|") && match(k) {
				n += float64(v[metric])
			}
		}
		return n
	}
	get := func(path string) query.MetricsAnswer {
		t.Helper()
		var ans query.MetricsAnswer
		if code := getJSON(t, ts.url+path, token, &ans); code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		return ans
	}
	total := func(ans query.MetricsAnswer, metric string, match func(g map[string]string) bool) float64 {
		var n float64
		for _, s := range ans.Series {
			if match(s.Group) {
				for _, p := range s.Points {
					n += p.Values[metric]
				}
			}
		}
		return n
	}
	all := func(string) bool { return true }
	any := func(map[string]string) bool { return true }
	cases := []struct {
		path, table, metric string
	}{
		{"/api/v1/metrics/application?interval=1s&group=edge", "application_map.1s", "request"},
		{"/api/v1/metrics/application?interval=1m&group=endpoint", "application.1m", "response"},
		{"/api/v1/metrics/network?interval=1s", "network.1s", "byte_tx"},
		{"/api/v1/metrics/network?interval=1m&group=edge", "network_map.1m", "packet_rx"},
	}
	for _, c := range cases {
		got, want := total(get(c.path), c.metric, any), sum(c.table, c.metric, all)
		if got != want || want == 0 {
			t.Fatalf("%s: %s %v through the API, %v stored", c.path, c.metric, got, want)
		}
	}
	// Edges by name, filtered by the client's pod.
	ans := get("/api/v1/metrics/application?interval=1m&group=edge&service_1=svc-6379")
	if len(ans.Series) == 0 {
		t.Fatal("no redis edge")
	}
	for _, s := range ans.Series {
		if s.Group["server"] != "svc-6379" || !strings.HasPrefix(s.Group["client"], "pod-") || s.Group["l7_protocol"] != "Redis" {
			t.Fatalf("edge %v", s.Group)
		}
		for _, p := range s.Points {
			if p.Values["rate"] != p.Values["request"]/60 || p.Values["error"] > p.Values["request"] {
				t.Fatalf("derived values %v", p.Values)
			}
		}
	}
	if a := get("/api/v1/metrics/network?service_1=no-such"); len(a.Series) != 0 {
		t.Fatalf("unknown service: %d series", len(a.Series))
	}
	for _, bad := range []string{
		"/api/v1/metrics/network?interval=5m", "/api/v1/metrics/network?group=endpoint",
		"/api/v1/metrics/network?pod_0=x", "/api/v1/metrics/application?endpoint_x=1",
		"/api/v1/metrics/application?server_port=http", "/api/v1/metrics/application?from=yesterday",
	} {
		if code := getJSON(t, ts.url+bad, token, nil); code != 400 {
			t.Fatalf("%s: %d, want 400", bad, code)
		}
	}
	if code := getJSON(t, ts.url+"/api/v1/metrics/network", "", nil); code != 401 {
		t.Fatalf("without the token: %d", code)
	}
	// Retention: the captures are older than a day: Maintain deletes
	// every 1 s row and application.1m's, and keeps network.1m's.
	if err := ts.st.Maintain(time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		table string
		kept  bool
	}{{"network.1s", false}, {"application_map.1s", false}, {"application.1m", false}, {"network.1m", true}, {"application_map.1m", true}} {
		var n int
		ts.st.DB().QueryRow("SELECT count(*) FROM " + store.Quote(c.table)).Scan(&n)
		if (n > 0) != c.kept {
			t.Fatalf("%s: %d rows after Maintain", c.table, n)
		}
	}
	if ts.st.Stats().Metrics.Deleted == 0 {
		t.Fatal("nothing deleted counted")
	}
}

// teamStage adds a tag key that is not one of the store's defaults.
type teamStage struct{ tagStage }

func (s teamStage) ProcessL7(r *l7.Record) bool {
	s.tagStage.ProcessL7(r)
	r.Tags.Set(tag.Server, "team", "team-"+strconv.Itoa(int(r.Server.Port()%2)))
	return true
}

// TestServer_MetricsNewTagKey: a batch with a new tag key adds its
// columns to the metric tables too, filled in the same flush.
func TestServer_MetricsNewTagKey(t *testing.T) {
	ts := startServer(t, options{db: filepath.Join(t.TempDir(), "key.duckdb"), maxBytes: 64 << 20, metricsFlush: time.Hour})
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile("../../testdata/l7/redis-pipeline.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var c collect
	cfg := pipeline.Config{Shards: 1, Source: src, Stages: []pipeline.Stage{teamStage{}}, Sinks: []pipeline.SinkConfig{{Sink: &c}}}
	cfg.L7.Registry = reg
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	enc, _ := encoding.NewEncoder(nil)
	for _, r := range c.l7 {
		enc.AddL7(r)
	}
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := post(t, ts.url, "", "team-1", f); code != 200 {
		t.Fatal(code, msg)
	}
	if err := ts.st.FlushMetrics(); err != nil {
		t.Fatal(err)
	}
	tags := []aggregate.TagKey{{Side: tag.Server, Key: "team"}}
	got := storedMetrics(t, ts.st, tags)
	var n uint64
	for k, v := range got {
		if strings.HasPrefix(k, "application_map.1m|") && strings.HasSuffix(k, "|team-1") {
			n += v["request"]
		}
	}
	if n == 0 || n != uint64(len(c.l7)) {
		t.Fatalf("%d requests of team-1 in application_map.1m, %d records", n, len(c.l7))
	}
}
