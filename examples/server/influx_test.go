package main

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
)

// TestServer_Influx writes points with the InfluxDB v2 client library
// (line protocol as Telegraf's influxdb_v2 output sends it), with and
// without gzip, and checks every field stored with its type's value, its
// tags as labels and the tags they name.
func TestServer_Influx(t *testing.T) {
	ts := startServer(t, options{db: ":memory:", token: extToken, maxExt: 1 << 20})
	agentWeb1(t, ts)
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC)
	for _, gz := range []bool{false, true} {
		opts := influxdb2.DefaultOptions().SetUseGZip(gz).SetPrecision(time.Nanosecond)
		c := influxdb2.NewClientWithOptions(ts.url, extToken, opts)
		w := c.WriteAPIBlocking("org", "telegraf")
		m := "disk io"
		if gz {
			m = "disk,io"
		}
		p := influxdb2.NewPoint(m,
			map[string]string{"pod": "web-1", "namespace": "shop", "path": "/var/lib, a=b"},
			map[string]any{"used": 0.25, "inodes": int64(-7), "total": uint64(1 << 40), "ro": true, "label": `say "hi" \ bye`},
			at)
		if err := w.WritePoint(ctx, p); err != nil {
			t.Fatalf("gzip %v: %v", gz, err)
		}
		c.Close()
	}
	web1, _ := ts.st.Dict().Lookup("pod", "web-1")
	rows, err := ts.st.DB().Query(`SELECT measurement, metric, CAST(value AS VARCHAR), text, labels['path'], pod_id, time, source FROM ext_samples`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var meas, metric, source string
		var value, text, path *string
		var pod uint32
		var tm int64
		if err := rows.Scan(&meas, &metric, &value, &text, &path, &pod, &tm, &source); err != nil {
			t.Fatal(err)
		}
		if path == nil || *path != "/var/lib, a=b" || pod != web1 || tm != at.UnixNano() || source != "influx" {
			t.Errorf("%s: path %v pod %d (web-1 %d) time %d (want %d) source %s", metric, path, pod, web1, tm, at.UnixNano(), source)
		}
		v := "value=" + deref(value)
		if text != nil {
			v = "text=" + *text
		}
		got = append(got, meas+"|"+metric+"|"+v)
	}
	sort.Strings(got)
	want := []string{
		`disk io|disk io_inodes|value=-7.0`, `disk io|disk io_label|text=say "hi" \ bye`, `disk io|disk io_ro|value=1.0`,
		`disk io|disk io_total|value=1099511627776.0`, `disk io|disk io_used|value=0.25`,
		`disk,io|disk,io_inodes|value=-7.0`, `disk,io|disk,io_label|text=say "hi" \ bye`, `disk,io|disk,io_ro|value=1.0`,
		`disk,io|disk,io_total|value=1099511627776.0`, `disk,io|disk,io_used|value=0.25`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stored\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The v1 endpoint as Telegraf's influxdb output uses it: basic
	// authentication, precision in seconds, a line without timestamp.
	body := "mem,host=node-a free=5i 1700000000\nmem,host=node-a used=3u\n"
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/write?db=telegraf&precision=s", strings.NewReader(body))
	req.SetBasicAuth("telegraf", extToken)
	before := time.Now().UnixNano()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("v1 write: %d", resp.StatusCode)
	}
	node, _ := ts.st.Dict().Lookup("host", "node-a")
	var free, used float64
	var tFree, tUsed int64
	var hFree uint32
	if err := ts.st.DB().QueryRow(`SELECT value, time, host_id FROM ext_metrics WHERE metric = 'mem_free'`).Scan(&free, &tFree, &hFree); err != nil {
		t.Fatal(err)
	}
	if err := ts.st.DB().QueryRow(`SELECT value, time FROM ext_metrics WHERE metric = 'mem_used'`).Scan(&used, &tUsed); err != nil {
		t.Fatal(err)
	}
	if free != 5 || tFree != 1700000000e9 || hFree != node || node == 0 || used != 3 || tUsed < before || tUsed > time.Now().UnixNano() {
		t.Fatalf("mem_free %v at %d host %d (node-a %d), mem_used %v at %d", free, tFree, hFree, node, used, tUsed)
	}
	if st := ts.ext.Stats(); st.Influx != 3 || st.Samples != 12 {
		t.Fatalf("stats %+v", st)
	}
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}
