package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/examples/server/query"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/examples/server/web"
)

func chFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.clickhouse, "clickhouse", "", "store in the ClickHouse server at `addr` (native protocol, e.g. 127.0.0.1:9000) instead of DuckDB: agent ingest, record search, service map and RED")
	fs.StringVar(&o.chDatabase, "clickhouse-db", clickhouse.DefaultDatabase, "ClickHouse `database` (created when missing)")
	fs.StringVar(&o.chUser, "clickhouse-user", "default", "ClickHouse `user`")
	fs.StringVar(&o.chPassword, "clickhouse-password", "", "ClickHouse `password` (also $CLICKHOUSE_PASSWORD)")
}

// chServer is the server on ClickHouse: the agent endpoint, the record
// queries and the page. The ecosystem ingest and the metric tables are
// DuckDB's and not served.
type chServer struct {
	st   *clickhouse.Store
	ing  *ingest.Handler
	api  *query.API
	page *web.Page
	mux  *http.ServeMux
}

// CHStats is the answer of /api/v1/stats on ClickHouse.
type CHStats struct {
	Ingest ingest.Stats `json:"ingest"`
	Query  query.Stats  `json:"query"`
	Page   web.Stats    `json:"page"`
	Store  store.Stats  `json:"store"`
}

func newCHServer(o options) (*chServer, error) {
	pw := o.chPassword
	if pw == "" {
		pw = os.Getenv("CLICKHOUSE_PASSWORD")
	}
	conn, err := clickhouse.Dial(clickhouse.DialConfig{Addr: o.clickhouse, User: o.chUser, Password: pw, Compress: true})
	if err != nil {
		return nil, err
	}
	compat, err := clickhouse.NeedsCompat(context.Background(), conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	st, err := clickhouse.Open(clickhouse.Config{Conn: conn, Database: o.chDatabase, Retention: o.retention, Compat: compat})
	if err != nil {
		conn.Close()
		return nil, err
	}
	ingTok, queryTok, pageTok := o.tokens()
	ing, err := ingest.New(ingest.Config{Backend: st, Token: ingTok, MaxBytes: o.maxBytes})
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &chServer{st: st, ing: ing, api: query.NewBackend(st, queryTok), mux: http.NewServeMux(),
		page: web.New(web.Config{Token: pageTok, QueryToken: queryTok})}
	s.mux.Handle(ingest.Path, ing)
	s.api.Register(s.mux)
	s.mux.Handle("/", s.page)
	s.mux.HandleFunc("GET /api/v1/stats", func(w http.ResponseWriter, r *http.Request) {
		if !s.api.Authorize(w, r) { // the query token, counted in Query
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(CHStats{Ingest: s.ing.Stats(), Query: s.api.Stats(), Page: s.page.Stats(), Store: s.st.Stats()})
	})
	return s, nil
}

// runClickHouse serves on ClickHouse until parent is done or a signal.
func runClickHouse(parent context.Context, o options, stderr io.Writer) error {
	if o.demo || o.otlpGRPC != "" {
		return errors.New("-demo and -otlp-grpc need the DuckDB store, not -clickhouse")
	}
	tc, err := o.tlsConfig()
	if err != nil {
		return err
	}
	s, err := newCHServer(o)
	if err != nil {
		return err
	}
	defer s.st.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "", log.LstdFlags)
	logger.Printf("server: listening on %s://%s, store ClickHouse %s database %s", scheme(tc), ln.Addr(), o.clickhouse, o.chDatabase)
	warnPlaintext(o, tc, ln.Addr(), stderr)
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(stderr, "server: http: ", log.LstdFlags)}
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				hs.Shutdown(sctx)
				return
			case now := <-t.C:
				if err := s.st.Maintain(now); err != nil {
					logger.Printf("server: maintenance: %v", err)
				}
			}
		}
	}()
	return serveHTTP(hs, ln, tc)
}
