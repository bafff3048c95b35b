//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/metaflow-go/metaflow/capture"
)

// Goroutines holds the goroutine tracking probes running beside a Tracer
// (bpf/goroutine.c): uprobes at the RET instructions of runtime.newproc1
// of Go executables (and its entry when g.parentGoid's offset is unknown;
// runtime.execute and runtime.goexit0 with FollowScheduler), and the
// tracked processes' runtime offsets in the tracer's go_procs map. They
// change the SyscallTraceID and Goroutine of the Tracer's events of those
// programs. Close it before the Tracer.
//
// Stats and Close are safe for concurrent use.
type Goroutines struct {
	cfg  GoroutineConfig
	log  *slog.Logger
	objs goroutineObjects
	pids *ebpf.Map // the tracer's pid filter when it filters by pid, else nil

	mu       sync.Mutex
	links    []link.Link
	seen     map[fileID]bool
	attached []attachedBinary
	closed   bool

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once

	bins, probes, fails, scans atomic.Uint64
}

// NewGoroutines loads the goroutine probes into the tracer t's maps and
// attaches them to the Go executables cfg lists and, with ScanProcs, to
// the running Go programs. It fails when the probes cannot be loaded or a
// listed executable cannot be attached (errors matching ErrNotGo or
// ErrNoGoRuntime say why); a scanned program that cannot be attached is
// logged and counted in Stats().AttachFails.
func NewGoroutines(t *Tracer, cfg GoroutineConfig, log *slog.Logger) (*Goroutines, error) {
	if t == nil || t.closed.Load() {
		return nil, fmt.Errorf("%w: NewGoroutines needs an open Tracer", ErrConfig)
	}
	if cfg.Rescan == 0 {
		cfg.Rescan = DefaultGoroutineRescan
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	spec, err := loadGoroutine()
	if err != nil {
		return nil, fmt.Errorf("capture/ebpf: load goroutine object: %w", err)
	}
	opts, err := t.Share(spec)
	if err != nil {
		return nil, err
	}
	for name, m := range map[string]*ebpf.Map{"go_running": t.objs.GoRunning, "go_trace": t.objs.GoTrace, "go_procs": t.objs.GoProcs} {
		if ms, ok := spec.Maps[name]; ok && m != nil {
			ms.MaxEntries = m.MaxEntries()
			opts.MapReplacements[name] = m
		}
	}
	x := &Goroutines{cfg: cfg, log: log, seen: map[fileID]bool{}, done: make(chan struct{})}
	if t.filterPid {
		x.pids = t.objs.PidFilter
	}
	if err := spec.LoadAndAssign(&x.objs, opts); err != nil {
		return nil, loadError(err)
	}
	exit, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_process_exit", Program: x.objs.GoTaskExit})
	if err != nil {
		x.Close()
		return nil, fmt.Errorf("capture/ebpf: raw tracepoint sched_process_exit %w: %w", capture.ErrNotSupported, err)
	}
	x.links = append(x.links, exit)
	for _, p := range cfg.Binaries {
		if _, err := x.attach(p); err != nil {
			x.Close()
			return nil, err
		}
	}
	x.scan()
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	if cfg.ScanProcs && cfg.Rescan > 0 {
		go x.rescan(ctx, cfg.Rescan)
	} else {
		close(x.done)
	}
	return x, nil
}

// Close detaches the probes and frees their maps, and forgets which
// goroutine each thread runs, so that the tracer's syscall probes go back
// to per-thread trace states. It is safe to call more than once.
func (x *Goroutines) Close() error {
	x.stopOnce.Do(func() {
		if x.cancel != nil {
			x.cancel()
			<-x.done
		}
	})
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	closeTLSLinks(x.links)
	x.links = nil
	// The threads' goroutines are no longer followed: back to per-thread
	// trace states.
	if m := x.objs.GoProcs; m != nil {
		var k uint32
		var v goroutineGoProc
		var keys []uint32
		for it := m.Iterate(); it.Next(&k, &v); {
			keys = append(keys, k)
		}
		for _, k := range keys {
			m.Delete(k)
		}
	}
	if m := x.objs.GoRunning; m != nil {
		var k, v uint64
		var keys []uint64
		for it := m.Iterate(); it.Next(&k, &v); {
			keys = append(keys, k)
		}
		for _, k := range keys {
			m.Delete(k)
		}
	}
	x.objs.Close()
	return nil
}

// Stats returns the attach counters and the kernel's counters.
func (x *Goroutines) Stats() GoroutineStats {
	s := GoroutineStats{
		Binaries:    x.bins.Load(),
		Probes:      x.probes.Load(),
		AttachFails: x.fails.Load(),
		Scans:       x.scans.Load(),
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed || x.objs.GoCounters == nil {
		return s
	}
	for i, dst := range []*uint64{&s.Executes, &s.Spawns, &s.Inherited, &s.Exits, &s.ReadFails} {
		var per []uint64
		if err := x.objs.GoCounters.Lookup(uint32(i), &per); err == nil {
			for _, v := range per {
				*dst += v
			}
		}
	}
	return s
}

// Rescan looks for new Go programs now (ScanProcs), as the periodic scan
// does.
func (x *Goroutines) Rescan() { x.scan() }

func (x *Goroutines) rescan(ctx context.Context, every time.Duration) {
	defer close(x.done)
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			x.scan()
		}
	}
}

