package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/examples/server/query"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/examples/server/web"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "server:", err)
		}
		os.Exit(2)
	}
}

type options struct {
	listen string
	db     string
	token  string
	// per-surface tokens; each defaults to token (tokens())
	ingestToken, queryToken, pageToken string
	// TLS: certificate and key files of every listener (tlsConfig())
	tlsCert, tlsKey string
	retention       time.Duration
	maxBytes        int64
	// metric tables (store.MetricsConfig)
	metricsFlush               time.Duration
	metricsRet1s, metricsRet1m time.Duration
	metricsRet                 string
	metricsOff                 bool   // no metric tables (benchmarks only: the metric endpoints need them)
	rowGroup                   int    // rows of a DuckDB row group (store.Config.RowGroupSize)
	otlpGRPC                   string // OTLP/gRPC listen address ("" none)
	maxExt                     int64  // largest ecosystem request
	// demo: a temporary store filled with the shipped captures (demo.go).
	demo         bool
	demoCaptures string
	// clickhouse: the ClickHouse server the records go to instead of
	// DuckDB (clickhouse.go).
	clickhouse, chDatabase, chUser, chPassword string
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:26700", "listen on `addr`")
	fs.StringVar(&o.db, "db", "metaflow.duckdb", "DuckDB `file` (\":memory:\" keeps nothing)")
	fs.StringVar(&o.token, "token", "", "the default `token` of ingest, the query API and the page (\"Authorization: Bearer token\")")
	fs.StringVar(&o.ingestToken, "ingest-token", "", "require `token` on agent and ecosystem ingest (default -token)")
	fs.StringVar(&o.queryToken, "query-token", "", "require `token` on the query API and /api/v1/stats (default -token)")
	fs.StringVar(&o.pageToken, "page-token", "", "require `token` for the web page's files, by its sign-in cookie (default -token)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS (and OTLP/gRPC over TLS) with the PEM certificate chain of `file`")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the PEM private key `file` of -tls-cert")
	fs.DurationVar(&o.retention, "retention", 0, "delete records older than `duration` (0: keep everything)")
	fs.Int64Var(&o.maxBytes, "max-batch", 64<<20, "largest batch accepted, in `bytes`")
	fs.IntVar(&o.rowGroup, "row-group-size", store.DefaultRowGroupSize, "`rows` of a DuckDB row group, a multiple of 2048: a batch of at least that many rows of a table is written compressed at its commit, not to the WAL (122880, DuckDB's default: a file about half as large, slower ingest)")
	fs.DurationVar(&o.metricsFlush, "metrics-flush", store.DefaultMetricsFlush, "write the metric windows of stored batches at least every `duration`")
	fs.DurationVar(&o.metricsRet1s, "metrics-retention-1s", 0, "delete the rows of the 1 s metric tables older than `duration` (0: keep)")
	fs.DurationVar(&o.metricsRet1m, "metrics-retention-1m", 0, "delete the rows of the 1 min metric tables older than `duration` (0: keep)")
	fs.StringVar(&o.metricsRet, "metrics-retention", "", "retention of single metric tables: `table=duration,...` (network.1s=24h,application.1m=720h)")
	fs.StringVar(&o.otlpGRPC, "otlp-grpc", "", "serve OTLP/gRPC (traces, metrics) on `addr` (e.g. 127.0.0.1:4317)")
	fs.Int64Var(&o.maxExt, "max-ext", ingest.DefaultExtMaxBytes, "largest OTLP, remote write or Influx request, in `bytes` (also once decompressed)")
	fs.BoolVar(&o.demo, "demo", false, "demo: a temporary store, filled with the shipped captures replayed through an in-process agent")
	fs.StringVar(&o.demoCaptures, "demo-captures", "", "the demo's captures: every *.pcap of `dir` (default testdata/l7 of the repository)")
	chFlags(fs, &o) // clickhouse.go
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.retention < 0 || o.maxBytes <= 0 || o.maxExt <= 0 {
		return o, errors.New("-retention, -max-batch and -max-ext must be positive")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return o, errors.New("-tls-cert and -tls-key go together")
	}
	if o.demo && o.tlsCert != "" {
		return o, errors.New("-demo serves plaintext on localhost: drop -tls-cert")
	}
	return o, nil
}

// tokens returns the tokens of ingest, the query API and the page: each
// its own flag's, else -token.
func (o options) tokens() (ingest, query, page string) {
	or := func(s string) string {
		if s != "" {
			return s
		}
		return o.token
	}
	return or(o.ingestToken), or(o.queryToken), or(o.pageToken)
}

