//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// writeSelfSigned writes cert.pem and key.pem for 127.0.0.1 into dir.
func writeSelfSigned(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, blk := range map[string]*pem.Block{
		"cert.pem": {Type: "CERTIFICATE", Bytes: der},
		"key.pem":  {Type: "EC PRIVATE KEY", Bytes: kder},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// startNginx runs nginx in the foreground, one process, serving dir/www
// over TLS on 127.0.0.1:port, and stops it (by its pid) at cleanup.
func startNginx(t *testing.T, dir string, port int) *exec.Cmd {
	t.Helper()
	writeSelfSigned(t, dir)
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
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
		listen 127.0.0.1:%[2]d ssl;
		ssl_certificate %[1]s/cert.pem;
		ssl_certificate_key %[1]s/key.pem;
		root %[1]s/www;
	}
}
`, dir, port)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-waited
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-waited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not listening on %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd
}

// pyRequest is what pyClient sends; it prints the whole response.
const pyRequest = "GET /big.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

const pyClient = "import socket, ssl, sys\n" + pyClientBody

const pyClientBody = `ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.sendall(b"GET /big.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
`

// TestTLS_OpenSSL serves a small page and a 100 KiB file with nginx over
// TLS and fetches them with curl, both linked with libssl, under the
// OpenSSL probes: the plaintext of both sides arrives, with the socket's
// fd, addresses and id, and the large response arrives whole across the
// library calls.
func TestTLS_OpenSSL(t *testing.T) {
	testutil.RequireCommand(t, "nginx", "curl")
	dir := t.TempDir()
	const port = 26420
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}
	index := []byte("<html>metaflow tls probe index</html>\n")
	big := make([]byte, 100<<10)
	for i := range big {
		big[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[(i*7+i/1000)%36]
	}
	copy(big, "BIG-FILE-START")
	copy(big[len(big)-12:], "BIG-FILE-END")
	for name, b := range map[string][]byte{"index.html": index, "big.txt": big} {
		if err := os.WriteFile(filepath.Join(www, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Python's ssl module calls SSL_read_ex and SSL_write_ex, where curl
	// and nginx call SSL_read and SSL_write.
	comms := []string{"nginx", "curl"}
	pyComm := ""
	if out, err := exec.Command("python3", "-c", "import ssl; print(open('/proc/self/comm').read().strip())").Output(); err == nil {
		pyComm = strings.TrimSpace(string(out))
		comms = append(comms, pyComm)
	}
	rec := startTLSRecorder(t, Config{Comms: comms, TLS: TLSConfig{OpenSSL: true, Rescan: -1}})
	if st := rec.tls.Stats(); st.Libraries == 0 || st.Probes < 4 {
		t.Fatalf("stats after attach: %+v", st)
	}
	ngx := startNginx(t, dir, port)
	var curls []int
	for _, path := range []string{"/", "/big.txt"} {
		cmd := exec.Command("curl", "-sk", "--http1.1", "--max-time", "10", "https://127.0.0.1:"+strconv.Itoa(port)+path)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl %s: %v", path, err)
		}
		want := index
		if path != "/" {
			want = big
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("curl %s: %d bytes, want %d", path, len(out), len(want))
		}
		curls = append(curls, cmd.Process.Pid)
	}
	var pyPid int
	var pyOut []byte
	if pyComm != "" {
		cmd := exec.Command("python3", "-c", pyClient, strconv.Itoa(port))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python client: %v", err)
		}
		pyPid, pyOut = cmd.Process.Pid, out
		if !bytes.HasSuffix(pyOut, big) {
			t.Fatalf("python client got %d bytes", len(pyOut))
		}
	}
	evs := rec.stop()
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)

	// plain returns the plaintext of one process in one direction, in order.
	plain := func(pid int, d socket.Direction) []byte {
		var b []byte
		for _, e := range ofPids(evs, pid) {
			if e.Origin != socket.OriginOpenSSL || e.Direction != d {
				continue
			}
			if e.Kind != socket.KindData || e.Fd < 0 || e.SocketID == 0 {
				t.Fatalf("OpenSSL event without fd or socket: %+v", e.Event)
			}
			if e.Local != server && e.Remote != server {
				t.Fatalf("OpenSSL event on another socket: %v -> %v", e.Local, e.Remote)
			}
			if int64(len(e.Data)) != e.Length {
				t.Fatalf("payload %d bytes, length %d", len(e.Data), e.Length)
			}
			b = append(b, e.Data...)
		}
		return b
	}
	for i, pid := range curls {
		path := []string{"/", "/big.txt"}[i]
		req := "GET " + path + " HTTP/1.1\r\n"
		if got := plain(pid, socket.Egress); !bytes.HasPrefix(got, []byte(req)) {
			t.Errorf("curl %s: SSL_write plaintext %.60q, want %q", path, got, req)
		}
		got := plain(pid, socket.Ingress)
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK\r\n")) {
			t.Errorf("curl %s: SSL_read plaintext %.60q", path, got)
		}
		want := index
		if i == 1 {
			want = big
		}
		if _, body, ok := bytes.Cut(got, []byte("\r\n\r\n")); !ok || !bytes.Equal(body, want) {
			t.Errorf("curl %s: response body in plaintext: %d bytes, want %d", path, len(body), len(want))
		}
	}
	if pyPid != 0 {
		if got := plain(pyPid, socket.Egress); string(got) != pyRequest {
			t.Errorf("python SSL_write_ex plaintext %q, want %q", got, pyRequest)
		}
		if got := plain(pyPid, socket.Ingress); !bytes.Equal(got, pyOut) {
			t.Errorf("python SSL_read_ex plaintext: %d bytes, the client read %d", len(got), len(pyOut))
		}
	} else {
		t.Log("no python3: SSL_read_ex/SSL_write_ex not exercised")
	}
	srvIn, srvOut := plain(ngx.Process.Pid, socket.Ingress), plain(ngx.Process.Pid, socket.Egress)
	for _, path := range []string{"/", "/big.txt"} {
		if !bytes.Contains(srvIn, []byte("GET "+path+" HTTP/1.1\r\n")) {
			t.Errorf("nginx SSL_read plaintext lacks the request for %s: %.80q", path, srvIn)
		}
	}
	if !bytes.HasPrefix(srvOut, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.Contains(srvOut, big) || !bytes.Contains(srvOut, index) {
		t.Errorf("nginx SSL_write plaintext: %d bytes, starts %.40q; want both responses whole", len(srvOut), srvOut)
	}
	// The syscall probes saw the same sockets under the same ids, and
	// left the ciphertext of these calls out.
	ids := map[uint64]bool{}
	for _, e := range ofPids(evs, append(curls, ngx.Process.Pid, pyPid)...) {
		if e.Origin == socket.OriginOpenSSL {
			ids[e.SocketID] = true
		}
	}
	seen := map[uint64]bool{}
	for _, e := range ofPids(evs, append(curls, ngx.Process.Pid, pyPid)...) {
		if e.Origin == socket.OriginSyscall && ids[e.SocketID] {
			seen[e.SocketID] = true
		}
	}
	want := 4 // two curl connections, both sides
	if pyPid != 0 {
		want = 6
	}
	if len(ids) != want || len(seen) != len(ids) {
		t.Errorf("%d sockets with plaintext (want %d: each connection's two sides), %d of them seen by the syscall probes", len(ids), want, len(seen))
	}
}

func TestParseMapsLibssl(t *testing.T) {
	maps := `55d0c8a00000-55d0c8a2c000 r--p 00000000 00:1f 1234 /usr/sbin/nginx
7f6b58468000-7f6b58486000 r--p 00000000 00:1f 5678 /usr/lib/x86_64-linux-gnu/libssl.so.3
7f6b58486000-7f6b584e3000 r-xp 0001e000 00:1f 5678 /usr/lib/x86_64-linux-gnu/libssl.so.3
7f6b584e3000-7f6b58500000 r-xp 0007b000 00:1f 5678 /usr/lib/x86_64-linux-gnu/libssl.so.3
7f6b58600000-7f6b58700000 r-xp 00000000 00:1f 9999 /opt/my app/lib/libssl.so.1.1
7f6b58700000-7f6b58800000 r-xp 00000000 00:1f 9998 /tmp/libssl.so.3 (deleted)
7f6b58800000-7f6b58900000 r-xp 00000000 00:1f 9997 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7ffd1c5f0000-7ffd1c611000 rw-p 00000000 00:00 0 [stack]
short line
`
	got := parseMapsLibssl(strings.NewReader(maps))
	want := []string{"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/opt/my app/lib/libssl.so.1.1"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParseLdconfig(t *testing.T) {
	out := []byte("1234 libs found in cache `/etc/ld.so.cache'\n" +
		"\tlibssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3\n" +
		"\tlibssl3.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl3.so\n" +
		"\tlibssl.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so\n" +
		"\tlibcrypto.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libcrypto.so.3\n" +
		"\tlibssl.so.1.1 (libc6,x86-64) =>\n")
	got := parseLdconfig(out)
	want := []string{"/lib/x86_64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libssl.so"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	// The machine's own cache, when there is one, names libssl files that
	// exist and export SSL_write.
	if b, err := exec.Command("ldconfig", "-p").Output(); err == nil {
		for _, p := range parseLdconfig(b) {
			if !exportsSSLWrite(p) {
				t.Errorf("%s from ldconfig -p does not export SSL_write", p)
			}
		}
	}
}

// FuzzParseMapsLibssl: /proc/PID/maps lines with any path.
func FuzzParseMapsLibssl(f *testing.F) {
	f.Add("7f6b58486000-7f6b584e3000 r-xp 0001e000 00:1f 5678 /usr/lib/libssl.so.3\n")
	f.Add("x x\n\n   \n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range parseMapsLibssl(strings.NewReader(s)) {
			if !strings.HasPrefix(p, "/") || !strings.Contains(p, "libssl.so") {
				t.Fatalf("path %q", p)
			}
		}
		for _, p := range parseLdconfig([]byte(s)) {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("ldconfig path %q", p)
			}
		}
	})
}

