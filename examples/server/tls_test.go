package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/credentials"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/ingest"
)

// testPKI is a CA and a leaf certificate for 127.0.0.1 and localhost it
// signed, written as PEM files, and a second CA that signed nothing of the
// server's.
type testPKI struct {
	caFile, wrongCAFile, certFile, keyFile string
	pool                                   *x509.CertPool
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newCA returns a self-signed ECDSA CA certificate and its key.
func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func makePKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{caFile: filepath.Join(dir, "ca.pem"), wrongCAFile: filepath.Join(dir, "wrong-ca.pem"),
		certFile: filepath.Join(dir, "server.pem"), keyFile: filepath.Join(dir, "server-key.pem"), pool: x509.NewCertPool()}
	ca, caKey := newCA(t, "metaflow test CA")
	wrong, _ := newCA(t, "another CA")
	writePEM(t, p.caFile, "CERTIFICATE", ca.Raw)
	writePEM(t, p.wrongCAFile, "CERTIFICATE", wrong.Raw)
	p.pool.AddCert(ca)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano() + 1), Subject: pkix.Name{CommonName: "metaflow server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.certFile, "CERTIFICATE", der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.keyFile, "EC PRIVATE KEY", kder)
	return p
}

// buildAgent builds the example agent (cgo-free) into dir.
func buildAgent(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "agent")
	build := exec.Command("go", "build", "-o", bin, "../agent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// runServer runs the command with args until the test ends and waits for
// its stats to answer at base with client.
func runServer(t *testing.T, args []string, base, token string, client *http.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- runContext(ctx, args, &lockedWriter{w: &logs}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st Stats
		if statsOf(client, base, token, &st) == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("server stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func statsOf(client *http.Client, base, token string, st *Stats) error {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &http.MaxBytesError{} // any error: not ready
	}
	return json.NewDecoder(resp.Body).Decode(st)
}

// TestServer_TLS runs the command with -tls-cert and -tls-key: the agent
// delivers over HTTPS trusting the test's CA (-server-ca); with another CA
// or another server name it fails with a clear error and keeps its
// batches in the spool, which a run with the right CA delivers; the
// OTel SDK's gRPC and HTTP exporters send spans over TLS; plaintext and
// another CA are refused.
func TestServer_TLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent")
	}
	dir := t.TempDir()
	pki := makePKI(t)
	bin := buildAgent(t, dir)
	httpAddr, grpcAddr := portIn(t, 41800, 41824), portIn(t, 41825, 41849)
	const token = "tls-token"
	base := "https://" + httpAddr
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}
	runServer(t, []string{"-listen", httpAddr, "-db", filepath.Join(dir, "tls.duckdb"), "-token", token,
		"-otlp-grpc", grpcAddr, "-tls-cert", pki.certFile, "-tls-key", pki.keyFile}, base, token, client)

	spool := filepath.Join(dir, "spool")
	agent := func(wait string, extra ...string) (string, string, error) {
		args := append([]string{"-r", "../../testdata/l7/http-nginx.pcap", "-server-token", token, "-spool", spool, "-server-wait", wait}, extra...)
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	spooled := func() int {
		ents, _ := os.ReadDir(spool)
		return len(ents)
	}
	records := func(out string) int {
		return strings.Count(out, `"type":"l4_flow_log"`) + strings.Count(out, `"type":"l7_flow_log"`)
	}

	// An untrusted certificate: a clear error, the batches stay.
	out1, errs, err := agent("500ms", "-server", base, "-server-ca", pki.wrongCAFile)
	if err == nil || !strings.Contains(errs, "not trusted") || !strings.Contains(errs, "certificate") {
		t.Fatalf("agent with another CA: %v: %s", err, errs)
	}
	n1 := spooled()
	if n1 == 0 {
		t.Fatal("agent with another CA: nothing left in the spool")
	}
	t.Logf("another CA: %d batches kept; %s", n1, lastLine(errs))
	// The right CA but a name the certificate does not carry.
	out2, errs, err := agent("500ms", "-server", base, "-server-ca", pki.caFile, "-server-name", "collector.example")
	if err == nil || !strings.Contains(errs, "another name") {
		t.Fatalf("agent with -server-name collector.example: %v: %s", err, errs)
	}
	if n2 := spooled(); n2 <= n1 {
		t.Fatalf("spool: %d batches after the second failed run, %d after the first", n2, n1)
	}
	var st Stats
	if err := statsOf(client, base, token, &st); err != nil || st.Ingest.Requests != 0 {
		t.Fatalf("stats after refused TLS handshakes: %v %+v", err, st.Ingest)
	}
	// The right CA: every record of the three runs is stored, the spool
	// empties.
	out3, errs, err := agent("30s", "-server", base, "-server-ca", pki.caFile)
	if err != nil {
		t.Fatalf("agent with the CA: %v: %s", err, errs)
	}
	want := records(out1) + records(out2) + records(out3)
	if err := statsOf(client, base, token, &st); err != nil {
		t.Fatal(err)
	}
	if records(out3) == 0 || st.Ingest.Rows != uint64(want) || st.Ingest.Unauthorized != 0 || spooled() != 0 {
		t.Fatalf("stored %d rows (%+v), the agent printed %d records in three runs; %d files in the spool", st.Ingest.Rows, st.Ingest, want, spooled())
	}
	// https://localhost with -server-name localhost (the SNI and the check).
	if _, errs, err := agent("30s", "-server", "https://localhost:"+strings.Split(httpAddr, ":")[1], "-server-ca", pki.caFile, "-server-name", "localhost"); err != nil {
		t.Fatalf("agent to localhost: %v: %s", err, errs)
	}

	// Plaintext to the TLS listener fails.
	if resp, err := http.Get("http://" + httpAddr + "/api/v1/stats"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plaintext request to the TLS listener answered 200")
		}
	}

	// OTLP/gRPC over TLS with the SDK exporter's TLS credentials.
	ctx := context.Background()
	before := st.Ecosystem.Spans
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr),
		otlptracegrpc.WithTLSCredentials(credentials.NewClientTLSFromCert(pki.pool, "")),
		otlptracegrpc.WithHeaders(map[string]string{"authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(resourceWeb1(t)))
	makeSpans(t, tp)
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := statsOf(client, base, token, &st); err != nil || st.Ecosystem.Spans != before+3 {
		t.Fatalf("spans over gRPC/TLS: %v %+v", err, st.Ecosystem)
	}
	// OTLP/HTTP over the HTTPS listener.
	hexp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithTLSClientConfig(&tls.Config{RootCAs: pki.pool}),
		otlptracehttp.WithHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(hexp), sdktrace.WithResource(resourceWeb1(t)))
	makeSpans(t, tp)
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := statsOf(client, base, token, &st); err != nil || st.Ecosystem.Spans != before+6 {
		t.Fatalf("spans over OTLP/HTTPS: %v %+v", err, st.Ecosystem)
	}
	// A plaintext gRPC client and one trusting another CA are refused.
	for name, opt := range map[string]otlptracegrpc.Option{
		"plaintext":  otlptracegrpc.WithInsecure(),
		"another CA": otlptracegrpc.WithTLSCredentials(credentials.NewClientTLSFromCert(x509.NewCertPool(), "")),
	} {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), opt, otlptracegrpc.WithTimeout(2*time.Second),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
			otlptracegrpc.WithHeaders(map[string]string{"authorization": "Bearer " + token}))
		if err != nil {
			t.Fatal(err)
		}
		rec := &errExporter{SpanExporter: exp, errs: make(chan error, 1)}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(rec), sdktrace.WithResource(resourceWeb1(t)))
		makeSpans(t, tp)
		tp.Shutdown(ctx)
		select {
		case err := <-rec.errs:
			t.Logf("gRPC %s: %v", name, err)
		default:
			t.Fatalf("gRPC %s: export succeeded", name)
		}
	}
	if err := statsOf(client, base, token, &st); err != nil || st.Ecosystem.Spans != before+6 {
		t.Fatalf("spans after refused clients: %v %+v", err, st.Ecosystem)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// BenchmarkServer_IngestTLS is BenchmarkServer_IngestL4's one agent with
// and without TLS (keep-alive connection, ECDSA P-256 certificate): frames
// of 16,000 full l4 rows posted to a DuckDB store on a file. It reports
// rows/s, MB/s of frames and CPU per 100,000 rows, so the cost of TLS is
// the difference of the two.
func BenchmarkServer_IngestTLS(b *testing.B) {
	pki := makePKI(b)
	tc, err := options{tlsCert: pki.certFile, tlsKey: pki.keyFile}.tlsConfig()
	if err != nil {
		b.Fatal(err)
	}
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		if useTLS {
			name = "tls"
		}
		b.Run(name, func(b *testing.B) {
			s, err := newServer(options{db: filepath.Join(b.TempDir(), "bench.duckdb"), maxBytes: 64 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer s.st.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			hs := &http.Server{Handler: s.mux}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}
			base := "http://" + ln.Addr().String()
			var stc *tls.Config
			if useTLS {
				stc, base = tc.Clone(), "https://"+ln.Addr().String()
			}
			go serveHTTP(hs, ln, stc)
			defer hs.Close()
			postTo := func(id string, f []byte) (int, string) {
				req, _ := http.NewRequest(http.MethodPost, base+ingest.Path, bytes.NewReader(f))
				req.Header.Set("X-Batch-ID", id)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			dict := encoding.NewAgentDict()
			const frameRows, frames = 16000, 8
			next := uint64(1)
			mk := func() []byte {
				enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
				f := l4FrameN(enc, next, frameRows, nil)
				next += frameRows
				return f
			}
			code, ack := postTo("warm", mk())
			if code != 200 {
				b.Fatal(code, ack)
			}
			var d encoding.Delta
			if _, err := encoding.ParseDelta([]byte(ack), &d); err != nil {
				b.Fatal(err)
			}
			dict.Apply(&d)
			var pre [][]byte
			for i := 0; i < frames; i++ {
				pre = append(pre, mk())
			}
			b.ReportAllocs()
			rows, nbytes, i := 0, 0, 0
			cpu0, t0 := cpuTime(), time.Now()
			for b.Loop() {
				f := pre[i%frames]
				if code, msg := postTo("b-"+strconv.Itoa(i), f); code != 200 {
					b.Fatal(code, msg)
				}
				i++
				rows += frameRows
				nbytes += len(f)
			}
			el, cpu := time.Since(t0), cpuTime()-cpu0
			b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
			b.ReportMetric(float64(nbytes)/1e6/el.Seconds(), "MB/s")
			b.ReportMetric(float64(cpu.Milliseconds())/(float64(rows)/1e5), "cpu-ms/100k-rows")
		})
	}
}
