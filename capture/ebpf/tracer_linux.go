//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/socket"
)

// Errors.
var (
	// ErrPermission is matched by New's error when the process may not
	// load eBPF programs (not root, no CAP_BPF and CAP_PERFMON).
	ErrPermission = errors.New("capture/ebpf: permission denied")
	// ErrConfig is matched by New's error for an invalid Config.
	ErrConfig = errors.New("capture/ebpf: invalid config")
)

// Layout of struct mf_event (bpf/common.h).
const (
	hdrSize       = 144
	offPid        = 8
	offTid        = 12
	offFd         = 16
	offFlags      = 20
	offComm       = 24
	offCgroup     = 40
	offGoroutine  = 48
	offSocketID   = 56
	offEnter      = 64
	offExit       = 72
	offLength     = 80
	offTraceID    = 88
	offSeq        = 96
	offLport      = 100
	offRport      = 102
	offLaddr      = 104
	offRaddr      = 120
	offPayloadLen = 136

	flagHasSeq     = 1 << 0
	flagHasAddr    = 1 << 1
	flagTruncated  = 1 << 2
	afInet         = 2
	afInet6        = 10
	pollInterval   = 10 * time.Millisecond
	maxFilterItems = 1024
)

// syscalls are the system calls hooked through their classic tracepoints.
var syscalls = []string{
	"read", "write", "readv", "writev", "sendto", "recvfrom", "sendmsg",
	"recvmsg", "sendmmsg", "recvmmsg", "connect", "accept", "accept4", "close",
}

// Tracer is a loaded and attached socket tracer. It implements
// socket.Source.
type Tracer struct {
	objs  socketObjects // programs are loaded as needed: nil when not
	spec  *ebpf.CollectionSpec
	links []link.Link
	rd    *ringbuf.Reader
	rec   ringbuf.Record
	raw   bool // raw tracepoints attached instead of classic ones

	comms               map[[16]byte]struct{}
	filterPid, filterCg bool
	wakeup              uint64
	monoToUnix          int64

	tls       *TLS        // the TLS plaintext probes (Config.TLS), or nil
	gor       *Goroutines // the goroutine probes (Config.Goroutines), or nil
	closeOnce sync.Once
	statsMu   sync.RWMutex // Stats reads the loss map while Close has not closed it
	closed    atomic.Bool

	events, truncated, filtered atomic.Uint64
	lostAtClose                 atomic.Uint64
}

var _ socket.Source = (*Tracer)(nil)