func TestNewTLS_Config(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  TLSConfig
	}{
		{"negative MaxCallBytes", TLSConfig{OpenSSL: true, MaxCallBytes: -1}},
		{"MaxCallBytes too large", TLSConfig{OpenSSL: true, MaxCallBytes: MaxTLSMaxCallBytes + 1}},
		{"no tracer", TLSConfig{OpenSSL: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTLS(nil, tc.cfg, nil); !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

// TestNewTLS_NotGo: a listed Go binary that is not one, or is missing,
// fails New, which cleans up after itself.
func TestNewTLS_NotGo(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tc := range []struct {
		path string
		want error
	}{{"/bin/sh", ErrNotGo}, {filepath.Join(t.TempDir(), "missing"), os.ErrNotExist}} {
		tr, err := New(Config{TLS: TLSConfig{GoBinaries: []string{tc.path}}})
		if err == nil {
			tr.Close()
			t.Fatalf("New with %s as a Go binary succeeded", tc.path)
		}
		if errors.Is(err, capture.ErrNotSupported) || errors.Is(err, ErrPermission) {
			t.Skipf("eBPF tracer unavailable here: %v", err)
		}
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: err %v, want %v", tc.path, err, tc.want)
		}
	}
}

// pyWaitClient imports ssl (mapping libssl), says "ready", waits for a line
// on stdin, then makes the pyClient request.
const pyWaitClient = `import socket, ssl, sys
print("ready", flush=True)
sys.stdin.readline()
` + pyClientBody

// TestTLS_OpenSSLRescan: a process started after the tracer loads a libssl
// file no scan saw before (a copy in a temporary folder, as a container
// would bring): a rescan finds it in /proc/PID/maps and attaches it, once.
func TestTLS_OpenSSLRescan(t *testing.T) {
	testutil.RequireCommand(t, "nginx", "python3")
	libs := findLibssl()
	var lib string
	for _, p := range libs {
		if strings.HasPrefix(filepath.Base(p), "libssl.so.3") && exportsSSLWrite(p) {
			lib = p
			break
		}
	}
	if lib == "" {
		t.Skip("no libssl.so.3 on this machine")
	}
	dir := t.TempDir()
	libDir := filepath.Join(dir, "lib")
	os.MkdirAll(libDir, 0o755)
	b, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(libDir, "libssl.so.3"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	const port = 26422
	www := filepath.Join(dir, "www")
	os.MkdirAll(www, 0o755)
	big := bytes.Repeat([]byte("rescan "), 3000)
	os.WriteFile(filepath.Join(www, "big.txt"), big, 0o644)
	startNginx(t, dir, port)

	comm, err := exec.Command("python3", "-c", "print(open('/proc/self/comm').read().strip())").Output()
	if err != nil {
		t.Fatal(err)
	}
	rec := startTLSRecorder(t, Config{Comms: []string{strings.TrimSpace(string(comm))}, TLS: TLSConfig{OpenSSL: true, Rescan: 100 * time.Millisecond}})
	st0 := rec.tr.TLSStats()

	cmd := exec.Command("python3", "-c", pyWaitClient, strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+libDir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	rd := bufio.NewReader(stdout)
	if line, err := rd.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("python: %q %v", line, err)
	}
	// A rescan finds the copy in the process's maps and attaches it once.
	deadline := time.Now().Add(10 * time.Second)
	for rec.tr.TLSStats().Libraries == st0.Libraries && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	st := rec.tr.TLSStats()
	if st.Libraries != st0.Libraries+1 || st.Scans <= st0.Scans {
		t.Fatalf("stats %+v, then %+v: want the copy attached by a rescan", st0, st)
	}
	stdin.Write([]byte("go\n"))
	out, err := io.ReadAll(rd)
	if err != nil || cmd.Wait() != nil || !bytes.HasSuffix(out, big) {
		t.Fatalf("python client: %d bytes, %v", len(out), err)
	}
	if st2 := rec.tr.TLSStats(); st2.Libraries != st.Libraries {
		t.Errorf("libraries attached again by rescans: %+v then %+v", st, st2)
	}
	var in []byte
	for _, e := range ofPids(rec.stop(), cmd.Process.Pid) {
		if e.Origin == socket.OriginOpenSSL && e.Direction == socket.Ingress {
			in = append(in, e.Data...)
		}
	}
	if !bytes.Equal(in, out) {
		t.Fatalf("plaintext read through the copied libssl: %d bytes, the client read %d", len(in), len(out))
	}
}