// tlsConfig returns the servers' TLS configuration of -tls-cert and
// -tls-key, nil without them.
func (o options) tlsConfig() (*tls.Config, error) {
	if o.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert, -tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// serveHTTP serves hs on ln, over TLS when tc is set.
func serveHTTP(hs *http.Server, ln net.Listener, tc *tls.Config) error {
	var err error
	if tc != nil {
		hs.TLSConfig = tc
		err = hs.ServeTLS(ln, "", "")
	} else {
		err = hs.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// warnPlaintext logs when tokens would cross the network in plaintext: a
// token set, no TLS, and an address that is not loopback.
func warnPlaintext(o options, tc *tls.Config, addr net.Addr, stderr io.Writer) {
	i, q, p := o.tokens()
	ta, ok := addr.(*net.TCPAddr)
	if tc != nil || i+q+p == "" || !ok || ta.IP.IsLoopback() {
		return
	}
	log.New(stderr, "", log.LstdFlags).Printf("server: warning: tokens travel in plaintext on %s; serve TLS with -tls-cert and -tls-key", addr)
}

func scheme(tc *tls.Config) string {
	if tc != nil {
		return "https"
	}
	return "http"
}

// server is the store and its HTTP endpoints.
type server struct {
	st   *store.Store
	ing  *ingest.Handler
	ext  *ingest.Ext // OTLP, remote write, Influx
	api  *query.API
	page *web.Page
	mux  *http.ServeMux
}

func newServer(o options) (*server, error) {
	mc, err := metricsConfig(o)
	if err != nil {
		return nil, err
	}
	mc.Off = o.metricsOff
	st, err := store.Open(store.Config{Path: o.db, Retention: o.retention, Metrics: mc, RowGroupSize: o.rowGroup})
	if err != nil {
		return nil, err
	}
	ingTok, queryTok, pageTok := o.tokens()
	ing, err := ingest.New(ingest.Config{Store: st, Token: ingTok, MaxBytes: o.maxBytes})
	if err != nil {
		st.Close()
		return nil, err
	}
	ext, err := ingest.NewExt(ingest.ExtConfig{Store: st, Token: ingTok, MaxBytes: o.maxExt})
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &server{st: st, ing: ing, ext: ext, api: query.New(st, queryTok), mux: http.NewServeMux(),
		page: web.New(web.Config{Token: pageTok, QueryToken: queryTok})}
	s.mux.Handle(ingest.Path, ing)
	ext.Register(s.mux)
	s.api.Register(s.mux)
	s.mux.Handle("/", s.page)
	s.mux.HandleFunc("GET /api/v1/stats", func(w http.ResponseWriter, r *http.Request) {
		if !s.api.Authorize(w, r) { // the query token, counted in Query
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.stats())
	})
	return s, nil
}

// Stats is the answer of /api/v1/stats.
type Stats struct {
	Ingest ingest.Stats `json:"ingest"`
	// Ecosystem counts OTLP, remote write and Influx requests;
	// EcosystemStore the store's side of them.
	Ecosystem      ingest.ExtStats `json:"ecosystem"`
	EcosystemStore store.ExtStats  `json:"ecosystem_store"`
	Query          query.Stats     `json:"query"`
	Page           web.Stats       `json:"page"`
	Store          store.Stats     `json:"store"`
}

func (s *server) stats() Stats {
	return Stats{Ingest: s.ing.Stats(), Query: s.api.Stats(), Page: s.page.Stats(), Store: s.st.Stats(),
		Ecosystem: s.ext.Stats(), EcosystemStore: s.st.ExtStats()}
}

func run(args []string, stderr io.Writer) error {
	return runContext(context.Background(), args, stderr)
}

// runContext is run, stopped also when parent is done.
func runContext(parent context.Context, args []string, stderr io.Writer) error {
	o, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	if o.clickhouse != "" {
		return runClickHouse(parent, o, stderr) // clickhouse.go
	}
	if o.demo {
		cleanup, err := demoStore(&o)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	tc, err := o.tlsConfig()
	if err != nil {
		return err
	}
	s, err := newServer(o)
	if err != nil {
		return err
	}
	defer s.st.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	log.New(stderr, "", log.LstdFlags).Printf("server: listening on %s://%s, store %s", scheme(tc), ln.Addr(), o.db)
	warnPlaintext(o, tc, ln.Addr(), stderr)
	if o.otlpGRPC != "" {
		gln, err := net.Listen("tcp", o.otlpGRPC)
		if err != nil {
			ln.Close()
			return err
		}
		var gopts []grpc.ServerOption
		if tc != nil {
			gopts = append(gopts, grpc.Creds(credentials.NewTLS(tc)))
		}
		gs := s.ext.NewGRPCServer(gopts...)
		defer gs.Stop()
		go gs.Serve(gln)
		log.New(stderr, "", log.LstdFlags).Printf("server: OTLP/gRPC on %s", gln.Addr())
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(stderr, "server: http: ", log.LstdFlags)}
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if err := s.st.Maintain(now); err != nil {
					log.New(stderr, "", log.LstdFlags).Printf("server: maintenance: %v", err)
				}
			}
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if o.demo {
		go startDemo(ctx, o, ln.Addr().String(), stderr)
	}
	return serveHTTP(hs, ln, tc)
}
