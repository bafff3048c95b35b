package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/sender"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/pipeline"
	"github.com/metaflow-go/metaflow/tag"
)

// The demo (-demo): the server starts on a temporary store and replays the
// captures shipped under testdata/l7 through an in-process agent (the
// library's pipeline, SmartEncoding, the example sender) into its own
// ingest endpoint, then prints the page's URL. No root, no network.

// demoDir is where the shipped captures are: testdata/l7 in the working
// directory or the nearest parent that has it (the repository root when
// run as "go run ./examples/server -demo").
func demoDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "testdata", "l7")
		if m, _ := filepath.Glob(filepath.Join(c, "*.pcap")); len(m) > 0 {
			return c, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("demo: no testdata/l7/*.pcap in the working directory or its parents; run from the repository or pass -demo-captures")
		}
	}
}

// demoPorts names the servers of the demo's captures by their well-known
// port, as a service tag would.
var demoPorts = map[uint16]string{
	53: "dns", 80: "nginx", 443: "https", 3306: "mysql", 6379: "redis", 8080: "web",
}

// demoTags tags records as an AutoTagging stage would with a static
// inventory: the client side with a pod named after its address, the
// server side with a service named after its port.
type demoTags struct{}

func demoService(port uint16) string {
	if s, ok := demoPorts[port]; ok {
		return s
	}
	return "svc-" + strconv.Itoa(int(port))
}

func (demoTags) ProcessL4(r *flow.Record) bool {
	r.Tags.Set(tag.Client, "pod", "client-"+r.IP0.String())
	r.Tags.Set(tag.Server, "service", demoService(r.ServerPort))
	return true
}

func (demoTags) ProcessL7(r *l7.Record) bool {
	r.Tags.Set(tag.Client, "pod", "client-"+r.Client.Addr().String())
	r.Tags.Set(tag.Server, "service", demoService(r.Server.Port()))
	return true
}

// demoCounter counts the records the in-process agent produced.
type demoCounter struct{ l4, l7 atomic.Int64 }

func (c *demoCounter) WriteL4(*flow.Record) error { c.l4.Add(1); return nil }
func (c *demoCounter) WriteL7(*l7.Record) error   { c.l7.Add(1); return nil }

// demoResult is what a demo replay did.
type demoResult struct {
	Captures int
	L4, L7   int64
	Batches  uint64
}

// replayDemo replays every capture of dir, in name order, into the server
// at url and waits until the server acknowledged every batch.
func replayDemo(ctx context.Context, dir, url, token string) (demoResult, error) {
	var res demoResult
	pcaps, err := filepath.Glob(filepath.Join(dir, "*.pcap"))
	if err != nil || len(pcaps) == 0 {
		return res, fmt.Errorf("demo: no captures in %s", dir)
	}
	sort.Strings(pcaps)
	reg, err := builtin.Registry()
	if err != nil {
		return res, err
	}
	dict := encoding.NewAgentDict()
	snd, err := sender.New(sender.Config{URL: url, Token: token, Dict: dict})
	if err != nil {
		return res, err
	}
	defer snd.Close()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict, TagSetIDs: true, Compression: encoding.CompressS2})
	if err != nil {
		return res, err
	}
	sink := encoding.NewSink(enc, 0, snd.Send)
	var count demoCounter
	for _, pcap := range pcaps {
		src, err := capture.OpenFile(pcap)
		if err != nil {
			return res, fmt.Errorf("demo: %w", err)
		}
		cfg := pipeline.Config{
			Shards: 1,
			Source: src,
			Stages: []pipeline.Stage{demoTags{}},
			Sinks:  []pipeline.SinkConfig{{Sink: &count}, {Sink: sink}},
		}
		cfg.L7.Registry = reg
		p, err := pipeline.New(cfg)
		if err != nil {
			return res, err
		}
		if err := p.Run(ctx); err != nil {
			return res, fmt.Errorf("demo: replay %s: %w", filepath.Base(pcap), err)
		}
		res.Captures++
	}
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := snd.Flush(fctx); err != nil {
		return res, fmt.Errorf("demo: deliver: %w (last error: %v)", err, snd.LastError())
	}
	res.L4, res.L7, res.Batches = count.l4.Load(), count.l7.Load(), snd.Stats().Acked
	return res, nil
}

// startDemo runs the replay against the server listening at addr and
// reports on stderr; the server keeps serving whatever the outcome.
func startDemo(ctx context.Context, o options, addr string, stderr io.Writer) {
	lg := log.New(stderr, "", log.LstdFlags)
	dir, err := demoDir(o.demoCaptures)
	if err != nil {
		lg.Printf("server: %v", err)
		return
	}
	url := "http://" + addr
	start := time.Now()
	ingTok, queryTok, pageTok := o.tokens()
	res, err := replayDemo(ctx, dir, url, ingTok)
	if err != nil {
		lg.Printf("server: %v", err)
		return
	}
	page := url + "/"
	switch {
	case pageTok != "" && pageTok != queryTok:
		page += "#page_token=" + pageTok
		if queryTok != "" {
			page += "&token=" + queryTok
		}
	case queryTok != "":
		page += "#token=" + queryTok
	}
	lg.Printf("server: demo: %d captures of %s replayed in %v: %d requests, %d flows in %d batches", res.Captures, dir, time.Since(start).Round(time.Millisecond), res.L7, res.L4, res.Batches)
	lg.Printf("server: demo ready: open %s", page)
}

// demoStore points o at a temporary store; the returned function removes
// it.
func demoStore(o *options) (func(), error) {
	dir, err := os.MkdirTemp("", "metaflow-demo-")
	if err != nil {
		return nil, err
	}
	o.db = filepath.Join(dir, "demo.duckdb")
	return func() { os.RemoveAll(dir) }, nil
}
