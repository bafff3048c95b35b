//go:build linux

package pipeline_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/ebpf"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
)

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and its
// key as PEM files in dir.
func writeCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// tlsRecords checks the HTTP records of paths (prefix) from TLS plaintext:
// is_tls, status 200, and exactly one record per end and request (the
// ciphertext is not decoded a second time). It returns them.
func tlsRecords(t *testing.T, recs []*l7.Record, prefix string, requests int) []*l7.Record {
	t.Helper()
	var out []*l7.Record
	for _, x := range recs {
		if x.L7Protocol == "HTTP" && strings.HasPrefix(string(x.RequestResource), prefix) {
			out = append(out, x)
			if !x.IsTLS || x.ResponseCode != 200 || x.Status != l7.StatusOk {
				t.Errorf("record %s: want is_tls and 200", x.AppendJSON(nil))
			}
		}
		if x.L7Protocol == "HTTP" && !x.IsTLS {
			t.Errorf("HTTP record not from plaintext: %s", x.AppendJSON(nil))
		}
	}
	if len(out) != 2*requests {
		t.Errorf("%d HTTP records of %s, want %d (one per end and request):\n%s", len(out), prefix, 2*requests, describe(recs))
	}
	return out
}

// TestEBPF_OpenSSL runs nginx with TLS and curl under the tracer with the
// OpenSSL probes: HTTP records from the plaintext at both ends, is_tls,
// the processes' names, and the handshake's TLS record from the ciphertext
// (same flow id) before the plaintext took over.
func TestEBPF_OpenSSL(t *testing.T) {
	testutil.RequireCommand(t, "nginx", "curl")
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	conf := fmt.Sprintf(`daemon off;
user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
	access_log off;
	sendfile off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen 127.0.0.1:26456 ssl;
		ssl_certificate %[2]s;
		ssl_certificate_key %[3]s;
		location / { return 200 "secret\n"; }
	}
}
`, dir, cert, key)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startEBPF(t, ebpf.Config{TLS: ebpf.TLSConfig{OpenSSL: true, Rescan: -1}}, nil, 26456, 26456)
	startServer(t, "127.0.0.1:26456", "nginx", "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	const n = 3
	for i := 0; i < n; i++ {
		runClient(t, "curl", "-skf", "--http1.1", fmt.Sprintf("https://127.0.0.1:26456/secure/%d", i))
	}
	r.wait(func(recs []*l7.Record) bool {
		k := 0
		for _, x := range recs {
			if strings.HasPrefix(string(x.RequestResource), "/secure/") && x.HasResponse {
				k++
			}
		}
		return k == 2*n
	})
	recs := r.stop(t)
	ends := map[string]int{}
	for _, x := range tlsRecords(t, recs, "/secure/", n) {
		ends[string(x.ProcessKName0)+">"+string(x.ProcessKName1)]++
		// Plaintext offsets count from 0 at the first plaintext byte:
		// one request per connection.
		if x.ReqTCPSeq != 0 || x.RespTCPSeq != 0 {
			t.Errorf("plaintext record with offsets %d/%d, want 0/0", x.ReqTCPSeq, x.RespTCPSeq)
		}
	}
	if ends["curl>"] != n || ends[">nginx"] != n {
		t.Errorf("records by process: %v, want %d from curl's end and %d from nginx's", ends, n, n)
	}
	hs := 0
	for _, x := range recs {
		if x.L7Protocol == "TLS" && string(x.RequestType) == "ClientHello" && x.Status == l7.StatusOk {
			hs++
		}
	}
	if hs != 2*n {
		t.Errorf("%d TLS handshake records from the ciphertext, want %d (one per end):\n%s", hs, 2*n, describe(recs))
	}
}

// TestEBPF_GoTLS runs a Go HTTPS server and its clients (one program,
// capture/ebpf's test target) under the tracer with the Go crypto/tls
// probes: HTTP records from the plaintext at both ends, is_tls.
func TestEBPF_GoTLS(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under the race detector; the Redis and nginx tests cover the socket input's concurrency")
	}
	testutil.RequireEBPF(t)
	bin := filepath.Join(t.TempDir(), "gotlsapp")
	build := exec.Command("go", "build", "-o", bin, "./capture/ebpf/testdata/gotlsapp")
	build.Dir = testutil.ModuleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Go TLS target: %v: %s", err, out)
	}
	r := startEBPF(t, ebpf.Config{TLS: ebpf.TLSConfig{GoBinaries: []string{bin}, Rescan: -1}}, nil, 26457, 26457)
	const clients, requests = 2, 3
	pid := runClient(t, bin, "-addr", "127.0.0.1:26457", "-clients", fmt.Sprint(clients), "-requests", fmt.Sprint(requests))
	r.wait(func(recs []*l7.Record) bool {
		k := 0
		for _, x := range recs {
			if x.L7Protocol == "HTTP" && x.HasResponse {
				k++
			}
		}
		return k == 2*clients*requests
	})
	recs := r.stop(t)
	for _, x := range tlsRecords(t, recs, "/c", clients*requests) {
		if x.ProcessID0+x.ProcessID1 != uint32(pid) {
			t.Errorf("record of process %d/%d, want %d on one side: %s", x.ProcessID0, x.ProcessID1, pid, x.AppendJSON(nil))
		}
	}
}
