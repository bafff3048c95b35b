package ingest

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP exporters may compress with gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

// NewGRPCServer returns a gRPC server with the OTLP TraceService and
// MetricsService (the collector's), taking messages up to MaxBytes (gRPC
// refuses larger ones with ResourceExhausted, counted as TooLarge); the
// caller serves it on its own listener. opts are added to the server's
// (grpc.Creds(credentials.NewTLS(...)) for TLS).
func (e *Ext) NewGRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{grpc.MaxRecvMsgSize(int(e.cfg.MaxBytes)), grpc.StatsHandler(grpcSizeCounter{e})}, opts...)
	s := grpc.NewServer(opts...)
	e.RegisterGRPC(s)
	return s
}

// RegisterGRPC registers the OTLP trace and metrics services on s.
func (e *Ext) RegisterGRPC(s *grpc.Server) {
	ptraceotlp.RegisterGRPCServer(s, &grpcTraces{e: e})
	pmetricotlp.RegisterGRPCServer(s, &grpcMetrics{e: e})
}

type grpcTraces struct {
	ptraceotlp.UnimplementedGRPCServer
	e *Ext
}

type grpcMetrics struct {
	pmetricotlp.UnimplementedGRPCServer
	e *Ext
}

func (g *grpcTraces) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	err := g.e.serveGRPC(ctx, func(b *store.ExtBatch) { TracesToBatch(req.Traces(), b) }, &g.e.stats.traces)
	return ptraceotlp.NewExportResponse(), err
}

func (g *grpcMetrics) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	err := g.e.serveGRPC(ctx, func(b *store.ExtBatch) {
		g.e.stats.skipped.Add(uint64(MetricsToBatch(req.Metrics(), b)))
	}, &g.e.stats.metrics)
	return pmetricotlp.NewExportResponse(), err
}

// serveGRPC is serve for a decoded gRPC request (gRPC decoded it and
// enforced the size limit).
func (e *Ext) serveGRPC(ctx context.Context, fill func(*store.ExtBatch), stored interface{ Add(uint64) uint64 }) error {
	e.stats.requests.Add(1)
	if e.cfg.Token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		ok := false
		for _, v := range md.Get("authorization") {
			got, found := strings.CutPrefix(v, "Bearer ")
			ok = ok || (found && constEq(got, e.cfg.Token))
		}
		if !ok {
			e.stats.unauth.Add(1)
			return status.Error(codes.Unauthenticated, "ingest: missing or wrong bearer token")
		}
	}
	b := e.pool.Get().(*store.ExtBatch)
	defer func() { b.Reset(); e.pool.Put(b) }()
	fill(b)
	err := e.storeBatch(b, stored)
	if err == nil {
		return nil
	}
	code, msg := e.count(err)
	c := codes.Internal
	if code == http.StatusBadRequest {
		c = codes.InvalidArgument
	}
	return status.Error(c, "ingest: "+msg)
}

func (e *Ext) storeBatch(b *store.ExtBatch, stored interface{ Add(uint64) uint64 }) error {
	if len(b.Spans)+len(b.Samples) > 0 {
		if _, err := e.cfg.Store.IngestExt(b); err != nil {
			return err
		}
	}
	stored.Add(1)
	e.stats.spans.Add(uint64(len(b.Spans)))
	e.stats.samples.Add(uint64(len(b.Samples)))
	return nil
}

// grpcSizeCounter counts the calls gRPC refuses before they reach a
// handler because their message is over the size limit.
type grpcSizeCounter struct{ e *Ext }

func (grpcSizeCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (grpcSizeCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (grpcSizeCounter) HandleConn(context.Context, stats.ConnStats) {}

func (g grpcSizeCounter) HandleRPC(_ context.Context, s stats.RPCStats) {
	if end, ok := s.(*stats.End); ok && status.Code(end.Error) == codes.ResourceExhausted {
		g.e.stats.requests.Add(1)
		g.e.stats.large.Add(1)
	}
}
