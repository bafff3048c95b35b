package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandler_ServeHTTP(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		name, method, path string
		code               int
		ctype, body        string
	}{
		{"index", "GET", "/", 200, "text/html", `<svg id="map"`},
		{"script", "GET", "/app.js", 200, "text/javascript", "function drawMap"},
		{"style", "GET", "/style.css", 200, "text/css", "#map"},
		{"head", "HEAD", "/", 200, "text/html", ""},
		{"missing", "GET", "/nope.js", 404, "", ""},
		{"api path not served here", "GET", "/api/v1/trace", 404, "", ""},
		{"api path, any method", "OPTIONS", "/api/v1/nope", 404, "", ""},
		{"post", "POST", "/", 405, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.code {
				t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.code)
			}
			if tc.code != 200 {
				return
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tc.ctype)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
		})
	}
}

// TestFiles_Offline checks that the page loads nothing from elsewhere and
// that every file it references is embedded.
func TestFiles_Offline(t *testing.T) {
	files := Files()
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/"'\s)]`)
	n := 0
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		// The SVG namespace is a name, never fetched.
		s := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if m := external.FindString(s); m != "" {
			t.Errorf("%s refers to another site: %q", path, m)
		}
		return nil
	})
	if err != nil || n < 3 {
		t.Fatalf("walk: %v (%d files)", err, n)
	}
	index, _ := fs.ReadFile(files, "index.html")
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %v", refs)
	}
	for _, r := range refs {
		if _, err := fs.Stat(files, r[1]); err != nil {
			t.Errorf("index.html references %s: %v", r[1], err)
		}
	}
}

func TestHandler_ConcurrentUse(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	done := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			resp, err := http.Get(srv.URL + "/app.js")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = &statusError{resp.StatusCode}
				}
			}
			done <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }
