package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/filter"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/pipeline"
)

// agent is a thin user of pipeline: it opens the source, attaches a JSON or
// text sink and, for live capture, a pcap writer, and reports counters.
type agent struct {
	opts    options
	stderr  io.Writer
	p       *pipeline.Pipeline
	dump    *dumper      // -w, nil without
	size    int64        // replayed file size, for progress
	metrics *metricsHook // -map, -metrics-addr, -otlp-endpoint (metrics.go); nil without
	server  *serverHook  // -server (server.go); nil without
}

func newAgent(o options, stdout, stderr io.Writer) (*agent, error) {
	a := &agent{opts: o, stderr: stderr}
	reg, noL7, err := registry(o.protos)
	if err != nil {
		return nil, err
	}
	var sink *pipeline.WriterSink
	if o.output == "text" {
		sink = pipeline.NewTextSink(stdout)
	} else {
		sink = pipeline.NewJSONSink(stdout)
	}
	cfg := pipeline.Config{
		Shards: o.shards,
		Flow:   flow.Config{SnapshotInterval: o.every},
		Sinks:  []pipeline.SinkConfig{{Sink: sink}},
	}
	cfg.L7.Registry = reg
	cfg.NoL7 = noL7
	cfg.L7.PortHints = o.hints
	for port, name := range o.hints {
		if _, ok := reg.Lookup(name); !ok {
			return nil, fmt.Errorf("-port-hint %d=%s: no decoder named %q", port, name, name)
		}
	}
	if o.ebpf.on {
		src, err := openTracer(&o.ebpf)
		if err != nil {
			return nil, err
		}
		cfg.Sockets = src
		cfg.Clock = pipeline.ClockWall
	}
	if o.read != "" {
		src, err := capture.OpenFile(o.read)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(o.read); err == nil {
			a.size = st.Size()
		}
		cfg.Source = src
		if o.filter != "" {
			m, err := filter.New(o.filter)
			if err != nil {
				src.Close()
				return nil, err
			}
			cfg.Filter = m
		}
	} else if o.iface != "" {
		src, err := openLive(o, &cfg)
		if err != nil {
			closeSources(&cfg)
			return nil, err
		}
		if o.write != "" {
			if a.dump, err = newDumper(o.write, src); err != nil {
				closeSources(&cfg)
				return nil, err
			}
			cfg.OnPacket = a.dump.write
		}
	}
	if err = attachTags(&cfg); err != nil { // -tags, -tags-proc (tags.go)
		closeSources(&cfg)
		return nil, err
	}
	if a.metrics, err = attachMetrics(&cfg, stderr); err != nil {
		closeSources(&cfg)
		return nil, err
	}
	if a.server, err = attachServer(&cfg, stderr); err != nil {
		closeSources(&cfg)
		return nil, err
	}
	if a.p, err = pipeline.New(cfg); err != nil {
		closeSources(&cfg)
		return nil, err
	}
	return a, nil
}

// openLive opens the AF_PACKET capture of -i: one source, or with
// -fanout one per shard in a fan-out group (cfg.Sources). It returns the
// source whose link type and snapshot length a -w file takes.
func openLive(o options, cfg *pipeline.Config) (*capture.AFPacketSource, error) {
	acfg := capture.AFPacketConfig{
		Interface:      o.iface,
		Filter:         o.filter,
		FilterCompiler: filter.Compile,
	}
	if !o.fanout {
		src, err := capture.OpenAFPacket(acfg)
		if err != nil {
			return nil, err
		}
		cfg.Source = src
		return src, nil
	}
	acfg.FanoutDefrag = true
	srcs, err := capture.OpenAFPacketFanout(acfg, o.shards)
	if err != nil {
		return nil, err
	}
	for _, s := range srcs {
		cfg.Sources = append(cfg.Sources, s)
	}
	return srcs[0], nil
}

// registry returns the decoders of -protocols: every built-in one by
// default, none (noL7) for "none".
func registry(protos string) (reg *l7.Registry, noL7 bool, err error) {
	var decs []l7.Decoder
	switch protos {
	case "":
		decs = builtin.Decoders()
	case "none":
		noL7 = true
	default:
		if decs, err = builtin.Named(strings.Split(protos, ",")...); err != nil {
			return nil, false, fmt.Errorf("-protocols: %w", err)
		}
	}
	if reg, err = l7.NewRegistry(decs...); err != nil {
		return nil, false, fmt.Errorf("build decoder registry: %w", err)
	}
	return reg, noL7, nil
}

// closeSources closes the packet and socket sources of cfg that are open.
func closeSources(cfg *pipeline.Config) {
	if cfg.Source != nil {
		cfg.Source.Close()
	}
	for _, src := range cfg.Sources {
		src.Close()
	}
	if cfg.Sockets != nil {
		cfg.Sockets.Close()
	}
}

// run runs the pipeline to its end or until ctx is cancelled, which is a
// normal way to stop: every record has been written when it returns.
func (a *agent) run(ctx context.Context) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	if a.dump != nil || a.opts.progress {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.tick(done)
		}()
	}
	err := a.p.Run(ctx)
	err = a.metrics.finish(ctx, err)
	err = a.server.finish(err)
	close(done)
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if a.dump != nil {
		if cerr := a.dump.close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if a.opts.progress {
		fmt.Fprint(a.stderr, "\r\033[K")
	}
	if a.opts.stats {
		a.printStats()
	}
	return err
}

// tick flushes the pcap writer and shows progress every second.
func (a *agent) tick(done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var st pipeline.Stats
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if a.dump != nil {
				a.dump.flush()
			}
			if a.opts.progress {
				a.p.Stats(&st)
				a.showProgress(&st)
			}
		}
	}
}

func (a *agent) showProgress(st *pipeline.Stats) {
	fmt.Fprintf(a.stderr, "\r\033[K%d packets", st.Capture.Packets)
	if a.size > 0 {
		// Each pcap record has a 16-byte header; pcapng blocks more.
		done := float64(st.Capture.Bytes+16*st.Capture.Packets) / float64(a.size)
		fmt.Fprintf(a.stderr, " (%.0f%%)", min(done, 1)*100)
	}
	fmt.Fprintf(a.stderr, ", %d flows, %d l4 and %d l7 records", st.Flow.Flows, st.Flow.Records+st.Flow.Snapshots, st.L7.Records)
}

// printStats prints every counter of every stage, one line per stage.
func (a *agent) printStats() {
	var st pipeline.Stats
	a.p.Stats(&st)
	w := a.stderr
	printCounters(w, "capture", st.Capture)
	fmt.Fprintf(w, "filter: rejected=%d\n", st.Filtered)
	printCounters(w, "decode", st.Decode)
	printCounters(w, "flow", st.Flow)
	l7 := st.L7
	protos := l7.Protocols
	l7.Protocols = nil
	printCounters(w, "l7", l7)
	for _, p := range protos {
		printCounters(w, "l7 "+p.Name, p)
	}
	if a.opts.ebpf.on {
		sock := st.Socket
		printCounters(w, "socket source", sock.Source)
		printCounters(w, "socket", sock)
	}
	fmt.Fprintf(w, "pipeline: shards=%d stage_dropped=%d shard_packets=%v\n", len(st.ShardPackets), st.StageDropped, st.ShardPackets)
	for i, s := range st.Sinks {
		printCounters(w, fmt.Sprintf("sink %d", i), s)
	}
	if a.dump != nil {
		fmt.Fprintf(w, "pcap writer: packets=%d\n", a.dump.packets)
	}
}

// printCounters prints the numeric fields of a stats struct as
// name=value pairs, so that no counter is left out.
func printCounters(w io.Writer, stage string, s any) {
	v := reflect.ValueOf(s)
	fmt.Fprintf(w, "%s:", stage)
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := snake(v.Type().Field(i).Name)
		switch f.Kind() {
		case reflect.Uint64, reflect.Uint32, reflect.Uint, reflect.Int, reflect.Int64:
			fmt.Fprintf(w, " %s=%v", name, f.Interface())
		case reflect.Array:
			fmt.Fprintf(w, " %s=%v", name, f.Interface())
		}
	}
	fmt.Fprintln(w)
}

// snake turns a Go field name into snake_case: "FragUnmatched" ->
// "frag_unmatched".
func snake(s string) string {
	b := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 && (s[i-1] < 'A' || s[i-1] > 'Z' || i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z') {
				b = append(b, '_')
			}
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// dumper writes live packets to a pcap file. The header is on disk at
// once, and buffered packets are flushed every second, so that a killed
// agent leaves a readable file.
type dumper struct {
	mu      sync.Mutex
	f       *os.File
	bw      *bufio.Writer
	w       *capture.PcapWriter
	packets uint64
}

func newDumper(path string, src *capture.AFPacketSource) (*dumper, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	d := &dumper{f: f, bw: bufio.NewWriterSize(f, 1<<20)}
	if d.w, err = capture.NewPcapWriter(d.bw, src.LinkType(), src.Snaplen()); err != nil {
		f.Close()
		return nil, err
	}
	if err := d.bw.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	return d, nil
}

func (d *dumper) write(p *capture.Packet) error {
	d.mu.Lock()
	err := d.w.WritePacket(p)
	d.packets++
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}

func (d *dumper) flush() {
	d.mu.Lock()
	d.bw.Flush()
	d.mu.Unlock()
}

func (d *dumper) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.bw.Flush()
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	return err
}
