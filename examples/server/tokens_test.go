package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/examples/server/web"
)

func TestOptions_Tokens(t *testing.T) {
	for _, tc := range []struct {
		name              string
		args              []string
		ingest, query, pg string
	}{
		{"none", nil, "", "", ""},
		{"token for all", []string{"-token", "a"}, "a", "a", "a"},
		{"one surface", []string{"-token", "a", "-query-token", "q"}, "a", "q", "a"},
		{"each", []string{"-ingest-token", "i", "-query-token", "q", "-page-token", "p"}, "i", "q", "p"},
		{"page only", []string{"-page-token", "p"}, "", "", "p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseArgs(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			i, q, p := o.tokens()
			if i != tc.ingest || q != tc.query || p != tc.pg {
				t.Fatalf("tokens %q %q %q, want %q %q %q", i, q, p, tc.ingest, tc.query, tc.pg)
			}
		})
	}
	for _, args := range [][]string{{"-tls-cert", "c.pem"}, {"-tls-key", "k.pem"}, {"-demo", "-tls-cert", "c", "-tls-key", "k"}} {
		if _, err := parseArgs(args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	o, err := parseArgs([]string{"-tls-cert", "/nonexistent/c.pem", "-tls-key", "/nonexistent/k.pem"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.tlsConfig(); err == nil || !strings.Contains(err.Error(), "-tls-cert") {
		t.Fatalf("missing certificate files: %v", err)
	}
}

// TestServer_SurfaceTokens: with -ingest-token, -query-token and
// -page-token, each surface takes its own token and refuses the others'
// with 401, counted in its stats: agent ingest, the ecosystem endpoints
// (OTLP/HTTP and gRPC with the SDK's exporters, remote write's basic
// authentication, Influx's Token and p), the query API and stats, and the
// page's files and sign-in.
func TestServer_SurfaceTokens(t *testing.T) {
	const ing, qry, pg = "ingest-secret", "query-secret", "page-secret"
	ts := startServer(t, options{db: ":memory:", token: "unused-default", ingestToken: ing, queryToken: qry, pageToken: pg,
		maxBytes: 1 << 20, maxExt: 1 << 20})
	host := strings.TrimPrefix(ts.url, "http://")
	do := func(method, path string, hdr map[string]string, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.url+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	basic := func(tok string) map[string]string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth("prometheus", tok)
		return map[string]string{"Authorization": r.Header.Get("Authorization"), "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
	}
	batch := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "X-Batch-ID": "b-1"}
	}
	type req struct {
		name, method, path string
		hdr                map[string]string
		body               string
		want               int
	}
	var wantUnauth struct{ ingest, eco, query, page uint64 }
	check := func(surface *uint64, reqs []req) {
		t.Helper()
		for _, r := range reqs {
			code, _, body := do(r.method, r.path, r.hdr, r.body)
			if code != r.want {
				t.Errorf("%s: %d, want %d: %.100s", r.name, code, r.want, body)
			}
			if r.want == http.StatusUnauthorized {
				*surface++
			}
		}
	}
	check(&wantUnauth.ingest, []req{
		{"batch, query token", "POST", ingest.Path, batch(qry), "x", 401},
		{"batch, page token", "POST", ingest.Path, batch(pg), "x", 401},
		{"batch, -token", "POST", ingest.Path, batch("unused-default"), "x", 401},
		{"batch, none", "POST", ingest.Path, map[string]string{"X-Batch-ID": "b-1"}, "x", 401},
		{"batch, ingest token, bad frame", "POST", ingest.Path, batch(ing), "x", 400},
	})
	influx := "cpu,host=a usage=1 1700000000000000000\n"
	check(&wantUnauth.eco, []req{
		{"otlp, query token", "POST", ingest.OTLPTracesPath, map[string]string{"Authorization": "Bearer " + qry, "Content-Type": "application/x-protobuf"}, "", 401},
		{"remote write, basic page token", "POST", ingest.RemoteWritePath, basic(pg), "", 401},
		{"remote write, basic query token", "POST", ingest.RemoteWritePath, basic(qry), "", 401},
		{"remote write, basic ingest token, not snappy", "POST", ingest.RemoteWritePath, basic(ing), "x", 400},
		{"influx v2, Token query", "POST", ingest.InfluxV2Path, map[string]string{"Authorization": "Token " + qry}, influx, 401},
		{"influx v1, p page", "POST", ingest.InfluxV1Path + "?u=telegraf&p=" + pg, nil, influx, 401},
		{"influx v2, Token ingest", "POST", ingest.InfluxV2Path, map[string]string{"Authorization": "Token " + ing}, influx, 204},
		{"influx v1, p ingest", "POST", ingest.InfluxV1Path + "?u=telegraf&p=" + ing, nil, influx, 204},
	})
	check(&wantUnauth.query, []req{
		{"l7, ingest token", "GET", "/api/v1/l7", bearer(ing), "", 401},
		{"servicemap, page token", "GET", "/api/v1/servicemap", bearer(pg), "", 401},
		{"stats, ingest token", "GET", "/api/v1/stats", bearer(ing), "", 401},
		{"stats, page token", "GET", "/api/v1/stats", bearer(pg), "", 401},
		{"l7, query token", "GET", "/api/v1/l7", bearer(qry), "", 200},
	})
	check(&wantUnauth.page, []req{
		{"page, none", "GET", "/", nil, "", 401},
		{"page, ingest token", "GET", "/", bearer(ing), "", 401},
		{"page, query token", "GET", "/app.js", bearer(qry), "", 401},
		{"page, query token's cookie", "GET", "/", map[string]string{"Cookie": web.CookieName + "=" + cookieOf(t, qry)}, "", 401},
		{"sign-in, query token", "POST", web.LoginPath, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "token=" + qry, 401},
		{"sign-in script", "GET", web.LoginScript, nil, "", 200},
		{"page, page token", "GET", "/app.js", bearer(pg), "", 200},
	})

	// The sign-in sets the cookie that opens the page (and nothing else).
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(ts.url+web.LoginPath, url.Values{"token": {pg}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `id="map"`) {
		t.Fatalf("after the sign-in: %d %.200s", resp.StatusCode, body)
	}
	if resp, err := c.Get(ts.url + "/api/v1/l7"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("query API with the page cookie: %v %v", err, resp.Status)
	}
	wantUnauth.query++

	// The SDK's exporters: the ingest token stores, the others are refused.
	ctx := context.Background()
	gs := ts.ext.NewGRPCServer()
	gln := listenLocal(t)
	go gs.Serve(gln)
	defer gs.Stop()
	for _, tok := range []string{qry, pg, ing} {
		for _, kind := range []string{"http", "grpc"} {
			var exp sdktrace.SpanExporter
			var err error
			if kind == "http" {
				exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(host), otlptracehttp.WithInsecure(),
					otlptracehttp.WithHeaders(bearer(tok)), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
			} else {
				exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(gln.Addr().String()), otlptracegrpc.WithInsecure(),
					otlptracegrpc.WithHeaders(map[string]string{"authorization": "Bearer " + tok}), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
			}
			if err != nil {
				t.Fatal(err)
			}
			rec := &errExporter{SpanExporter: exp, errs: make(chan error, 1)}
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(rec), sdktrace.WithResource(resourceWeb1(t)))
			makeSpans(t, tp)
			tp.Shutdown(ctx)
			var got error
			select {
			case got = <-rec.errs:
			default:
			}
			if (tok == ing) != (got == nil) {
				t.Errorf("OTLP/%s with %s: %v", kind, tok, got)
			}
			if tok != ing {
				wantUnauth.eco += 3 // the syncer exports each of the 3 spans alone
			}
		}
	}

	var st Stats
	if code := getJSON(t, ts.url+"/api/v1/stats", qry, &st); code != 200 {
		t.Fatalf("stats: %d", code)
	}
	if st.Ingest.Unauthorized != wantUnauth.ingest || st.Ecosystem.Unauthorized != wantUnauth.eco ||
		st.Query.Unauthorized != wantUnauth.query || st.Page.Unauthorized != wantUnauth.page || st.Page.Logins != 1 {
		t.Fatalf("unauthorized: ingest %d ecosystem %d query %d page %d (logins %d), want %+v",
			st.Ingest.Unauthorized, st.Ecosystem.Unauthorized, st.Query.Unauthorized, st.Page.Unauthorized, st.Page.Logins, wantUnauth)
	}
	if st.Ecosystem.Spans != 6 || st.Ecosystem.Samples != 2 {
		t.Fatalf("ecosystem with the ingest token: %d spans, %d samples, want 6 and 2", st.Ecosystem.Spans, st.Ecosystem.Samples)
	}
	t.Logf("401s: ingest %d, ecosystem %d, query %d, page %d", wantUnauth.ingest, wantUnauth.eco, wantUnauth.query, wantUnauth.page)
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// cookieOf is the page cookie a server with token sets.
func cookieOf(t *testing.T, token string) string {
	t.Helper()
	rec := &headerRecorder{h: http.Header{}}
	r, _ := http.NewRequest("POST", web.LoginPath, strings.NewReader("token="+url.QueryEscape(token)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	web.New(web.Config{Token: token}).ServeHTTP(rec, r)
	for _, c := range (&http.Response{Header: rec.h}).Cookies() {
		if c.Name == web.CookieName {
			return c.Value
		}
	}
	t.Fatalf("no cookie from the sign-in with %q (%d)", token, rec.code)
	return ""
}

type headerRecorder struct {
	h    http.Header
	code int
}

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(code int)        { r.code = code }

func TestWarnPlaintext(t *testing.T) {
	pub := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 26700}
	lo := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 26700}
	for _, tc := range []struct {
		name string
		o    options
		tls  bool
		addr net.Addr
		warn bool
	}{
		{"public, token", options{token: "t"}, false, pub, true},
		{"public, page token", options{pageToken: "p"}, false, pub, true},
		{"public, no token", options{}, false, pub, false},
		{"public, TLS", options{token: "t"}, true, pub, false},
		{"loopback", options{token: "t"}, false, lo, false},
	} {
		var b strings.Builder
		var tc2 *tls.Config
		if tc.tls {
			tc2 = &tls.Config{}
		}
		warnPlaintext(tc.o, tc2, tc.addr, &b)
		if strings.Contains(b.String(), "plaintext") != tc.warn {
			t.Errorf("%s: %q", tc.name, b.String())
		}
	}
}