func (x *Goroutines) scan() {
	if !x.cfg.ScanProcs {
		return
	}
	x.scans.Add(1)
	x.mu.Lock()
	if !x.closed {
		x.registerProcs(x.attached)
	}
	x.mu.Unlock()
	self := os.Getpid()
	for _, pid := range procPids() {
		if pid == self {
			continue
		}
		if x.pids != nil {
			var v uint8
			if x.pids.Lookup(uint32(pid), &v) != nil {
				continue
			}
		}
		if ok, err := x.attach("/proc/" + strconv.Itoa(pid) + "/exe"); err != nil && !errors.Is(err, ErrNotGo) {
			x.log.Info("capture/ebpf: Go program's goroutines not tracked", "pid", pid, "err", err)
		} else if ok {
			x.log.Debug("capture/ebpf: tracking goroutines", "pid", pid)
		}
	}
}

// claim returns the file's identity and whether it is new.
func (x *Goroutines) claim(path string) (fileID, bool, error) {
	return claimFile(&x.mu, x.seen, path)
}

// attach attaches the probes to a Go executable. It returns false, nil for
// a file already handled.
func (x *Goroutines) attach(path string) (bool, error) {
	id, fresh, err := x.claim(path)
	if err != nil {
		return false, fmt.Errorf("capture/ebpf: goroutines: %w", err)
	}
	if !fresh {
		return false, nil
	}
	g, err := analyzeGoRuntime(path)
	if err != nil {
		if !errors.Is(err, ErrNotGo) {
			x.fails.Add(1)
		}
		return false, fmt.Errorf("capture/ebpf: goroutines: %w", err)
	}
	ls, err := x.links1(g)
	if err != nil {
		x.fails.Add(1)
		return false, fmt.Errorf("capture/ebpf: goroutines %s: %w", path, err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		closeTLSLinks(ls)
		return false, nil
	}
	x.seen[id] = true
	x.links = append(x.links, ls...)
	x.probes.Add(uint64(len(ls)))
	x.bins.Add(1)
	x.attached = append(x.attached, attachedBinary{id, x.goProc(g)})
	x.log.Debug("capture/ebpf: attached goroutine probes", "binary", g.String(), "probes", len(ls), "regs", x.regsMode(g))
	x.registerProcs(x.attached[len(x.attached)-1:])
	return true, nil
}

// attachedBinary is an executable the probes are attached to and the
// go_procs entry of its processes.
type attachedBinary struct {
	id   fileID
	proc goroutineGoProc
}

// registerProcs records the running processes of the given executables in
// go_procs, so that their goroutines are known before the runtime probes
// first fire in them. Called with x.mu held.
func (x *Goroutines) registerProcs(bins []attachedBinary) {
	if len(bins) == 0 || x.objs.GoProcs == nil {
		return
	}
	for _, pid := range procPids() {
		id, err := statFileID("/proc/" + strconv.Itoa(pid) + "/exe")
		if err != nil {
			continue
		}
		for _, b := range bins {
			if b.id == id {
				x.objs.GoProcs.Update(uint32(pid), b.proc, ebpf.UpdateAny)
			}
		}
	}
}

// testNewproc1Entry makes tests probe newproc1's entry for the parent
// goroutine even when runtime.g.parentGoid is known.
var testNewproc1Entry bool

// Attach cookie of the runtime probes (bpf/goroutine.h): register mode,
// and where the offset of runtime.g.parentGoid starts.
const (
	goCookieRegs        = 1 << 48
	goCookieParentShift = 49
)

// regsMode reports whether the goroutine of a thread of g's processes is
// read from the g register rather than followed through the scheduler.
func (x *Goroutines) regsMode(g *goRuntime) bool {
	return !x.cfg.FollowScheduler && g.GM != 0 && g.MProcid != 0
}

// goProc is the go_procs entry of g's processes (bpf/goroutine.h).
func (x *Goroutines) goProc(g *goRuntime) goroutineGoProc {
	p := goroutineGoProc{GoidOff: g.Goid, M_off: g.GM, ProcidOff: g.MProcid}
	if x.regsMode(g) {
		p.Regs = 1
	}
	return p
}

// cookie packs the go_procs entry for the probes' attach cookie.
func (x *Goroutines) cookie(g *goRuntime) uint64 {
	p := x.goProc(g)
	c := uint64(p.GoidOff) | uint64(p.M_off)<<16 | uint64(p.ProcidOff)<<32
	if p.Regs != 0 {
		c |= goCookieRegs
	}
	if g.ParentGoid < 1<<15 && !testNewproc1Entry {
		c |= uint64(g.ParentGoid) << goCookieParentShift
	}
	return c
}

func (x *Goroutines) links1(g *goRuntime) ([]link.Link, error) {
	ex, err := link.OpenExecutable(g.Path)
	if err != nil {
		return nil, err
	}
	cookie := x.cookie(g)
	type probe struct {
		sym  string
		addr uint64
		prog *ebpf.Program
	}
	var ps []probe
	if g.ParentGoid == 0 || g.ParentGoid >= 1<<15 || testNewproc1Entry {
		// The parent is not readable from the new g: probe the entry.
		ps = append(ps, probe{goNewproc1Sym, g.Newproc1.Entry, x.objs.GoNewproc1})
	}
	for _, r := range g.Newproc1.Rets {
		ps = append(ps, probe{goNewproc1Sym, r, x.objs.GoNewproc1Ret})
	}
	if !x.regsMode(g) {
		ps = append(ps, probe{goExecuteSym, g.Execute, x.objs.GoExecute})
		if g.Goexit0 != 0 {
			ps = append(ps, probe{goGoexit0Sym, g.Goexit0, x.objs.GoGoexit0})
		}
	}
	var ls []link.Link
	for _, p := range ps {
		l, err := ex.Uprobe(p.sym, p.prog, &link.UprobeOptions{Address: p.addr, Cookie: cookie})
		if err != nil {
			closeTLSLinks(ls)
			return nil, fmt.Errorf("uprobe %s at %#x: %w", p.sym, p.addr, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// GoroutineStats returns the counters of the goroutine probes that
// Config.Goroutines started, zero when none were.
func (t *Tracer) GoroutineStats() GoroutineStats {
	if t.gor == nil {
		return GoroutineStats{}
	}
	return t.gor.Stats()
}