// New loads the tracer's eBPF objects, attaches them and returns the
// running Tracer. Errors name the missing feature or capability and match
// capture.ErrNotSupported (kernel features) or ErrPermission.
func New(cfg Config) (*Tracer, error) {
	if cfg.PayloadSize == 0 {
		cfg.PayloadSize = DefaultPayloadSize
	}
	if cfg.PayloadSize < 0 || cfg.PayloadSize > MaxPayloadSize {
		return nil, fmt.Errorf("%w: PayloadSize %d not in 0..%d", ErrConfig, cfg.PayloadSize, MaxPayloadSize)
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.RingSize < os.Getpagesize() || cfg.RingSize&(cfg.RingSize-1) != 0 {
		return nil, fmt.Errorf("%w: RingSize %d is not a power of two of at least a page", ErrConfig, cfg.RingSize)
	}
	if len(cfg.Pids) > maxFilterItems || len(cfg.CgroupIDs) > maxFilterItems {
		return nil, fmt.Errorf("%w: more than %d pids or cgroup ids", ErrConfig, maxFilterItems)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, fmt.Errorf("capture/ebpf: kernel BTF (/sys/kernel/btf/vmlinux) %w: %w", capture.ErrNotSupported, err)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		// cilium/ebpf probes map creation first: refused without privileges.
		if errors.Is(err, unix.EPERM) || os.Geteuid() != 0 {
			return nil, fmt.Errorf("%w: loading eBPF programs needs root or CAP_BPF and CAP_PERFMON (memlock limit: %w)", ErrPermission, err)
		}
		return nil, fmt.Errorf("capture/ebpf: remove memlock limit: %w", err)
	}

	t := &Tracer{
		filterPid: len(cfg.Pids) > 0,
		filterCg:  len(cfg.CgroupIDs) > 0,
	}
	if len(cfg.Comms) > 0 {
		t.comms = make(map[[16]byte]struct{}, len(cfg.Comms))
		for _, c := range cfg.Comms {
			var k [16]byte
			copy(k[:15], c)
			t.comms[k] = struct{}{}
		}
	}
	t.wakeup = min(uint64(256<<10), uint64(cfg.RingSize/4))

	spec, err := loadSocket()
	if err != nil {
		return nil, fmt.Errorf("capture/ebpf: load object: %w", err)
	}
	spec.Maps["events"].MaxEntries = uint32(cfg.RingSize)
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("capture/ebpf: possible CPUs: %w", err)
	}
	spec.Maps["scratch"].MaxEntries = uint32(ncpu)
	// Tracing the whole machine leaves out the tracer's own calls.
	var self uint32
	if len(cfg.Pids) == 0 {
		self = uint32(os.Getpid())
	}
	sets := []struct {
		name string
		v    any
	}{
		{"capture_size", uint32(cfg.PayloadSize)},
		{"self_tgid", self},
		{"id_epoch", uint64(time.Now().Unix()&0xffff) << 48},
		{"filter_pids", b2u8(t.filterPid)},
		{"filter_cgroups", b2u8(t.filterCg)},
		{"wakeup_bytes", t.wakeup},
	}
	for _, s := range sets {
		if err := spec.Variables[s.name].Set(s.v); err != nil {
			return nil, fmt.Errorf("capture/ebpf: set %s: %w", s.name, err)
		}
	}
	// Maps first; then only the programs of the hooks that attach.
	var mv struct {
		socketMaps
		socketVariables
	}
	if err := spec.LoadAndAssign(&mv, nil); err != nil {
		return nil, loadError(err)
	}
	t.objs.socketMaps, t.objs.socketVariables = mv.socketMaps, mv.socketVariables
	t.spec = spec
	one := uint8(1)
	for _, p := range cfg.Pids {
		if err := t.objs.PidFilter.Put(p, one); err != nil {
			t.Close()
			return nil, fmt.Errorf("capture/ebpf: pid filter: %w", err)
		}
	}
	for _, c := range cfg.CgroupIDs {
		if err := t.objs.CgroupFilter.Put(c, one); err != nil {
			t.Close()
			return nil, fmt.Errorf("capture/ebpf: cgroup filter: %w", err)
		}
	}
	if err := t.attach(cfg.ForceRawTracepoints, log); err != nil {
		t.Close()
		return nil, err
	}
	t.rd, err = ringbuf.NewReader(t.objs.Events)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("capture/ebpf: ring buffer reader: %w", err)
	}
	t.rd.SetDeadline(time.Now().Add(pollInterval))
	t.monoToUnix = monoOffset()
	if cfg.TLS.enabled() {
		if t.tls, err = NewTLS(t, cfg.TLS, log); err != nil {
			t.Close()
			return nil, err
		}
	}
	if cfg.Goroutines.enabled() {
		if t.gor, err = NewGoroutines(t, cfg.Goroutines, log); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// loadError explains a failed load.
func loadError(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		// The programs load on the kernels this package supports: a
		// rejection means an older or differently built kernel.
		return fmt.Errorf("capture/ebpf: the kernel's verifier rejected a program (Linux 6.2 or later needed): %w: %w", capture.ErrNotSupported, err)
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, os.ErrPermission) {
		if os.Geteuid() != 0 {
			return fmt.Errorf("%w: loading eBPF programs needs root or CAP_BPF and CAP_PERFMON: %w", ErrPermission, err)
		}
		return fmt.Errorf("capture/ebpf: load programs: %w (the kernel refused as root: lockdown or unprivileged BPF policy): %w", capture.ErrNotSupported, err)
	}
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("capture/ebpf: load programs: kernel feature %w: %w", capture.ErrNotSupported, err)
	}
	return fmt.Errorf("capture/ebpf: load programs: %w", err)
}

