package sender_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/sender"
)

// fakeServer records the batch ids it receives and answers with codes
// from a script (200 once the script is used up), acks carrying dict's
// delta.
type fakeServer struct {
	mu     sync.Mutex
	ids    []string
	bodies map[string]string
	script []int
	dict   *encoding.Dictionary
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.Header.Get("X-Batch-ID")
	if r.URL.Path != sender.Path || r.Header.Get("Authorization") != "Bearer t" {
		http.Error(w, "no", 401)
		return
	}
	code := 200
	if len(f.script) > 0 {
		code, f.script = f.script[0], f.script[1:]
	}
	f.ids = append(f.ids, id)
	if code != 200 {
		http.Error(w, "scripted "+strconv.Itoa(code), code)
		return
	}
	if f.bodies == nil {
		f.bodies = map[string]string{}
	}
	f.bodies[id] = string(body)
	d, _ := f.dict.Sync(0, 0).AppendBinary(nil)
	w.Write(d)
}

func flush(t *testing.T, s *sender.Sender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSender_RetryAndAck(t *testing.T) {
	f := &fakeServer{script: []int{503, 500, 401, 200, 400}, dict: encoding.NewDictionary(nil)}
	f.dict.Assign("pod", "a")
	srv := httptest.NewServer(f)
	defer srv.Close()
	dict := encoding.NewAgentDict()
	s, err := sender.New(sender.Config{URL: srv.URL, Token: "t", Dir: t.TempDir(), Dict: dict, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 3; i++ {
		if err := s.Send([]byte("frame-" + strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	st := s.Stats()
	// Batch 0: 503, 500, 401, then 200; batch 1: 400 (refused, dropped);
	// batch 2: 200.
	if st.Retries != 3 || st.Acked != 2 || st.Refused != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
	if len(f.ids) != 6 || f.ids[0] != f.ids[3] || f.ids[4] == f.ids[5] {
		t.Fatalf("ids %v", f.ids)
	}
	if f.bodies[f.ids[0]] != "frame-0" || f.bodies[f.ids[5]] != "frame-2" {
		t.Fatalf("bodies %v", f.bodies)
	}
	if id, ok := dict.Lookup("pod", "a"); !ok || id != 1 {
		t.Fatalf("the ack was not applied: %d %v", id, ok)
	}
}

func TestSender_SpoolRestartAndFull(t *testing.T) {
	dir := t.TempDir()
	// The server is down: nothing listens there.
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	s, err := sender.New(sender.Config{URL: downURL, Token: "t", Dir: dir, MaxSpoolBytes: 35, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := s.Send([]byte("batch-" + strconv.Itoa(i) + "!!!")); err != nil { // 10 bytes
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Dropped < 6 || st.Pending > 4 || st.PendingBytes > 40 {
		t.Fatalf("full spool: %+v", st)
	}
	s.Close()
	ents, _ := os.ReadDir(dir)
	if len(ents) != st.Pending {
		t.Fatalf("%d files in the spool, %d pending", len(ents), st.Pending)
	}
	// Restart against a live server: the spool goes out, newest last.
	f := &fakeServer{dict: encoding.NewDictionary(nil)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, err = sender.New(sender.Config{URL: srv.URL, Token: "t", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Stats().Recovered; int(got) != st.Pending {
		t.Fatalf("recovered %d, want %d", got, st.Pending)
	}
	s.Send([]byte("after"))
	flush(t, s)
	if len(f.ids) != st.Pending+1 || f.bodies[f.ids[len(f.ids)-2]] != "batch-9!!!" || f.bodies[f.ids[len(f.ids)-1]] != "after" {
		t.Fatalf("delivered %v %v", f.ids, f.bodies)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("%d files left", len(ents))
	}
}

func TestNew_Plaintext(t *testing.T) {
	for _, tc := range []struct {
		name, url, token string
		insecure         bool
		tls              bool
		wantPlain, ok    bool
	}{
		{"loopback v4", "http://127.0.0.1:1", "t", false, false, false, true},
		{"loopback v6", "http://[::1]:1", "t", false, false, false, true},
		{"localhost", "http://localhost:1", "t", false, false, false, true},
		{"remote without token", "http://192.0.2.1:1", "", false, false, false, true},
		{"remote with token", "http://192.0.2.1:1", "t", false, false, true, false},
		{"remote name with token", "http://collector.example:1", "t", false, false, true, false},
		{"remote with token, allowed", "http://192.0.2.1:1", "t", true, false, false, true},
		{"https remote with token", "https://192.0.2.1:1", "t", false, false, false, true},
		{"https with TLS config", "https://collector.example:1", "t", false, true, false, true},
		{"TLS config on http", "http://127.0.0.1:1", "t", false, true, false, false},
		{"other scheme", "ftp://127.0.0.1:1", "", false, false, false, false},
		{"no host", "http:///x", "", false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sender.Config{URL: tc.url, Token: tc.token, InsecurePlaintext: tc.insecure}
			if tc.tls {
				cfg.TLS = &tls.Config{ServerName: "collector.example"}
			}
			s, err := sender.New(cfg)
			if s != nil {
				s.Close()
			}
			if (err == nil) != tc.ok || errors.Is(err, sender.ErrPlaintext) != tc.wantPlain {
				t.Fatalf("New(%s, token %q, insecure %v): %v", tc.url, tc.token, tc.insecure, err)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	if c, err := sender.TLSConfig("", ""); c != nil || err != nil {
		t.Fatalf("no CA, no name: %v %v", c, err)
	}
	c, err := sender.TLSConfig("", "collector.example")
	if err != nil || c.ServerName != "collector.example" || c.RootCAs != nil {
		t.Fatalf("name only: %+v %v", c, err)
	}
	dir := t.TempDir()
	if _, err := sender.TLSConfig(dir+"/missing.pem", ""); err == nil {
		t.Fatal("missing CA file: no error")
	}
	os.WriteFile(dir+"/junk.pem", []byte("not a certificate"), 0o644)
	if _, err := sender.TLSConfig(dir+"/junk.pem", ""); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("junk CA file: %v", err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	pem := "-----BEGIN CERTIFICATE-----\n" + base64.StdEncoding.EncodeToString(srv.Certificate().Raw) + "\n-----END CERTIFICATE-----\n"
	os.WriteFile(dir+"/ca.pem", []byte(pem), 0o644)
	c, err = sender.TLSConfig(dir+"/ca.pem", "example.com") // httptest's certificate names example.com
	if err != nil || c.RootCAs == nil {
		t.Fatalf("CA file: %+v %v", c, err)
	}
	// The sender trusts the CA file's certificate, and an unknown one is
	// an error that says so, retried with the batch kept.
	for _, trust := range []bool{true, false} {
		cfg := sender.Config{URL: srv.URL, Token: "t", TLS: c, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
		if !trust {
			cfg.TLS = &tls.Config{}
		}
		s, err := sender.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Send([]byte("frame"))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if !trust {
			// The first attempt's handshake fails; on a loaded machine it
			// may take a while to be tried.
			for end := time.Now().Add(10 * time.Second); s.LastError() == nil && time.Now().Before(end); {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
		}
		ferr := s.Flush(ctx)
		cancel()
		st, last := s.Stats(), s.LastError()
		s.Close()
		if trust && (ferr != nil || st.Acked != 1) {
			t.Fatalf("trusted: %v %+v", ferr, st)
		}
		if !trust && (ferr == nil || st.Pending != 1 || last == nil || !strings.Contains(last.Error(), "not trusted")) {
			t.Fatalf("untrusted: %v %+v %v", ferr, st, last)
		}
	}
}
