package ingest_test

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/examples/server/store"
)

type series struct {
	labels  []string // name, value pairs
	samples []float64
	times   []int64
	hists   int
}

// writeRequest encodes a prompb.WriteRequest field by field (the
// remote write 1.0 proto: timeseries 1 {labels 1 {name 1, value 2},
// samples 2 {value 1 double, timestamp 2 int64}, histograms 4}, metadata 3).
func writeRequest(ss []series) []byte {
	var out []byte
	for _, s := range ss {
		var ts []byte
		for i := 0; i < len(s.labels); i += 2 {
			var l []byte
			l = protowire.AppendTag(l, 1, protowire.BytesType)
			l = protowire.AppendString(l, s.labels[i])
			l = protowire.AppendTag(l, 2, protowire.BytesType)
			l = protowire.AppendString(l, s.labels[i+1])
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, l)
		}
		for i, v := range s.samples {
			var sm []byte
			sm = protowire.AppendTag(sm, 1, protowire.Fixed64Type)
			sm = protowire.AppendFixed64(sm, math.Float64bits(v))
			sm = protowire.AppendTag(sm, 2, protowire.VarintType)
			sm = protowire.AppendVarint(sm, uint64(s.times[i]))
			ts = protowire.AppendTag(ts, 2, protowire.BytesType)
			ts = protowire.AppendBytes(ts, sm)
		}
		for range s.hists {
			ts = protowire.AppendTag(ts, 4, protowire.BytesType)
			ts = protowire.AppendBytes(ts, []byte{0x08, 0x01})
		}
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, ts)
	}
	// metadata, ignored
	out = protowire.AppendTag(out, 3, protowire.BytesType)
	out = protowire.AppendBytes(out, []byte{0x08, 0x01})
	return out
}

func TestDecodeWriteRequest(t *testing.T) {
	stale := math.Float64frombits(0x7ff0000000000002)
	req := writeRequest([]series{
		{labels: []string{"__name__", "up", "job", "node", "instance", "10.0.0.5:9100"}, samples: []float64{1, 0}, times: []int64{1000, 2000}},
		{labels: []string{"__name__", "http_requests_total", "instance", "web-1:8080", "pod", "web-1", "namespace", "shop", "code", "200", "host", "node-a"},
			samples: []float64{7.5, stale}, times: []int64{-5, 3000}},
		{labels: []string{"__name__", "native", "instance", "10.0.0.5:9100"}, hists: 2},
		{labels: []string{"__name__", "nan", "instance", "[::ffff:10.0.0.5]:9100"}, samples: []float64{math.NaN()}, times: []int64{4}},
	})
	var b store.ExtBatch
	skipped, err := ingest.DecodeWriteRequest(req, &b)
	if err != nil {
		t.Fatal(err)
	}
	if skipped != 3 {
		t.Fatalf("skipped %d, want 3 (a stale marker, two native histograms)", skipped)
	}
	var got []string
	for _, s := range b.Samples {
		r := b.Resources[s.Resource]
		var ls []string
		for k, v := range s.Labels {
			ls = append(ls, k+"="+v)
		}
		sort.Strings(ls)
		got = append(got, fmt.Sprintf("%s%v=%v@%d addr=%v tags=%v", s.Metric, ls, s.Value, s.Time, r.Addr, r.Tags))
	}
	want := []string{
		"up[instance=10.0.0.5:9100 job=node]=1@1000000000 addr=10.0.0.5 tags=[]",
		"up[instance=10.0.0.5:9100 job=node]=0@2000000000 addr=10.0.0.5 tags=[]",
		"http_requests_total[code=200 host=node-a instance=web-1:8080 namespace=shop pod=web-1]=7.5@-5000000 addr=invalid IP tags=[{pod web-1} {pod_ns shop} {host node-a} {host web-1}]",
		"nan[instance=[::ffff:10.0.0.5]:9100]=NaN@4000000 addr=10.0.0.5 tags=[]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(b.Resources) != 2 {
		t.Fatalf("%d resources, want 2 (10.0.0.5 once, unmapped; web-1)", len(b.Resources))
	}
	bad := map[string][]byte{
		"truncated":     req[:len(req)/2],
		"no name":       writeRequest([]series{{labels: []string{"job", "x"}, samples: []float64{1}, times: []int64{1}}}),
		"dup label":     writeRequest([]series{{labels: []string{"__name__", "a", "job", "x", "job", "y"}, samples: []float64{1}, times: []int64{1}}}),
		"wrong type":    {0x0d, 0, 0, 0, 0},
		"time overflow": writeRequest([]series{{labels: []string{"__name__", "a"}, samples: []float64{1}, times: []int64{math.MaxInt64 / 10}}}),
	}
	for name, body := range bad {
		var b store.ExtBatch
		if _, err := ingest.DecodeWriteRequest(body, &b); !errors.Is(err, ingest.ErrRemoteWrite) {
			t.Errorf("%s: %v, want ErrRemoteWrite", name, err)
		}
	}
}

// FuzzDecodeWriteRequest: no panic; an error wraps ErrRemoteWrite; every
// sample has a name and a resource.
func FuzzDecodeWriteRequest(f *testing.F) {
	f.Add(writeRequest([]series{
		{labels: []string{"__name__", "up", "instance", "10.0.0.5:9100", "pod", "p"}, samples: []float64{1, 2}, times: []int64{1, 2}, hists: 1},
	}))
	f.Add(writeRequest(nil))
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		var b store.ExtBatch
		_, err := ingest.DecodeWriteRequest(body, &b)
		if err != nil {
			if !errors.Is(err, ingest.ErrRemoteWrite) {
				t.Fatalf("error %v does not wrap ErrRemoteWrite", err)
			}
			return
		}
		for _, s := range b.Samples {
			if s.Metric == "" || s.Resource < 0 || s.Resource >= len(b.Resources) {
				t.Fatalf("sample %+v of %d resources", s, len(b.Resources))
			}
		}
	})
}
