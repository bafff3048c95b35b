package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/capture/filter"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
)

// pipeline wires a source through decode, the flow table and the L7 engine
// to one output.
type pipeline struct {
	opts   options
	src    capture.Source
	match  *filter.Filter // replay filter; live filters run in the kernel
	dump   *capture.PcapWriter
	dumpTo io.Closer
	dec    *decode.Decoder
	table  *flow.Table
	engine *l7.Engine
	out    *output

	decodeErrs uint64
	filtered   uint64 // replayed packets the filter rejected
}

func newPipeline(o options, w io.Writer) (*pipeline, error) {
	p := &pipeline{opts: o, out: newOutput(w, o.output == "text")}
	reg, err := builtin.Registry()
	if err != nil {
		return nil, fmt.Errorf("build decoder registry: %w", err)
	}
	p.engine, err = l7.NewEngine(l7.Config{Registry: reg, OnRecord: p.out.l7})
	if err != nil {
		return nil, fmt.Errorf("start l7 engine: %w", err)
	}
	p.table = flow.NewTable(flow.Config{Handler: p.engine, OnRecord: p.out.l4, SnapshotInterval: o.every})
	p.dec = decode.NewDecoder(decode.Config{})

	if o.read != "" {
		if p.src, err = capture.OpenFile(o.read); err != nil {
			return nil, err
		}
		if o.filter != "" {
			if p.match, err = filter.New(o.filter); err != nil {
				p.src.Close()
				return nil, err
			}
		}
		return p, nil
	}
	if err := p.openLive(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pipeline) openLive() error {
	src, err := capture.OpenAFPacket(capture.AFPacketConfig{
		Interface:      p.opts.iface,
		Filter:         p.opts.filter,
		FilterCompiler: filter.Compile,
	})
	if err != nil {
		return err
	}
	p.src = src
	if p.opts.write != "" {
		f, err := os.Create(p.opts.write)
		if err != nil {
			src.Close()
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		if p.dump, err = capture.NewPcapWriter(bw, src.LinkType(), src.Snaplen()); err != nil {
			f.Close()
			src.Close()
			return err
		}
		p.dumpTo = flushCloser{bw, f}
	}
	// Stop cleanly on SIGINT/SIGTERM: closing the source unblocks ReadPacket.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		src.Close()
	}()
	return nil
}

func (p *pipeline) run(stderr io.Writer) error {
	defer p.src.Close()
	var pkt capture.Packet
	var meta decode.Meta
	var readErr error
	for {
		if err := p.src.ReadPacket(&pkt); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, capture.ErrClosed) {
				readErr = err
			}
			break
		}
		if p.match != nil && !p.match.Match(&pkt) {
			p.filtered++
			continue
		}
		if p.dump != nil {
			if err := p.dump.WritePacket(&pkt); err != nil {
				readErr = fmt.Errorf("write %s: %w", p.opts.write, err)
				break
			}
		}
		if err := p.dec.Decode(&pkt, &meta); err != nil {
			p.decodeErrs++
			continue
		}
		p.table.Packet(&meta)
	}
	p.table.Flush()
	if p.dumpTo != nil {
		if err := p.dumpTo.Close(); err != nil && readErr == nil {
			readErr = err
		}
	}
	if err := p.out.flush(); err != nil && readErr == nil {
		readErr = err
	}
	if p.opts.stats {
		p.printStats(stderr)
	}
	return readErr
}

func (p *pipeline) printStats(w io.Writer) {
	s := p.src.Stats()
	fmt.Fprintf(w, "capture: packets=%d bytes=%d filtered=%d truncated=%d dropped=%d errors=%d\n",
		s.Packets, s.Bytes, s.Filtered+p.filtered, s.Truncated, s.Dropped, s.Errors)
	fmt.Fprintf(w, "decode: errors=%d\n", p.decodeErrs)
	t := p.table.Stats()
	fmt.Fprintf(w, "flow: packets=%d flows=%d records=%d dropped_flows=%d not_l4=%d frag_unmatched=%d\n",
		t.Packets, t.Flows, t.Records, t.DroppedFlows, t.NotL4, t.FragUnmatched)
	e := p.engine.Stats()
	fmt.Fprintf(w, "l7: requests=%d responses=%d records=%d parse_errors=%d gaps=%d timeouts=%d\n",
		e.Requests, e.Responses, e.Records, e.ParseErrors, e.Gaps, e.Timeouts)
}

// flushCloser flushes a buffered writer before closing its file.
type flushCloser struct {
	w *bufio.Writer
	f *os.File
}

func (c flushCloser) Close() error {
	err := c.w.Flush()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}
