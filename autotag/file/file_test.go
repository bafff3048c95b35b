package file

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/autotag"
)

const doc = `{
  "addrs": [
    {"vpc": 1, "cidrs": ["10.0.0.0/16"], "tags": {"region": "eu-1", "az": "eu-1a", "subnet": "apps"}},
    {"vpc": 1, "cidrs": ["10.0.1.7", "fd00::7"], "tags": {"pod": "web-1", "pod_ns": "shop", "pod_uid": "uid-1"}}
  ],
  "pods": [{"uid": "uid-1", "tags": {"pod": "web-1", "pod_group": "web", "pod_cluster": "prod"}}],
  "containers": [{"id": "c0ffee", "tags": {"pod_uid": "uid-1"}}],
  "processes": [{"pid": 4242, "tags": {"gprocess": "nginx", "container_id": "c0ffee"}}],
  "labels": [{"kind": "pod", "key": "uid-1", "labels": {"app": "web"}}]
}
`

func TestParse(t *testing.T) {
	e, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Addrs) != 3 || len(e.Pods) != 1 || len(e.Containers) != 1 || len(e.Processes) != 1 || len(e.Labels) != 1 {
		t.Fatalf("entries: %+v", e)
	}
	if e.Addrs[2].Prefix != netip.MustParsePrefix("fd00::7/128") || e.Addrs[1].Prefix != netip.MustParsePrefix("10.0.1.7/32") {
		t.Errorf("host prefixes: %v %v", e.Addrs[1].Prefix, e.Addrs[2].Prefix)
	}
	tg := autotag.New()
	tg.Updater("file").Update(e)
	s := tg.Snapshot()
	r := s.Lookup(1, netip.MustParseAddr("10.0.1.7"))
	if r == nil || r.Pod != "web-1" || r.AZ != "eu-1a" || r.Subnet != "apps" {
		t.Errorf("10.0.1.7: %+v", r)
	}
	p := s.Process(4242)
	if p == nil || p.GProcess != "nginx" || p.Pod != "web-1" || p.PodCluster != "prod" || p.PodGroup != "web" {
		t.Errorf("process 4242: %+v", p)
	}
	if s.Labels("pod", "uid-1")["app"] != "web" {
		t.Errorf("labels: %v", s.Labels("pod", "uid-1"))
	}
}

func TestParse_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		line      int
		field     string
		err       error
	}{
		{"bad cidr", "{\n\"addrs\": [\n {\"cidrs\": [\"10.0.0.0/16\"]},\n {\"cidrs\": [\"10.0.0.0/33\"]}\n]}", 4, "addrs[1].cidrs[0]", ErrField},
		{"bad address", "{\"addrs\": [{\"cidrs\": [\"10.0.0.300\"]}]}", 1, "addrs[0].cidrs[0]", ErrField},
		{"unknown tag", "{\n\"pods\": [\n{\"uid\": \"u\", \"tags\": {\"podd\": \"x\"}}]}", 3, "pods[0].tags.podd", ErrField},
		{"unknown key", "{\n  \"addr\": []\n}", 2, "addr", ErrField},
		{"unknown entry key", "{\"addrs\": [\n{\"vpc\": 1,\n \"cidr\": []}]}", 2, "addrs[0]", ErrField},
		{"wrong type", "{\"addrs\": [\n\n{\"vpc\": \"one\"}]}", 3, "addrs[0].vpc", ErrField},
		{"vpc overflow", "{\"addrs\": [{\"vpc\": 9999999999}]}", 1, "addrs[0].vpc", ErrField},
		{"syntax", "{\"addrs\": [\n{\"vpc\": 1,,}]}", 2, "addrs[0]", ErrSyntax},
		{"truncated", "{\"addrs\": [\n{\"vpc\": 1", 2, "addrs[0]", ErrSyntax},
		{"missing pid", "{\"processes\": [{\"tags\": {}}]}", 1, "processes[0].pid", ErrField},
		{"missing uid", "{\"pods\": [{}]}", 1, "pods[0].uid", ErrField},
		{"not an object", "[]", 1, "", ErrSyntax},
		{"trailing data", "{} {}", 1, "", ErrSyntax},
		{"empty", "", 1, "", ErrSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if !errors.Is(err, tc.err) || fe.Line != tc.line || fe.Field != tc.field {
				t.Fatalf("got line %d field %q err %v; want line %d field %q, %v", fe.Line, fe.Field, err, tc.line, tc.field, tc.err)
			}
		})
	}
}

