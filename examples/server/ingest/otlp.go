package ingest

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

// Paths of the ecosystem endpoints.
const (
	OTLPTracesPath  = "/v1/traces"    // OTLP/HTTP traces (protobuf or JSON)
	OTLPMetricsPath = "/v1/metrics"   // OTLP/HTTP metrics (protobuf or JSON)
	RemoteWritePath = "/api/v1/write" // Prometheus remote write 1.0
	InfluxV2Path    = "/api/v2/write" // Influx line protocol, v2 API
	InfluxV1Path    = "/write"        // Influx line protocol, v1 API
)

// DefaultExtMaxBytes is ExtConfig.MaxBytes's default.
const DefaultExtMaxBytes = 16 << 20

// ExtConfig configures an Ext.
type ExtConfig struct {
	Store *store.Store
	// Token, when set, must come as "Authorization: Bearer <Token>" (or
	// "Token <Token>", Influx's; or as the password of basic
	// authentication or the v1 "p" parameter, for Influx v1 clients), or
	// as gRPC "authorization" metadata.
	Token string
	// MaxBytes is the largest body accepted, before and after
	// decompression. Default DefaultExtMaxBytes.
	MaxBytes int64
	// Now stamps Influx lines without a timestamp. Default time.Now.
	Now func() time.Time
}

// ExtStats counts the requests of an Ext.
type ExtStats struct {
	Requests     uint64 `json:"requests"`
	OTLPTraces   uint64 `json:"otlp_traces"`  // requests stored, per protocol
	OTLPMetrics  uint64 `json:"otlp_metrics"` //
	RemoteWrite  uint64 `json:"remote_write"` //
	Influx       uint64 `json:"influx"`       //
	Spans        uint64 `json:"spans"`        // rows stored
	Samples      uint64 `json:"samples"`      //
	Skipped      uint64 `json:"skipped"`      // points not stored: native or exponential buckets, stale markers, empty points
	Unauthorized uint64 `json:"unauthorized"`
	BadRequest   uint64 `json:"bad_request"`
	TooLarge     uint64 `json:"too_large"`
	Unsupported  uint64 `json:"unsupported"` // unknown content type or encoding (415), other method (405)
	Failed       uint64 `json:"failed"`      // store errors (500)
}

// Ext serves the ecosystem endpoints: OTLP over HTTP (Register) and gRPC
// (RegisterGRPC), Prometheus remote write and Influx line protocol.
type Ext struct {
	cfg   ExtConfig
	pool  sync.Pool
	stats struct {
		requests, traces, metrics, rw, influx, spans, samples, skipped atomic.Uint64
		unauth, bad, large, unsupported, failed                        atomic.Uint64
	}
}