// attach attaches the syscall hooks (classic tracepoints, else raw ones)
// and the TCP hooks.
func (t *Tracer) attach(forceRaw bool, log *slog.Logger) error {
	p := &t.objs.socketPrograms
	if err := t.loadPrograms(map[string]**ebpf.Program{
		"raw_set_state": &p.RawSetState, "raw_retransmit": &p.RawRetransmit,
	}); err != nil {
		return err
	}
	var tpErr error
	if !forceRaw {
		tpErr = t.loadPrograms(map[string]**ebpf.Program{
			"tp_sys_enter": &p.TpSysEnter, "tp_sys_enter_addr": &p.TpSysEnterAddr,
			"tp_sys_enter_close": &p.TpSysEnterClose, "tp_sys_exit": &p.TpSysExit,
		})
		if tpErr != nil {
			return tpErr
		}
		tpErr = t.attachClassic()
		if tpErr == nil {
			log.Debug("capture/ebpf: attached syscall tracepoints", "count", 2*len(syscalls))
		} else {
			log.Info("capture/ebpf: syscall tracepoints unavailable; using raw tracepoints", "err", tpErr)
		}
	}
	if forceRaw || tpErr != nil {
		t.raw = true
		if err := t.loadPrograms(map[string]**ebpf.Program{"raw_sys_enter": &p.RawSysEnter, "raw_sys_exit": &p.RawSysExit}); err != nil {
			return err
		}
		for _, a := range []struct {
			name string
			prog *ebpf.Program
		}{{"sys_enter", t.objs.RawSysEnter}, {"sys_exit", t.objs.RawSysExit}} {
			l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: a.name, Program: a.prog})
			if err != nil {
				if tpErr != nil {
					return fmt.Errorf("capture/ebpf: syscall hooks %w: tracepoints: %v; raw tracepoint %s: %w", capture.ErrNotSupported, tpErr, a.name, err)
				}
				return fmt.Errorf("capture/ebpf: raw tracepoint %s %w: %w", a.name, capture.ErrNotSupported, err)
			}
			t.links = append(t.links, l)
		}
	}
	for _, a := range []struct {
		name string
		prog *ebpf.Program
	}{{"inet_sock_set_state", t.objs.RawSetState}, {"tcp_retransmit_skb", t.objs.RawRetransmit}} {
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: a.name, Program: a.prog})
		if err != nil {
			return fmt.Errorf("capture/ebpf: raw tracepoint %s %w: %w", a.name, capture.ErrNotSupported, err)
		}
		t.links = append(t.links, l)
	}
	return nil
}

// loadPrograms loads the named programs of the object against the maps
// New made and stores each in its field.
func (t *Tracer) loadPrograms(progs map[string]**ebpf.Program) error {
	m := &t.objs.socketMaps
	shared := map[string]*ebpf.Map{
		"cgroup_filter": m.CgroupFilter, "events": m.Events, "id_counter": m.IdCounter,
		"lost_events": m.LostEvents, "pending": m.Pending, "pid_filter": m.PidFilter,
		"scratch": m.Scratch, "sock_info": m.SockInfo, "thread_trace": m.ThreadTrace,
		"tls_active": m.TlsActive, "listeners": m.Listeners,
		"go_running": m.GoRunning, "go_trace": m.GoTrace, "go_procs": m.GoProcs,
	}
	cs := t.spec.Copy()
	for name := range cs.Programs {
		if _, ok := progs[name]; !ok {
			delete(cs.Programs, name)
		}
	}
	opts := ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{}}
	for name := range cs.Maps {
		if strings.HasPrefix(name, ".") {
			continue // .rodata and friends: the spec's values, set before
		}
		sm, ok := shared[name]
		if !ok {
			panic("capture/ebpf: map " + name + " missing from loadPrograms") // a new map in socket.c
		}
		opts.MapReplacements[name] = sm
	}
	coll, err := ebpf.NewCollectionWithOptions(cs, opts)
	if err != nil {
		return loadError(err)
	}
	defer coll.Close()
	for name, dst := range progs {
		if *dst = coll.DetachProgram(name); *dst == nil {
			return fmt.Errorf("capture/ebpf: program %s missing from the object", name)
		}
	}
	return nil
}

func (t *Tracer) attachClassic() error {
	n := len(t.links)
	for _, sc := range syscalls {
		for _, a := range []struct {
			name string
			prog *ebpf.Program
		}{{"sys_enter_" + sc, t.objs.TpSysEnter}, {"sys_exit_" + sc, t.objs.TpSysExit}} {
			// Programs may read only as far as the record goes.
			if a.prog == t.objs.TpSysEnter {
				switch sc {
				case "close":
					a.prog = t.objs.TpSysEnterClose
				case "sendto", "recvfrom":
					a.prog = t.objs.TpSysEnterAddr
				}
			}
			l, err := link.Tracepoint("syscalls", a.name, a.prog, nil)
			if err != nil {
				for _, l := range t.links[n:] {
					l.Close()
				}
				t.links = t.links[:n]
				return fmt.Errorf("tracepoint syscalls:%s: %w", a.name, err)
			}
			t.links = append(t.links, l)
		}
	}
	return nil
}

