package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/metaflow-go/metaflow/aggregate"
	"github.com/metaflow-go/metaflow/aggregate/otlp"
	"github.com/metaflow-go/metaflow/aggregate/prometheus"
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/pipeline"
)

// metricsOptions are the flags of the metrics hook: AutoMetrics from the
// aggregate package, with its service map and exporters.
type metricsOptions struct {
	mapFile     string
	metricsAddr string
	otlpURL     string
}

// metricsFlags holds the flags of the last parse (registerMetricsFlags
// resets them).
var metricsFlags metricsOptions

// registerMetricsFlags adds -map, -metrics-addr and -otlp-endpoint to fs.
func registerMetricsFlags(fs *flag.FlagSet) {
	o := &metricsFlags
	fs.StringVar(&o.mapFile, "map", "", "write the service map to `file` at the end: Graphviz DOT for .dot or .gv, JSON otherwise")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on `addr` (\":9100\") at /metrics; a replay keeps serving until interrupted")
	fs.StringVar(&o.otlpURL, "otlp-endpoint", "", "send 1 min metrics to an OTLP/HTTP `url` (\"http://localhost:4318/v1/metrics\")")
}

// metricsHook is the aggregator and its consumers attached to a pipeline.
type metricsHook struct {
	opts   metricsOptions
	stderr io.Writer
	agg    *aggregate.Aggregator
	smap   *aggregate.ServiceMap
	prom   *prometheus.Exporter
	otlp   *otlp.Exporter
	srv    *http.Server
	addr   string
	replay bool
}

// attachMetrics adds an Aggregator sink to cfg when a metrics flag is
// set, and starts the Prometheus listener; nil without metrics flags.
func attachMetrics(cfg *pipeline.Config, stderr io.Writer) (*metricsHook, error) {
	o := metricsFlags
	if o.mapFile == "" && o.metricsAddr == "" && o.otlpURL == "" {
		return nil, nil
	}
	m := &metricsHook{opts: o, stderr: stderr, replay: cfg.Source != nil && !isLive(cfg.Source)}
	var consumers []func(*aggregate.Window)
	if o.mapFile != "" {
		m.smap = aggregate.NewServiceMap()
		consumers = append(consumers, m.smap.Add)
	}
	if o.metricsAddr != "" {
		m.prom = prometheus.New(nil)
		consumers = append(consumers, m.prom.Add)
		ln, err := net.Listen("tcp", o.metricsAddr)
		if err != nil {
			return nil, fmt.Errorf("-metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", m.prom.Handler())
		m.srv = &http.Server{Handler: mux}
		m.addr = ln.Addr().String()
		go m.srv.Serve(ln)
	}
	if o.otlpURL != "" {
		m.otlp = otlp.New(&otlp.Config{Endpoint: o.otlpURL, ServiceName: "metaflow-agent"})
		consumers = append(consumers, m.otlp.Add)
	}
	agg, err := aggregate.New(&aggregate.Config{OnWindow: func(w *aggregate.Window) {
		for _, c := range consumers {
			c(w)
		}
	}})
	if err != nil {
		return nil, err
	}
	m.agg = agg
	cfg.Sinks = append(cfg.Sinks, pipeline.SinkConfig{Sink: agg})
	return m, nil
}

// isLive reports whether a source is a live capture.
func isLive(src capture.Source) bool {
	l, ok := src.(capture.LiveSource)
	return ok && l.Live()
}

// finish closes the windows, writes the map and sends the last OTLP
// windows, once the pipeline has returned err. A replay with -metrics-addr
// keeps serving until ctx is cancelled (SIGINT, SIGTERM).
func (m *metricsHook) finish(ctx context.Context, err error) error {
	if m == nil {
		return err
	}
	m.agg.Close()
	var errs []error
	if m.smap != nil {
		if werr := m.writeMap(); werr != nil {
			errs = append(errs, fmt.Errorf("-map: %w", werr))
		}
	}
	if m.otlp != nil {
		if oerr := m.otlp.Close(); oerr != nil {
			errs = append(errs, fmt.Errorf("-otlp-endpoint: %w", oerr))
		}
	}
	if m.srv != nil {
		if m.replay && ctx.Err() == nil && err == nil {
			fmt.Fprintf(m.stderr, "metrics served on http://%s/metrics until interrupted\n", m.addr)
			<-ctx.Done()
		}
		m.srv.Close()
	}
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

func (m *metricsHook) writeMap() error {
	f, err := os.Create(m.opts.mapFile)
	if err != nil {
		return err
	}
	if strings.HasSuffix(m.opts.mapFile, ".dot") || strings.HasSuffix(m.opts.mapFile, ".gv") {
		err = m.smap.WriteDOT(f)
	} else {
		err = m.smap.WriteJSON(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