// NewExt returns an Ext.
func NewExt(cfg ExtConfig) (*Ext, error) {
	if cfg.Store == nil {
		return nil, errors.New("ingest: no store")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultExtMaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Ext{cfg: cfg}
	e.pool.New = func() any { return new(store.ExtBatch) }
	return e, nil
}

// Register adds the HTTP endpoints to mux.
func (e *Ext) Register(mux *http.ServeMux) {
	mux.HandleFunc(OTLPTracesPath, e.serveOTLPTraces)
	mux.HandleFunc(OTLPMetricsPath, e.serveOTLPMetrics)
	mux.HandleFunc(RemoteWritePath, e.serveRemoteWrite)
	mux.HandleFunc(InfluxV2Path, e.serveInflux)
	mux.HandleFunc(InfluxV1Path, e.serveInflux)
}

// Stats returns the counters.
func (e *Ext) Stats() ExtStats {
	s := &e.stats
	return ExtStats{
		Requests: s.requests.Load(), OTLPTraces: s.traces.Load(), OTLPMetrics: s.metrics.Load(),
		RemoteWrite: s.rw.Load(), Influx: s.influx.Load(), Spans: s.spans.Load(), Samples: s.samples.Load(),
		Skipped: s.skipped.Load(), Unauthorized: s.unauth.Load(), BadRequest: s.bad.Load(),
		TooLarge: s.large.Load(), Unsupported: s.unsupported.Load(), Failed: s.failed.Load(),
	}
}

// requestError is a refusal: its HTTP status and message.
type requestError struct {
	code int
	msg  string
}

func (r *requestError) Error() string { return r.msg }

func refuse(code int, format string, args ...any) error {
	return &requestError{code, fmt.Sprintf(format, args...)}
}

// count counts a refusal and returns its status.
func (e *Ext) count(err error) (int, string) {
	s := &e.stats
	var re *requestError
	if !errors.As(err, &re) {
		if errors.Is(err, store.ErrSchema) {
			s.bad.Add(1)
			return http.StatusBadRequest, err.Error()
		}
		s.failed.Add(1)
		return http.StatusInternalServerError, "store: " + err.Error()
	}
	switch re.code {
	case http.StatusUnauthorized:
		s.unauth.Add(1)
	case http.StatusRequestEntityTooLarge:
		s.large.Add(1)
	case http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		s.unsupported.Add(1)
	default:
		s.bad.Add(1)
	}
	return re.code, re.msg
}

// extAuthorized accepts the token in any form ecosystem clients send it.
func extAuthorized(r *http.Request, token string) bool {
	if token == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "Token "} {
		if got, ok := strings.CutPrefix(h, p); ok {
			return constEq(got, token)
		}
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return constEq(pw, token)
	}
	if p := r.URL.Query().Get("p"); p != "" {
		return constEq(p, token)
	}
	return false
}

func constEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// readBody reads a request's body, within MaxBytes before and after
// decompression (gzip, snappy for remote write, or none).
func (e *Ext) readBody(w http.ResponseWriter, r *http.Request, allowed ...string) ([]byte, error) {
	max := e.cfg.MaxBytes
	if r.ContentLength > max {
		return nil, refuse(http.StatusRequestEntityTooLarge, "body of %d bytes, limit %d", r.ContentLength, max)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, refuse(http.StatusRequestEntityTooLarge, "body over the limit of %d bytes", max)
		}
		return nil, refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	ok := enc == "" || enc == "identity"
	for _, a := range allowed {
		ok = ok || enc == a
	}
	if !ok {
		return nil, refuse(http.StatusUnsupportedMediaType, "Content-Encoding %q not supported (want %s)", enc, strings.Join(append([]string{"identity"}, allowed...), ", "))
	}
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "gzip: %v", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, max+1))
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "gzip: %v", err)
		}
		if int64(len(out)) > max {
			return nil, refuse(http.StatusRequestEntityTooLarge, "body inflates past the limit of %d bytes", max)
		}
		return out, nil
	case "snappy":
		return snappyDecode(body, max)
	}
	return body, nil
}

// mediaType returns the request's media type, lower case ("" when none).
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

// serve runs one ecosystem request: method, token, decode into a pooled
// batch, one store transaction, the success answer.
func (e *Ext) serve(w http.ResponseWriter, r *http.Request, stored *atomic.Uint64, check error,
	decode func(body []byte, b *store.ExtBatch) error, bodyOpts []string, ok func(w http.ResponseWriter)) {
	e.stats.requests.Add(1)
	err := func() error {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			return refuse(http.StatusMethodNotAllowed, "%s not allowed, POST", r.Method)
		}
		if !extAuthorized(r, e.cfg.Token) {
			return refuse(http.StatusUnauthorized, "missing or wrong token")
		}
		if check != nil {
			return check
		}
		body, err := e.readBody(w, r, bodyOpts...)
		if err != nil {
			return err
		}
		b := e.pool.Get().(*store.ExtBatch)
		defer func() { b.Reset(); e.pool.Put(b) }()
		if err := decode(body, b); err != nil {
			return err
		}
		return e.storeBatch(b, stored)
	}()
	if err != nil {
		code, msg := e.count(err)
		http.Error(w, "ingest: "+r.URL.Path+": "+msg, code)
		return
	}
	ok(w)
}