// AddPids adds processes to the kernel's pid filter of a Tracer made with
// Config.Pids (for processes started after New). It returns ErrConfig when
// the tracer does not filter by pid, and an error when the filter is full.
func (t *Tracer) AddPids(pids ...uint32) error {
	if !t.filterPid {
		return fmt.Errorf("%w: AddPids on a tracer without a pid filter", ErrConfig)
	}
	for _, p := range pids {
		if err := t.objs.PidFilter.Put(p, uint8(1)); err != nil {
			return fmt.Errorf("capture/ebpf: pid filter: %w", err)
		}
	}
	return nil
}

// detachAll detaches links in parallel: each detach waits for an RCU
// grace period, which the kernel can share between concurrent detaches.
func detachAll(links []link.Link) {
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Go(func() { l.Close() })
	}
	wg.Wait()
}

// RawTracepoints reports whether the syscall hooks are the raw tracepoints
// sys_enter/sys_exit rather than the classic syscall tracepoints.
func (t *Tracer) RawTracepoints() bool { return t.raw }

// monoOffset returns unix time minus CLOCK_MONOTONIC, in ns.
func monoOffset() int64 {
	var ts unix.Timespec
	best := int64(-1)
	var off int64
	for range 3 {
		a := time.Now().UnixNano()
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		b := time.Now().UnixNano()
		if d := b - a; best < 0 || d < best {
			best = d
			off = a + d/2 - ts.Nano()
		}
	}
	return off
}

// ReadEvent implements socket.Source: it blocks until an event arrives.
// e.Payload aliases the tracer's buffer until the next ReadEvent or Close.
// It returns io.EOF once the tracer is closed.
func (t *Tracer) ReadEvent(e *socket.Event) error {
	for {
		if t.closed.Load() {
			return io.EOF
		}
		err := t.rd.ReadInto(&t.rec)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.rd.SetDeadline(time.Now().Add(pollInterval))
				continue
			}
			if errors.Is(err, ringbuf.ErrClosed) || t.closed.Load() {
				return io.EOF
			}
			return fmt.Errorf("capture/ebpf: read ring buffer: %w", err)
		}
		if !t.decode(e, t.rec.RawSample) {
			continue
		}
		if t.comms != nil {
			if _, ok := t.comms[e.Comm]; !ok {
				t.filtered.Add(1)
				continue
			}
		}
		t.events.Add(1)
		return nil
	}
}

// decode fills e from one ring buffer record; false for a malformed one.
func (t *Tracer) decode(e *socket.Event, b []byte) bool {
	if len(b) < hdrSize {
		return false
	}
	le := binary.LittleEndian
	n := int(le.Uint32(b[offPayloadLen:]))
	if n > len(b)-hdrSize {
		return false
	}
	flags := le.Uint32(b[offFlags:])
	e.Kind = socket.Kind(b[0])
	e.Origin = socket.Origin(b[1])
	e.Direction = socket.Direction(b[2])
	e.Role = socket.Role(b[3])
	e.Transport = socket.Transport(b[4])
	e.OldState, e.NewState = b[6], b[7]
	e.Pid = le.Uint32(b[offPid:])
	e.Tid = le.Uint32(b[offTid:])
	e.Fd = int32(le.Uint32(b[offFd:]))
	copy(e.Comm[:], b[offComm:offComm+16])
	e.CgroupID = le.Uint64(b[offCgroup:])
	e.Goroutine = le.Uint64(b[offGoroutine:])
	e.SocketID = le.Uint64(b[offSocketID:])
	e.EnterNs = int64(le.Uint64(b[offEnter:])) + t.monoToUnix
	e.ExitNs = int64(le.Uint64(b[offExit:])) + t.monoToUnix
	e.Length = int64(le.Uint64(b[offLength:]))
	e.SyscallTraceID = le.Uint64(b[offTraceID:])
	e.HasSeq = flags&flagHasSeq != 0
	e.TCPSeq = 0
	if e.HasSeq {
		e.TCPSeq = le.Uint32(b[offSeq:])
	}
	e.Local, e.Remote = netip.AddrPort{}, netip.AddrPort{}
	if flags&flagHasAddr != 0 {
		lp, rp := le.Uint16(b[offLport:]), le.Uint16(b[offRport:])
		switch b[5] {
		case afInet:
			e.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[offLaddr:offLaddr+4])), lp)
			e.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[offRaddr:offRaddr+4])), rp)
		case afInet6:
			e.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[offLaddr:offLaddr+16])), lp)
			e.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[offRaddr:offRaddr+16])), rp)
		}
	}
	if flags&flagTruncated != 0 {
		t.truncated.Add(1)
	}
	e.Payload = b[hdrSize : hdrSize+n : hdrSize+n]
	return true
}

