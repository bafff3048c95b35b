package otlp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metaflow-go/metaflow/aggregate"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// Config tunes an Exporter. The zero value means defaults.
type Config struct {
	// Endpoint is the OTLP/HTTP metrics URL. Default
	// "http://localhost:4318/v1/metrics".
	Endpoint string
	// Client sends the requests. Default: an http.Client with a 10 s
	// timeout.
	Client *http.Client
	// ServiceName is the resource's service.name. Default "metaflow".
	ServiceName string
	// Second exports 1 s windows (and Late ones) instead of 1 min windows.
	Second bool
	// Queue is how many windows may wait to be sent. Default 64.
	Queue int
}

// Stats counts what an Exporter did.
type Stats struct {
	Windows  uint64 // windows converted
	Requests uint64 // requests sent and accepted
	Failed   uint64 // requests that failed
	Dropped  uint64 // windows dropped because the queue was full
}

// Exporter converts windows into OTLP requests and sends them.
type Exporter struct {
	cfg   Config
	q     chan *colmetricspb.ExportMetricsServiceRequest
	done  chan struct{}
	once  sync.Once
	stats struct{ windows, requests, failed, dropped atomic.Uint64 }
	mu    sync.Mutex
	err   error
}

// New returns an Exporter and starts its sending goroutine; nil c means
// defaults. Close stops it.
func New(c *Config) *Exporter {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = "http://localhost:4318/v1/metrics"
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "metaflow"
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	e := &Exporter{cfg: cfg, q: make(chan *colmetricspb.ExportMetricsServiceRequest, cfg.Queue), done: make(chan struct{})}
	go e.run()
	return e
}

// Add converts a window and queues it for sending: 1 min windows, or 1 s
// ones (Late included) with Config.Second; others are skipped. Use it as
// aggregate.Config.OnWindow, or call it from there.
func (e *Exporter) Add(w *aggregate.Window) {
	if (w.Interval == aggregate.Second) != e.cfg.Second {
		return
	}
	req := e.convert(w)
	e.stats.windows.Add(1)
	select {
	case e.q <- req:
	default:
		e.stats.dropped.Add(1)
	}
}

// Close sends what is queued, stops the sending goroutine and returns the
// last send error. Add must not be called after Close.
func (e *Exporter) Close() error {
	e.once.Do(func() { close(e.q) })
	<-e.done
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Stats returns the counters.
func (e *Exporter) Stats() Stats {
	return Stats{Windows: e.stats.windows.Load(), Requests: e.stats.requests.Load(),
		Failed: e.stats.failed.Load(), Dropped: e.stats.dropped.Load()}
}

func (e *Exporter) run() {
	defer close(e.done)
	for req := range e.q {
		if err := e.send(req); err != nil {
			e.stats.failed.Add(1)
			e.mu.Lock()
			e.err = err
			e.mu.Unlock()
			continue
		}
		e.stats.requests.Add(1)
	}
}

// ErrStatus is returned (wrapped) when the receiver answers with a status
// other than 2xx.
var ErrStatus = errors.New("otlp: receiver refused the request")

func (e *Exporter) send(req *colmetricspb.ExportMetricsServiceRequest) error {
	body, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	hr, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := e.cfg.Client.Do(hr)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s", ErrStatus, resp.Status)
	}
	return nil
}

// units of the counters, by DeepFlow name.
func unit(name string) string {
	switch name {
	case "packet_tx", "packet_rx", "retrans_tx", "retrans_rx", "zero_win_tx", "zero_win_rx", "ooo_tx", "ooo_rx",
		"syn_count", "synack_count", "retrans_syn", "retrans_synack":
		return "{packet}"
	case "byte_tx", "byte_rx", "l4_byte_tx", "l4_byte_rx":
		return "By"
	case "l7_request", "request":
		return "{request}"
	case "l7_response", "response":
		return "{response}"
	case "client_error", "server_error", "timeout":
		return "{request}"
	}
	return "{flow}"
}

// latencies of the network metrics.
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

func isLatencyField(name string) bool {
	for _, l := range netLatencies {
		if name == l.name+"_sum" || name == l.name+"_count" || name == l.name+"_max" {
			return true
		}
	}
	return name == "rrt_sum" || name == "rrt_count" || name == "rrt_max"
}

// builder gathers a window's points by metric name.
type builder struct {
	prefix     string
	start, end uint64
	metrics    []*metricspb.Metric
	byName     map[string]*metricspb.Metric
}

func (b *builder) metric(name, unit string, mk func() *metricspb.Metric) *metricspb.Metric {
	m := b.byName[name]
	if m == nil {
		m = mk()
		m.Name, m.Unit = b.prefix+name, unit
		b.byName[name] = m
		b.metrics = append(b.metrics, m)
	}
	return m
}