// otlpJSON checks the content type of an OTLP/HTTP request and says
// whether it is JSON.
func otlpJSON(r *http.Request) (bool, error) {
	switch mediaType(r) {
	case "application/x-protobuf", "application/protobuf":
		return false, nil
	case "application/json":
		return true, nil
	}
	return false, refuse(http.StatusUnsupportedMediaType, "Content-Type %q: want application/x-protobuf or application/json", r.Header.Get("Content-Type"))
}

func (e *Ext) serveOTLPTraces(w http.ResponseWriter, r *http.Request) {
	isJSON, cterr := otlpJSON(r)
	e.serve(w, r, &e.stats.traces, cterr, func(body []byte, b *store.ExtBatch) error {
		req := ptraceotlp.NewExportRequest()
		if err := unmarshalOTLP(req.UnmarshalProto, req.UnmarshalJSON, isJSON, body); err != nil {
			return refuse(http.StatusBadRequest, "bad OTLP traces: %v", err)
		}
		TracesToBatch(req.Traces(), b)
		return nil
	}, []string{"gzip"}, func(w http.ResponseWriter) {
		writeOTLP(w, isJSON, ptraceotlp.NewExportResponse().MarshalProto, ptraceotlp.NewExportResponse().MarshalJSON)
	})
}

func (e *Ext) serveOTLPMetrics(w http.ResponseWriter, r *http.Request) {
	isJSON, cterr := otlpJSON(r)
	e.serve(w, r, &e.stats.metrics, cterr, func(body []byte, b *store.ExtBatch) error {
		req := pmetricotlp.NewExportRequest()
		if err := unmarshalOTLP(req.UnmarshalProto, req.UnmarshalJSON, isJSON, body); err != nil {
			return refuse(http.StatusBadRequest, "bad OTLP metrics: %v", err)
		}
		e.stats.skipped.Add(uint64(MetricsToBatch(req.Metrics(), b)))
		return nil
	}, []string{"gzip"}, func(w http.ResponseWriter) {
		writeOTLP(w, isJSON, pmetricotlp.NewExportResponse().MarshalProto, pmetricotlp.NewExportResponse().MarshalJSON)
	})
}

// unmarshalOTLP decodes body; a decoder that panics on hostile input is
// an error, not a crash of the server.
func unmarshalOTLP(proto, json func([]byte) error, isJSON bool, body []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed: %v", p)
		}
	}()
	if isJSON {
		return json(body)
	}
	return proto(body)
}

