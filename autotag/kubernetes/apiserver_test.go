package kubernetes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// resourcePaths are the collection paths client-go's informers request, by
// the resource name the testdata files start with.
var resourcePaths = map[string]string{
	"pods":           "/api/v1/pods",
	"services":       "/api/v1/services",
	"nodes":          "/api/v1/nodes",
	"namespaces":     "/api/v1/namespaces",
	"endpointslices": "/apis/discovery.k8s.io/v1/endpointslices",
	"ingresses":      "/apis/networking.k8s.io/v1/ingresses",
	"replicasets":    "/apis/apps/v1/replicasets",
	"jobs":           "/apis/batch/v1/jobs",
}

// request is one request the recorded API server answered.
type request struct {
	Resource string
	Watch    bool
	Query    map[string]string // the first value of each parameter
}

func (r request) String() string {
	verb := "LIST"
	if r.Watch {
		verb = "WATCH"
	}
	if r.Query["sendInitialEvents"] == "true" {
		verb = "WATCHLIST"
	}
	return fmt.Sprintf("%s %s rv=%q", verb, r.Resource, r.Query["resourceVersion"])
}

// recording is one resource's recorded responses: the bodies of its list
// requests (<resource>.list.<n>.json, in order, the last repeated) and the
// chunks of its watch streams (<resource>.watch.<n>.jsonl), each written
// once the test releases it.
type recording struct {
	lists    [][]byte
	nlists   int
	chunks   [][]byte
	released int
	served   int
}

// apiServer answers client-go's list and watch requests from recorded API
// server responses, as the real API server sends them: a List document for
// a list, a chunked stream of newline-delimited watch events for a watch.
//
// Each watch chunk is sent once, on the watch that is open when the test
// releases it (or the next one), and the stream ends after it, as the API
// server ends a watch at its timeout or after an ERROR event; the reflector
// then watches again from the last resourceVersion it saw, or re-lists after
// a 410. A watch with nothing to send stays open until the client leaves.
//
// A watch that asks for the initial events (sendInitialEvents=true, the
// WatchListClient protocol) is refused as by an API server whose WatchList
// feature is off: client-go then falls back to list and watch.
type apiServer struct {
	t   *testing.T
	srv *httptest.Server

	// watchList makes the server answer sendInitialEvents=true as an API
	// server with the WatchList feature does.
	watchList bool

	mu       sync.Mutex
	rec      map[string]*recording
	requests []request
	wake     chan struct{} // closed and replaced on every release
}

func newAPIServer(t *testing.T, dir string) *apiServer {
	t.Helper()
	a := &apiServer{t: t, rec: map[string]*recording{}, wake: make(chan struct{})}
	for name := range resourcePaths {
		r := &recording{}
		for n := 1; ; n++ {
			b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s.list.%d.json", name, n)))
			if err != nil {
				break
			}
			r.lists = append(r.lists, b)
		}
		for n := 1; ; n++ {
			b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s.watch.%d.jsonl", name, n)))
			if err != nil {
				break
			}
			r.chunks = append(r.chunks, b)
		}
		if len(r.lists) == 0 {
			t.Fatalf("no %s.list.1.json in %s", name, dir)
		}
		a.rec[name] = r
	}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(func() {
		a.srv.CloseClientConnections()
		a.srv.Close()
	})
	return a
}

// release lets the next watch chunk of each named resource go out.
func (a *apiServer) release(names ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range names {
		r := a.rec[n]
		if r.released >= len(r.chunks) {
			a.t.Fatalf("no watch chunk %d for %s", r.released+1, n)
		}
		r.released++
	}
	close(a.wake)
	a.wake = make(chan struct{})
}

// log returns the requests of one resource so far.
func (a *apiServer) log(name string) []request {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []request
	for _, r := range a.requests {
		if r.Resource == name {
			out = append(out, r)
		}
	}
	return out
}

func (a *apiServer) serve(w http.ResponseWriter, req *http.Request) {
	name := ""
	for n, p := range resourcePaths {
		if req.URL.Path == p {
			name = n
		}
	}
	if req.Method != http.MethodGet || name == "" {
		writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("the server could not find the requested resource (%s %s)", req.Method, req.URL.Path))
		return
	}
	q := map[string]string{}
	for k, v := range req.URL.Query() {
		q[k] = v[0]
	}
	watch := q["watch"] == "true" || q["watch"] == "1"
	a.mu.Lock()
	a.requests = append(a.requests, request{Resource: name, Watch: watch, Query: q})
	r := a.rec[name]
	a.mu.Unlock()

	if !watch {
		a.mu.Lock()
		body := r.lists[min(r.nlists, len(r.lists)-1)]
		r.nlists++
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
		return
	}
	initial := q["sendInitialEvents"] == "true"
	if initial && !a.watchList {
		writeStatus(w, http.StatusUnprocessableEntity, "Invalid",
			`ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	if initial {
		// The streaming list: the recorded list's items as ADDED events,
		// then a bookmark at the list's resourceVersion annotated
		// k8s.io/initial-events-end, then the watch goes on.
		a.mu.Lock()
		body := r.lists[min(r.nlists, len(r.lists)-1)]
		r.nlists++
		a.mu.Unlock()
		if err := streamList(w, body); err != nil {
			a.t.Errorf("%s: %v", name, err)
			return
		}
	}
	var timeout <-chan time.Time
	if s := q["timeoutSeconds"]; s != "" {
		d, err := time.ParseDuration(s + "s")
		if err == nil {
			timeout = time.After(d)
		}
	}
	for {
		a.mu.Lock()
		var chunk []byte
		if r.served < r.released {
			chunk = r.chunks[r.served]
			r.served++
		}
		wake := a.wake
		a.mu.Unlock()
		if chunk != nil {
			// One event per write and flush, as the API server streams
			// them.
			sc := bufio.NewScanner(bytes.NewReader(chunk))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if len(bytes.TrimSpace(sc.Bytes())) == 0 {
					continue
				}
				w.Write(append(sc.Bytes(), '\n'))
				w.(http.Flusher).Flush()
			}
			return
		}
		select {
		case <-wake:
		case <-timeout:
			return
		case <-req.Context().Done():
			return
		}
	}
}

// streamList writes a List document as the events of a streaming list.
func streamList(w http.ResponseWriter, list []byte) error {
	var l struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		Metadata   struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(list, &l); err != nil {
		return err
	}
	kind, ok := strings.CutSuffix(l.Kind, "List")
	if !ok {
		return fmt.Errorf("list kind %q", l.Kind)
	}
	enc := json.NewEncoder(w)
	for _, it := range l.Items {
		it["kind"], it["apiVersion"] = kind, l.APIVersion
		if err := enc.Encode(map[string]any{"type": "ADDED", "object": it}); err != nil {
			return err
		}
		w.(http.Flusher).Flush()
	}
	err := enc.Encode(map[string]any{"type": "BOOKMARK", "object": map[string]any{
		"kind": kind, "apiVersion": l.APIVersion,
		"metadata": map[string]any{
			"resourceVersion": l.Metadata.ResourceVersion,
			"annotations":     map[string]string{"k8s.io/initial-events-end": "true"},
		},
	}})
	w.(http.Flusher).Flush()
	return err
}

// writeStatus writes a metav1.Status failure as the API server does.
func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	msg = strings.ReplaceAll(msg, `"`, `\"`)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"%s","reason":"%s","code":%d}`+"\n", msg, reason, code)
}