func (b *builder) sum(name string, v uint64, attrs []*commonpb.KeyValue) {
	m := b.metric(name, unit(name), func() *metricspb.Metric {
		return &metricspb.Metric{Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA, IsMonotonic: true}}}
	})
	s := m.GetSum()
	s.DataPoints = append(s.DataPoints, &metricspb.NumberDataPoint{Attributes: attrs, StartTimeUnixNano: b.start,
		TimeUnixNano: b.end, Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(v)}})
}

func (b *builder) latency(name string, l *aggregate.Latency, sk *aggregate.Sketch, attrs []*commonpb.KeyValue) {
	m := b.metric(name, "s", func() *metricspb.Metric {
		return &metricspb.Metric{Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{}}}
	})
	p := &metricspb.SummaryDataPoint{Attributes: attrs, StartTimeUnixNano: b.start, TimeUnixNano: b.end,
		Count: l.Count, Sum: float64(l.Sum) / 1e6}
	if sk != nil && sk.Count() > 0 {
		for _, q := range aggregate.AppQuantiles {
			p.QuantileValues = append(p.QuantileValues, &metricspb.SummaryDataPoint_ValueAtQuantile{Quantile: q, Value: sk.Quantile(q) / 1e6})
		}
	}
	m.GetSummary().DataPoints = append(m.GetSummary().DataPoints, p)
	g := b.metric(name+".max", "s", func() *metricspb.Metric {
		return &metricspb.Metric{Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{}}}
	})
	g.GetGauge().DataPoints = append(g.GetGauge().DataPoints, &metricspb.NumberDataPoint{Attributes: attrs,
		StartTimeUnixNano: b.start, TimeUnixNano: b.end, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: float64(l.Max) / 1e6}})
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// attributes returns a series' attributes.
func attributes(v *aggregate.View, k *aggregate.Key) []*commonpb.KeyValue {
	if k.Overflow {
		return []*commonpb.KeyValue{{Key: "metaflow.overflow", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}}}
	}
	var a []*commonpb.KeyValue
	if v.Fields&aggregate.FieldClientIP != 0 && k.ClientIP.IsValid() {
		a = append(a, str("client.address", k.ClientIP.String()))
	}
	if v.Fields&aggregate.FieldServerIP != 0 && k.ServerIP.IsValid() {
		a = append(a, str("server.address", k.ServerIP.String()))
	}
	if v.Fields&aggregate.FieldServerPort != 0 {
		a = append(a, &commonpb.KeyValue{Key: "server.port", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(k.ServerPort)}}})
	}
	if v.Fields&aggregate.FieldProtocol != 0 {
		t := strconv.Itoa(int(k.Protocol))
		switch k.Protocol {
		case 6:
			t = "tcp"
		case 17:
			t = "udp"
		case 1, 58:
			t = "icmp"
		}
		a = append(a, str("network.transport", t))
	}
	if v.Fields&aggregate.FieldL7Protocol != 0 {
		a = append(a, str("metaflow.l7_protocol", k.L7Protocol))
	}
	if v.Fields&aggregate.FieldEndpoint != 0 {
		a = append(a, str("metaflow.endpoint", k.Endpoint))
	}
	for i, t := range v.Tags {
		a = append(a, str(t.Key+"_"+strconv.Itoa(int(t.Side)), k.Tags[i]))
	}
	return a
}

// convert turns a window into one request.
func (e *Exporter) convert(w *aggregate.Window) *colmetricspb.ExportMetricsServiceRequest {
	b := &builder{prefix: "metaflow." + w.View.Name + ".", start: uint64(w.Start.UnixNano()),
		end: uint64(w.Start.Add(w.Interval).UnixNano()), byName: map[string]*metricspb.Metric{}}
	for i := range w.Series {
		s := &w.Series[i]
		attrs := attributes(w.View, &s.Key)
		if m := s.Net; m != nil {
			for _, f := range aggregate.NetworkFields {
				if !isLatencyField(f.Name) {
					b.sum(f.Name, f.Value(m), attrs)
				}
			}
			for _, l := range netLatencies {
				b.latency(l.name, l.get(m), nil, attrs)
			}
		}
		if m := s.App; m != nil {
			for _, f := range aggregate.AppFields {
				if !isLatencyField(f.Name) {
					b.sum(f.Name, f.Value(m), attrs)
				}
			}
			b.latency("rrt", &m.RRT, &m.Latency, attrs)
		}
	}
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", e.cfg.ServiceName)}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{
			Scope:   &commonpb.InstrumentationScope{Name: "github.com/metaflow-go/metaflow/aggregate"},
			Metrics: b.metrics,
		}},
	}}}
}