func writeOTLP(w http.ResponseWriter, isJSON bool, proto, json func() ([]byte, error)) {
	ct, f := "application/x-protobuf", proto
	if isJSON {
		ct, f = "application/json", json
	}
	body, _ := f()
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// Resource attributes (OpenTelemetry semantic conventions) that name an
// AutoTagging tag, in order of preference per key.
var resourceTags = []struct{ attr, key string }{
	{"k8s.pod.name", "pod"},
	{"k8s.namespace.name", "pod_ns"},
	{"k8s.node.name", "pod_node"},
	{"k8s.cluster.name", "pod_cluster"},
	{"k8s.deployment.name", "pod_group"},
	{"k8s.statefulset.name", "pod_group"},
	{"k8s.daemonset.name", "pod_group"},
	{"k8s.job.name", "pod_group"},
	{"host.name", "host"},
	{"service.name", "service"},
	{"cloud.region", "region"},
	{"cloud.availability_zone", "az"},
	{"container.id", "container_id"},
}

// Resource attributes that carry the resource's IP, in order of preference.
var resourceAddrs = []string{"k8s.pod.ip", "host.ip", "net.host.ip", "net.sock.host.addr", "service.instance.id"}

// ResourceOf maps OTLP resource attributes to a store.Resource.
func ResourceOf(attrs pcommon.Map) store.Resource {
	var r store.Resource
	have := map[string]bool{}
	for _, rt := range resourceTags {
		if have[rt.key] {
			continue
		}
		if v, ok := attrs.Get(rt.attr); ok {
			if s := v.AsString(); s != "" {
				r.Tags = append(r.Tags, store.Tag{Key: rt.key, Value: s})
				have[rt.key] = true
			}
		}
	}
	for _, a := range resourceAddrs {
		v, ok := attrs.Get(a)
		if !ok {
			continue
		}
		if v.Type() == pcommon.ValueTypeSlice && v.Slice().Len() > 0 {
			v = v.Slice().At(0)
		}
		if ip, err := netip.ParseAddr(v.AsString()); err == nil {
			r.Addr = ip.Unmap()
			break
		}
	}
	return r
}

func attrStr(m pcommon.Map, used map[string]bool, keys ...string) string {
	for _, k := range keys {
		if v, ok := m.Get(k); ok {
			used[k] = true
			if v.Type() == pcommon.ValueTypeSlice {
				if v.Slice().Len() == 0 {
					continue
				}
				v = v.Slice().At(0)
			}
			if s := v.AsString(); s != "" {
				return s
			}
		}
	}
	return ""
}

func attrInt(m pcommon.Map, used map[string]bool, keys ...string) (int64, bool) {
	for _, k := range keys {
		if v, ok := m.Get(k); ok {
			used[k] = true
			switch v.Type() {
			case pcommon.ValueTypeInt:
				return v.Int(), true
			case pcommon.ValueTypeDouble:
				return int64(v.Double()), true
			case pcommon.ValueTypeStr:
				if n, err := strconv.ParseInt(v.Str(), 10, 64); err == nil {
					return n, true
				}
			}
		}
	}
	return 0, false
}

func attrAddr(m pcommon.Map, used map[string]bool, keys ...string) netip.Addr {
	for _, k := range keys {
		if v, ok := m.Get(k); ok {
			if ip, err := netip.ParseAddr(v.AsString()); err == nil {
				used[k] = true
				return ip.Unmap()
			}
		}
	}
	return netip.Addr{}
}

func port(n int64, ok bool) uint16 {
	if !ok || n < 0 || n > 65535 {
		return 0
	}
	return uint16(n)
}

// gRPC status codes that are the client's fault (RECORDS.md).
func grpcClientCode(c int64) bool {
	switch c {
	case 3, 5, 6, 7, 9, 11, 16:
		return true
	}
	return false
}

// Status values (l7.Status).
const (
	statusOk          = 0
	statusClientError = 1
	statusServerError = 2
)

// TracesToBatch appends the spans of td to b, one resource per
// ResourceSpans.
func TracesToBatch(td ptrace.Traces, b *store.ExtBatch) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		ri := len(b.Resources)
		res := rs.Resource().Attributes()
		b.Resources = append(b.Resources, ResourceOf(res))
		var service, instance string
		if v, ok := res.Get("service.name"); ok {
			service = v.AsString()
		}
		if v, ok := res.Get("service.instance.id"); ok {
			instance = v.AsString()
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				b.Spans = append(b.Spans, spanOf(spans.At(k), ri, service, instance))
			}
		}
	}
}

