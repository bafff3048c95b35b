package prometheus

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/metaflow-go/metaflow/aggregate"
	"github.com/metaflow-go/metaflow/flow"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config tunes an Exporter. The zero value means defaults.
type Config struct {
	// Namespace prefixes every metric name. Default "metaflow".
	Namespace string
}

// Exporter keeps cumulative metrics of the windows it is given and
// serves them to Prometheus. It is a prometheus.Collector.
type Exporter struct {
	ns    string
	mu    sync.Mutex
	views map[string]*viewState
	order []string
}

type viewState struct {
	v      aggregate.View
	labels []string
	r      *aggregate.Rollup
	descs  map[string]*prom.Desc
}

// New returns an Exporter; nil c means defaults.
func New(c *Config) *Exporter {
	e := &Exporter{ns: "metaflow", views: map[string]*viewState{}}
	if c != nil && c.Namespace != "" {
		e.ns = c.Namespace
	}
	return e
}

// Add sums a window into the cumulative metrics: the counters of 1 s
// windows, Late ones included, and the latency sketches of 1 min windows
// (1 s windows carry none). Use it as aggregate.Config.OnWindow, or call
// it from there.
func (e *Exporter) Add(w *aggregate.Window) {
	e.mu.Lock()
	defer e.mu.Unlock()
	vs := e.views[w.View.Name]
	if vs == nil {
		vs = &viewState{v: *w.View, labels: labelNames(w.View), r: aggregate.NewRollup(), descs: map[string]*prom.Desc{}}
		e.views[w.View.Name] = vs
		e.order = append(e.order, w.View.Name)
	}
	if w.Interval == aggregate.Second {
		vs.r.Add(w)
		return
	}
	for i := range w.Series {
		sr := &w.Series[i]
		if sr.App == nil || sr.App.Latency.Count() == 0 {
			continue
		}
		m := vs.r.App[sr.Key]
		if m == nil {
			m = new(aggregate.AppMetrics)
			vs.r.App[sr.Key] = m
		}
		m.Latency.Merge(&sr.App.Latency)
	}
}

// labelNames returns the label names of a view's keys.
func labelNames(v *aggregate.View) []string {
	var l []string
	add := func(f aggregate.Field, name string) {
		if v.Fields&f != 0 {
			l = append(l, name)
		}
	}
	add(aggregate.FieldClientIP, "client_ip")
	add(aggregate.FieldServerIP, "server_ip")
	add(aggregate.FieldServerPort, "server_port")
	add(aggregate.FieldProtocol, "protocol")
	add(aggregate.FieldL7Protocol, "l7_protocol")
	add(aggregate.FieldEndpoint, "endpoint")
	for _, t := range v.Tags {
		l = append(l, sanitize(t.Key)+"_"+strconv.Itoa(int(t.Side)))
	}
	return append(l, "overflow")
}

// sanitize makes a tag key a valid label name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			b[i] = '_'
		}
	}
	return string(b)
}

// labelValues returns k's values for a view's label names.
func labelValues(v *aggregate.View, k *aggregate.Key) []string {
	var l []string
	if k.Overflow {
		n := len(labelNames(v))
		l = make([]string, n)
		l[n-1] = "true"
		return l
	}
	add := func(f aggregate.Field, val string) {
		if v.Fields&f != 0 {
			l = append(l, val)
		}
	}
	ip := func(a interface {
		IsValid() bool
		String() string
	}) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	add(aggregate.FieldClientIP, ip(k.ClientIP))
	add(aggregate.FieldServerIP, ip(k.ServerIP))
	add(aggregate.FieldServerPort, strconv.Itoa(int(k.ServerPort)))
	add(aggregate.FieldProtocol, flow.ProtocolName(k.Protocol))
	add(aggregate.FieldL7Protocol, k.L7Protocol)
	add(aggregate.FieldEndpoint, k.Endpoint)
	for i := range v.Tags {
		l = append(l, k.Tags[i])
	}
	return append(l, "")
}

// Describe sends nothing: the Exporter is an unchecked collector, since
// its views are known only once windows come.
func (e *Exporter) Describe(chan<- *prom.Desc) {}

// latencies of the network metrics: DeepFlow name → accessor.
var netLatencies = []struct {
	name string
	get  func(*aggregate.NetworkMetrics) *aggregate.Latency
}{
	{"rtt", func(m *aggregate.NetworkMetrics) *aggregate.Latency { return &m.RTT }},
	{"rtt_client", func(m *aggregate.NetworkMetrics) *aggregate.Latency { return &m.RTTClient }},
	{"rtt_server", func(m *aggregate.NetworkMetrics) *aggregate.Latency { return &m.RTTServer }},
	{"srt", func(m *aggregate.NetworkMetrics) *aggregate.Latency { return &m.SRT }},
	{"art", func(m *aggregate.NetworkMetrics) *aggregate.Latency { return &m.ART }},
}

// counterName is the Prometheus name of a DeepFlow network counter, or
// "" for the latency fields (exported as seconds).
func counterName(name string) string {
	switch name {
	case "packet_tx":
		return "tx_packets_total"
	case "packet_rx":
		return "rx_packets_total"
	case "byte_tx":
		return "tx_bytes_total"
	case "byte_rx":
		return "rx_bytes_total"
	case "l4_byte_tx":
		return "l4_tx_bytes_total"
	case "l4_byte_rx":
		return "l4_rx_bytes_total"
	}
	for _, l := range netLatencies {
		if strings.HasPrefix(name, l.name+"_") && (name == l.name+"_sum" || name == l.name+"_count" || name == l.name+"_max") {
			return ""
		}
	}
	return name + "_total"
}

func (vs *viewState) desc(ns, name, help string) *prom.Desc {
	d := vs.descs[name]
	if d == nil {
		d = prom.NewDesc(ns+"_"+vs.v.Name+"_"+name, help, vs.labels, nil)
		vs.descs[name] = d
	}
	return d
}

// Collect sends the current cumulative metrics.
func (e *Exporter) Collect(ch chan<- prom.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, name := range e.order {
		vs := e.views[name]
		for k, m := range vs.r.Net {
			lv := labelValues(&vs.v, &k)
			for _, f := range aggregate.NetworkFields {
				n := counterName(f.Name)
				if n == "" {
					continue
				}
				ch <- prom.MustNewConstMetric(vs.desc(e.ns, n, "DeepFlow "+f.Name), prom.CounterValue, float64(f.Value(m)), lv...)
			}
			for _, l := range netLatencies {
				lat := l.get(m)
				ch <- prom.MustNewConstMetric(vs.desc(e.ns, l.name+"_seconds_sum", "DeepFlow "+l.name+"_sum, seconds"), prom.CounterValue, float64(lat.Sum)/1e6, lv...)
				ch <- prom.MustNewConstMetric(vs.desc(e.ns, l.name+"_seconds_count", "DeepFlow "+l.name+"_count"), prom.CounterValue, float64(lat.Count), lv...)
				ch <- prom.MustNewConstMetric(vs.desc(e.ns, l.name+"_max_seconds", "DeepFlow "+l.name+"_max, seconds, largest since start"), prom.GaugeValue, float64(lat.Max)/1e6, lv...)
			}
		}
		for k, m := range vs.r.App {
			lv := labelValues(&vs.v, &k)
			for _, f := range aggregate.AppFields {
				if strings.HasPrefix(f.Name, "rrt_") {
					continue
				}
				ch <- prom.MustNewConstMetric(vs.desc(e.ns, f.Name+"_total", "DeepFlow "+f.Name), prom.CounterValue, float64(f.Value(m)), lv...)
			}
			q := make(map[float64]float64, len(aggregate.AppQuantiles))
			for _, x := range aggregate.AppQuantiles {
				q[x] = m.Latency.Quantile(x) / 1e6
			}
			ch <- prom.MustNewConstSummary(vs.desc(e.ns, "rrt_seconds", "response time (DeepFlow rrt), seconds; quantiles within 1%"),
				m.RRT.Count, float64(m.RRT.Sum)/1e6, q, lv...)
			ch <- prom.MustNewConstMetric(vs.desc(e.ns, "rrt_max_seconds", "DeepFlow rrt_max, seconds, largest since start"), prom.GaugeValue, float64(m.RRT.Max)/1e6, lv...)
		}
	}
}

// Handler returns an HTTP handler serving the Exporter's metrics (and
// nothing else) in the exposition format.
func (e *Exporter) Handler() http.Handler {
	reg := prom.NewRegistry()
	reg.MustRegister(e)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