func TestLoad_Errors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.json"))
	var fe *Error
	if !errors.As(err, &fe) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
	p := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(p, []byte("{\n\"pods\": [{\"uid\": 3}]}"), 0o644)
	_, err = Load(p)
	if !errors.As(err, &fe) || fe.Path != p || fe.Line != 2 || !strings.HasPrefix(err.Error(), p+":2: pods[0].uid: ") {
		t.Fatalf("bad file: %v", err)
	}
}

// updates is an autotag.Updater that hands entries to a channel.
type updates chan *autotag.Entries

func (u updates) Update(e *autotag.Entries) { u <- e }

func TestSource_Run(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tags.json")
	if err := os.WriteFile(p, []byte(`{"addrs": [{"cidrs": ["10.0.0.1"], "tags": {"pod": "a"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	src := New(Config{Path: p, Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	u := make(updates, 10)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, u) }()
	next := func() *autotag.Entries {
		t.Helper()
		select {
		case e := <-u:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no update")
		}
		return nil
	}
	if e := next(); e.Addrs[0].Resource.Pod != "a" {
		t.Fatalf("first load: %+v", e)
	}
	// A broken rewrite keeps the last entries and is counted.
	os.WriteFile(p, []byte(`{"addrs": [{"cidrs": ["10.0.0.1/40"]}]}`), 0o644)
	deadline := time.Now().Add(5 * time.Second)
	for src.Stats().Failures == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := src.Stats(); st.Failures == 0 || !errors.Is(st.LastErr, ErrField) {
		t.Fatalf("stats after a bad rewrite: %+v", st)
	}
	// A good rewrite is published.
	os.WriteFile(p, []byte(`{"addrs": [{"cidrs": ["10.0.0.1"], "tags": {"pod": "bb"}}]}`), 0o644)
	if e := next(); e.Addrs[0].Resource.Pod != "bb" {
		t.Fatalf("reload: %+v", e)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if st := src.Stats(); st.Loads != 2 || st.LastErr != nil {
		t.Fatalf("stats: %+v", st)
	}
}

func TestSource_RunMissingFile(t *testing.T) {
	src := New(Config{Path: filepath.Join(t.TempDir(), "none.json")})
	err := src.Run(context.Background(), make(updates, 1))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Run: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(doc))
	f.Add([]byte(`{"addrs": [{"vpc": -1, "cidrs": ["::/0", "1.2.3.4", "::ffff:1.2.3.4/128"]}]}`))
	f.Add([]byte(`{"labels": [{"kind": "pod", "key": "k", "labels": null}]}`))
	f.Add([]byte(`{"addrs": [{"cidrs": ["10.0.0.0/33"]}]}`))
	f.Add([]byte(`{"processes": [{"pid": 1, "tags": {"gprocess": "init"}}]} x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Line < 0 || e != nil {
				t.Fatalf("error %v (%T) with entries %v", err, err, e)
			}
			return
		}
		for _, a := range e.Addrs {
			if !a.Prefix.IsValid() {
				t.Fatalf("invalid prefix accepted: %+v", a)
			}
		}
		// What parses, builds.
		tg := autotag.New()
		tg.Updater("fuzz").Update(e)
		for _, a := range e.Addrs {
			if tg.Snapshot().Lookup(a.VPC, a.Prefix.Addr()) == nil && a.Resource != (autotag.Resource{}) {
				t.Fatalf("entry %+v not found", a)
			}
		}
	})
}

func TestSource_Reload(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tags.json")
	os.WriteFile(p, []byte(`{"pods": [{"uid": "u1", "tags": {"pod": "a"}}]}`), 0o644)
	src := New(Config{Path: p, Interval: -1}) // no polling: Reload only
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := make(updates, 10)
	go src.Run(ctx, u)
	if e := <-u; e.Pods[0].Resource.Pod != "a" {
		t.Fatalf("first: %+v", e)
	}
	os.WriteFile(p, []byte(`{"pods": [{"uid": "u1", "tags": {"pod": "b"}}]}`), 0o644)
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if e := <-u; e.Pods[0].Resource.Pod != "b" {
		t.Fatalf("reloaded: %+v", e)
	}
	os.WriteFile(p, []byte(`{"pods": [{"uid": ""}]}`), 0o644)
	var fe *Error
	if err := src.Reload(); !errors.As(err, &fe) || fe.Field != "pods[0].uid" {
		t.Fatalf("bad reload: %v", err)
	}
	select {
	case e := <-u:
		t.Fatalf("a bad file was published: %+v", e)
	default:
	}
}