func spanOf(s ptrace.Span, ri int, service, instance string) store.Span {
	sp := store.Span{
		Resource: ri, Service: service, Instance: instance,
		StartTime: int64(s.StartTimestamp()), EndTime: int64(s.EndTimestamp()),
	}
	if id := s.TraceID(); !id.IsEmpty() {
		sp.TraceID = id.String()
	}
	if id := s.SpanID(); !id.IsEmpty() {
		sp.SpanID = id.String()
	}
	if id := s.ParentSpanID(); !id.IsEmpty() {
		sp.ParentSpanID = id.String()
	}
	switch s.Kind() {
	case ptrace.SpanKindServer:
		sp.Kind, sp.TapSide = "server", "s-app"
	case ptrace.SpanKindClient:
		sp.Kind, sp.TapSide = "client", "c-app"
	case ptrace.SpanKindProducer:
		sp.Kind, sp.TapSide = "producer", "c-app"
	case ptrace.SpanKindConsumer:
		sp.Kind, sp.TapSide = "consumer", "s-app"
	case ptrace.SpanKindInternal:
		sp.Kind, sp.TapSide = "internal", "app"
	default:
		sp.Kind, sp.TapSide = "unspecified", "app"
	}
	a := s.Attributes()
	used := map[string]bool{}
	client := sp.Kind == "client" || sp.Kind == "producer"

	// Addresses and ports: the peer is the server of a client span and
	// the client of a server span.
	peerIP := attrAddr(a, used, "network.peer.address", "net.sock.peer.addr", "net.peer.ip")
	peerPort := port(attrInt(a, used, "network.peer.port", "net.sock.peer.port", "net.peer.port"))
	if client {
		sp.IP1 = attrAddr(a, used, "server.address", "net.peer.name")
		if !sp.IP1.IsValid() {
			sp.IP1 = peerIP
		}
		sp.ServerPort = port(attrInt(a, used, "server.port"))
		if sp.ServerPort == 0 {
			sp.ServerPort = peerPort
		}
		sp.IP0 = attrAddr(a, used, "network.local.address", "net.sock.host.addr", "net.host.ip")
		sp.ClientPort = port(attrInt(a, used, "network.local.port", "net.sock.host.port"))
	} else {
		sp.IP0 = attrAddr(a, used, "client.address", "http.client_ip")
		if !sp.IP0.IsValid() {
			sp.IP0 = peerIP
		}
		sp.ClientPort = port(attrInt(a, used, "client.port"))
		if sp.ClientPort == 0 {
			sp.ClientPort = peerPort
		}
		sp.IP1 = attrAddr(a, used, "network.local.address", "net.sock.host.addr", "net.host.ip", "server.address")
		sp.ServerPort = port(attrInt(a, used, "server.port", "network.local.port", "net.host.port", "net.sock.host.port"))
	}
	switch strings.ToLower(attrStr(a, used, "network.transport", "net.transport")) {
	case "tcp", "ip_tcp":
		sp.Transport = 6
	case "udp", "ip_udp":
		sp.Transport = 17
	}

	status := s.Status()
	method := attrStr(a, used, "http.request.method", "http.method")
	rpcSystem := attrStr(a, used, "rpc.system")
	dbSystem := attrStr(a, used, "db.system.name", "db.system")
	msgSystem := attrStr(a, used, "messaging.system")
	sp.Version = attrStr(a, used, "network.protocol.version", "http.flavor")
	switch {
	case method != "":
		sp.L7Protocol = "HTTP"
		if strings.HasPrefix(sp.Version, "2") {
			sp.L7Protocol = "HTTP2"
		}
		sp.RequestType = method
		full := attrStr(a, used, "url.full", "http.url")
		path := attrStr(a, used, "url.path")
		query := attrStr(a, used, "url.query")
		target := attrStr(a, used, "http.target")
		host := attrStr(a, used, "http.host", "server.address", "net.host.name", "net.peer.name")
		if full != "" {
			if h, p, ok := splitURL(full); ok {
				if host == "" {
					host = h
				}
				if path == "" && target == "" {
					target = p
				}
			}
		}
		switch {
		case path != "" && query != "":
			sp.RequestResource = path + "?" + query
		case path != "":
			sp.RequestResource = path
		default:
			sp.RequestResource = target
		}
		sp.RequestDomain = host
		sp.Endpoint = attrStr(a, used, "http.route")
		if sp.Endpoint == "" {
			sp.Endpoint, _, _ = strings.Cut(sp.RequestResource, "?")
		}
		if code, ok := attrInt(a, used, "http.response.status_code", "http.status_code"); ok {
			sp.ResponseCode, sp.HasResponseCode = code, true
			switch {
			case code >= 500:
				sp.ResponseStatus = statusServerError
			case code >= 400:
				sp.ResponseStatus = statusClientError
			}
		}
		if sp.Transport == 0 {
			sp.Transport = 6
		}
	case rpcSystem == "grpc":
		sp.L7Protocol = "gRPC"
		sp.RequestType = "POST"
		svc, m := attrStr(a, used, "rpc.service"), attrStr(a, used, "rpc.method")
		if svc != "" || m != "" {
			sp.RequestResource = "/" + svc + "/" + m
		}
		sp.RequestDomain = attrStr(a, used, "server.address", "net.peer.name")
		if code, ok := attrInt(a, used, "rpc.grpc.status_code"); ok {
			sp.ResponseCode, sp.HasResponseCode = code, true
			switch {
			case code == 0:
			case grpcClientCode(code):
				sp.ResponseStatus = statusClientError
			default:
				sp.ResponseStatus = statusServerError
			}
		}
		if sp.Transport == 0 {
			sp.Transport = 6
		}
	case dbSystem != "":
		switch strings.ToLower(dbSystem) {
		case "mysql":
			sp.L7Protocol = "MySQL"
		case "redis":
			sp.L7Protocol = "Redis"
		default:
			sp.L7Protocol = dbSystem
		}
		sp.RequestType = attrStr(a, used, "db.operation.name", "db.operation")
		sp.RequestDomain = attrStr(a, used, "db.namespace", "db.name")
		sp.RequestResource = attrStr(a, used, "db.query.text", "db.statement")
	case msgSystem != "":
		if strings.EqualFold(msgSystem, "kafka") {
			sp.L7Protocol = "Kafka"
		} else {
			sp.L7Protocol = msgSystem
		}
		sp.RequestType = attrStr(a, used, "messaging.operation.name", "messaging.operation")
		sp.RequestResource = attrStr(a, used, "messaging.destination.name", "messaging.destination")
	default:
		sp.L7Protocol = "unknown"
	}
	if sp.Endpoint == "" {
		if sp.RequestResource != "" && sp.L7Protocol == "gRPC" {
			sp.Endpoint = sp.RequestResource
		} else {
			sp.Endpoint = s.Name()
		}
	}
	if sp.RequestResource == "" {
		sp.RequestResource = s.Name()
	}
	if status.Code() == ptrace.StatusCodeError {
		if sp.ResponseStatus == statusOk {
			sp.ResponseStatus = statusServerError
		}
		sp.ResponseException = status.Message()
	}
	sp.XRequestID0 = attrStr(a, used, "http.request.header.x-request-id")
	sp.XRequestID1 = attrStr(a, used, "http.response.header.x-request-id")
	sp.UserAgent = attrStr(a, used, "user_agent.original", "http.user_agent")
	if n := a.Len(); n > len(used) {
		sp.Attributes = make(map[string]string, n-len(used))
		for k, v := range a.All() {
			if !used[k] {
				sp.Attributes[k] = attrString(v)
			}
		}
	}
	return sp
}