// Close detaches the hooks, unloads the programs and makes ReadEvent
// return io.EOF. It is safe to call more than once and from any goroutine.
func (t *Tracer) Close() error {
	t.closeOnce.Do(func() {
		t.statsMu.Lock()
		t.lostAtClose.Store(t.kernelLost())
		t.closed.Store(true)
		t.statsMu.Unlock()
		if t.tls != nil {
			t.tls.Close()
		}
		if t.gor != nil {
			t.gor.Close()
		}
		detachAll(t.links)
		if t.rd != nil {
			t.rd.Close()
		}
		t.objs.Close()
	})
	return nil
}

// Stats returns the tracer's counters; Lost is read from the kernel's
// per-CPU loss counter.
func (t *Tracer) Stats() socket.Stats {
	s := socket.Stats{
		Events:    t.events.Load(),
		Truncated: t.truncated.Load(),
		Filtered:  t.filtered.Load(),
	}
	t.statsMu.RLock()
	defer t.statsMu.RUnlock()
	if t.closed.Load() {
		s.Lost = t.lostAtClose.Load()
	} else {
		s.Lost = t.kernelLost()
	}
	return s
}

// kernelLost sums the kernel's per-CPU loss counter.
func (t *Tracer) kernelLost() uint64 {
	if t.objs.LostEvents == nil {
		return 0
	}
	var per []uint64
	var n uint64
	if err := t.objs.LostEvents.Lookup(uint32(0), &per); err == nil {
		for _, v := range per {
			n += v
		}
	}
	return n
}

// Maps the TLS probes share with the tracer (bpf/common.h).
var sharedMaps = []string{"events", "tls_active", "lost_events", "pid_filter", "cgroup_filter"}

// TLSActiveMap returns the tls_active map (bpf/common.h) that the TLS
// probes fill and the syscall hooks read.
func (t *Tracer) TLSActiveMap() *ebpf.Map { return t.objs.TlsActive }

// EventsMap returns the ring buffer every object of the package writes to.
func (t *Tracer) EventsMap() *ebpf.Map { return t.objs.Events }

// Share prepares spec, another object that includes bpf/common.h (the TLS
// probes), to run beside the tracer: it sets the common load-time
// variables (filters, wake-up threshold) to the tracer's and returns the
// options that replace the object's common maps with the tracer's, so that
// its events arrive through ReadEvent.
func (t *Tracer) Share(spec *ebpf.CollectionSpec) (*ebpf.CollectionOptions, error) {
	maps := map[string]*ebpf.Map{
		"events":        t.objs.Events,
		"tls_active":    t.objs.TlsActive,
		"lost_events":   t.objs.LostEvents,
		"pid_filter":    t.objs.PidFilter,
		"cgroup_filter": t.objs.CgroupFilter,
	}
	opts := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{}}
	for _, name := range sharedMaps {
		if _, ok := spec.Maps[name]; ok {
			opts.MapReplacements[name] = maps[name]
		}
	}
	for name, v := range map[string]any{
		"filter_pids":    b2u8(t.filterPid),
		"filter_cgroups": b2u8(t.filterCg),
		"wakeup_bytes":   t.wakeup,
	} {
		if vs, ok := spec.Variables[name]; ok {
			if err := vs.Set(v); err != nil {
				return nil, fmt.Errorf("capture/ebpf: set %s: %w", name, err)
			}
		}
	}
	return opts, nil
}