// attrString is an attribute's value as text (bytes in base64, slices and
// maps as JSON, as pcommon.Value.AsString writes them).
func attrString(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeBytes {
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	}
	return v.AsString()
}

// splitURL returns the host and the path with query of an absolute URL.
func splitURL(u string) (host, path string, ok bool) {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "", "", false
	}
	i := strings.IndexAny(rest, "/?#")
	if i < 0 {
		return rest, "/", true
	}
	path, _, _ = strings.Cut(rest[i:], "#")
	if path[0] == '?' {
		path = "/" + path
	}
	return rest[:i], path, true
}

// MetricsToBatch appends the data points of md to b as samples (histograms
// as <name>_count, <name>_sum and <name>_bucket{le}, summaries as
// <name>_count, <name>_sum and <name>{quantile}, the Prometheus way) and
// returns the number of points it left out (exponential histograms'
// buckets, points flagged with no recorded value).
func MetricsToBatch(md pmetric.Metrics, b *store.ExtBatch) (skipped int) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		ri := len(b.Resources)
		b.Resources = append(b.Resources, ResourceOf(rm.Resource().Attributes()))
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				skipped += metricToBatch(ms.At(k), ri, b)
			}
		}
	}
	return skipped
}

func labelsOf(m pcommon.Map, extra ...string) map[string]string {
	if m.Len() == 0 && len(extra) == 0 {
		return nil
	}
	l := make(map[string]string, m.Len()+len(extra)/2)
	for k, v := range m.All() {
		l[k] = attrString(v)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func metricToBatch(m pmetric.Metric, ri int, b *store.ExtBatch) (skipped int) {
	name := m.Name()
	add := func(t pcommon.Timestamp, metric string, v float64, labels map[string]string) {
		b.Samples = append(b.Samples, store.Sample{Resource: ri, Time: int64(t), Source: "otlp", Metric: metric, Value: v, Labels: labels})
	}
	// countSum adds a point's _count and (when it has one) _sum samples,
	// which share one labels map.
	countSum := func(t pcommon.Timestamp, count uint64, hasSum bool, sum float64, labels map[string]string) {
		add(t, name+"_count", float64(count), labels)
		if hasSum {
			add(t, name+"_sum", sum, labels)
		}
	}
	number := func(ps pmetric.NumberDataPointSlice) {
		for i := 0; i < ps.Len(); i++ {
			p := ps.At(i)
			if p.Flags().NoRecordedValue() {
				skipped++
				continue
			}
			var v float64
			switch p.ValueType() {
			case pmetric.NumberDataPointValueTypeInt:
				v = float64(p.IntValue())
			case pmetric.NumberDataPointValueTypeDouble:
				v = p.DoubleValue()
			default:
				skipped++
				continue
			}
			add(p.Timestamp(), name, v, labelsOf(p.Attributes()))
		}
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		number(m.Gauge().DataPoints())
	case pmetric.MetricTypeSum:
		number(m.Sum().DataPoints())
	case pmetric.MetricTypeHistogram:
		ps := m.Histogram().DataPoints()
		for i := 0; i < ps.Len(); i++ {
			p := ps.At(i)
			if p.Flags().NoRecordedValue() {
				skipped++
				continue
			}
			countSum(p.Timestamp(), p.Count(), p.HasSum(), p.Sum(), labelsOf(p.Attributes()))
			bounds, counts := p.ExplicitBounds(), p.BucketCounts()
			var cum uint64
			for bi := 0; bi < counts.Len(); bi++ {
				cum += counts.At(bi)
				le := "+Inf"
				if bi < bounds.Len() {
					le = strconv.FormatFloat(bounds.At(bi), 'g', -1, 64)
				}
				add(p.Timestamp(), name+"_bucket", float64(cum), labelsOf(p.Attributes(), "le", le))
			}
		}
	case pmetric.MetricTypeExponentialHistogram:
		ps := m.ExponentialHistogram().DataPoints()
		for i := 0; i < ps.Len(); i++ {
			p := ps.At(i)
			if p.Flags().NoRecordedValue() {
				skipped++
				continue
			}
			countSum(p.Timestamp(), p.Count(), p.HasSum(), p.Sum(), labelsOf(p.Attributes()))
			skipped++ // the exponential buckets
		}
	case pmetric.MetricTypeSummary:
		ps := m.Summary().DataPoints()
		for i := 0; i < ps.Len(); i++ {
			p := ps.At(i)
			if p.Flags().NoRecordedValue() {
				skipped++
				continue
			}
			countSum(p.Timestamp(), p.Count(), true, p.Sum(), labelsOf(p.Attributes()))
			qs := p.QuantileValues()
			for qi := 0; qi < qs.Len(); qi++ {
				q := qs.At(qi)
				add(p.Timestamp(), name, q.Value(), labelsOf(p.Attributes(), "quantile", strconv.FormatFloat(q.Quantile(), 'g', -1, 64)))
			}
		}
	default:
		skipped++
	}
	return skipped
}
