//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Attach cookies of the TLS probes (bpf/tls.h).
const (
	sslCookieRead = 1 << 0
	sslCookieEx   = 1 << 1
	goCookieRead  = 1 << 62
	goCookieKnown = 1 << 63
)

// libsslGlobs are where distributions keep libssl.
var libsslGlobs = []string{
	"/usr/lib/*/libssl.so*", "/lib/*/libssl.so*",
	"/usr/lib64/libssl.so*", "/lib64/libssl.so*",
	"/usr/lib/libssl.so*", "/lib/libssl.so*",
	"/usr/local/lib/libssl.so*", "/usr/local/lib64/libssl.so*",
	"/usr/local/ssl/lib/libssl.so*", "/usr/local/ssl/lib64/libssl.so*",
}

// fileID identifies a file by device and inode: uprobes attach per inode,
// so one file reached through several paths is attached once.
type fileID struct{ dev, ino uint64 }

// TLS holds the TLS plaintext probes running beside a Tracer. Its events
// arrive through the Tracer's ReadEvent. Close it before the Tracer.
//
// Stats and Close are safe for concurrent use.
type TLS struct {
	cfg  TLSConfig
	log  *slog.Logger
	objs tlsObjects

	mu     sync.Mutex
	links  []link.Link
	seen   map[fileID]bool // attached (true) or not to attach (false)
	closed bool

	cancel   context.CancelFunc
	done     chan struct{} // closed when the rescans have stopped
	stopOnce sync.Once

	libs, gos, probes, fails, scans atomic.Uint64
}

// NewTLS loads the TLS probes into the tracer t's maps and attaches them as
// cfg says: to libssl files, to the Go binaries listed and, with
// GoScanProcs, to the running Go programs. A file that cannot be attached
// is logged and counted in Stats().AttachFails; NewTLS fails only when the
// probes cannot be loaded or a listed Go binary cannot be attached. No
// libssl on the machine yet is not an error: Stats().Libraries stays 0
// until a rescan finds one.
func NewTLS(t *Tracer, cfg TLSConfig, log *slog.Logger) (*TLS, error) {
	if cfg.MaxCallBytes == 0 {
		cfg.MaxCallBytes = DefaultTLSMaxCallBytes
	}
	if cfg.MaxCallBytes < 0 || cfg.MaxCallBytes > MaxTLSMaxCallBytes {
		return nil, fmt.Errorf("%w: TLS MaxCallBytes %d not in 0..%d", ErrConfig, cfg.MaxCallBytes, MaxTLSMaxCallBytes)
	}
	if t == nil || t.closed.Load() {
		return nil, fmt.Errorf("%w: NewTLS needs an open Tracer", ErrConfig)
	}
	if cfg.Rescan == 0 {
		cfg.Rescan = DefaultTLSRescan
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	spec, err := loadTls()
	if err != nil {
		return nil, fmt.Errorf("capture/ebpf: load tls object: %w", err)
	}
	chunks := uint32((cfg.MaxCallBytes + TLSChunkSize - 1) / TLSChunkSize)
	if err := spec.Variables["tls_chunks"].Set(chunks); err != nil {
		return nil, fmt.Errorf("capture/ebpf: set tls_chunks: %w", err)
	}
	opts, err := t.Share(spec)
	if err != nil {
		return nil, err
	}
	// The socket ids come from the syscall probes' table.
	if ms, ok := spec.Maps["sock_info"]; ok && t.objs.SockInfo != nil {
		ms.MaxEntries = t.objs.SockInfo.MaxEntries()
		opts.MapReplacements["sock_info"] = t.objs.SockInfo
	}
	x := &TLS{cfg: cfg, log: log, seen: map[fileID]bool{}, done: make(chan struct{})}
	if err := spec.LoadAndAssign(&x.objs, opts); err != nil {
		return nil, loadError(err)
	}
	for _, p := range cfg.GoBinaries {
		if _, err := x.attachGo(p); err != nil {
			x.Close()
			return nil, err
		}
	}
	x.scan()
	if cfg.OpenSSL && x.libs.Load() == 0 {
		// Not an error: a libssl may appear later (a container starts).
		log.Info("capture/ebpf: no libssl found yet; looking again every rescan", "rescan", cfg.Rescan)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	if cfg.Rescan > 0 && (cfg.OpenSSL || cfg.GoScanProcs) {
		go x.rescan(ctx, cfg.Rescan)
	} else {
		close(x.done)
	}
	return x, nil
}

// Close detaches the probes and frees their maps. It is safe to call more
// than once.
func (x *TLS) Close() error {
	x.stopOnce.Do(func() {
		if x.cancel != nil { // set once the rescans started (or were not wanted)
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
	x.objs.Close()
	return nil
}

// Stats returns the attach counters.
func (x *TLS) Stats() TLSStats {
	return TLSStats{
		Libraries:   x.libs.Load(),
		GoBinaries:  x.gos.Load(),
		Probes:      x.probes.Load(),
		AttachFails: x.fails.Load(),
		Scans:       x.scans.Load(),
	}
}

func (x *TLS) rescan(ctx context.Context, every time.Duration) {
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

// Rescan looks for new libssl files and Go programs now, as the periodic
// scan does.
func (x *TLS) Rescan() { x.scan() }

func (x *TLS) scan() {
	x.scans.Add(1)
	if x.cfg.OpenSSL {
		for _, p := range findLibssl() {
			x.attachOpenSSL(p)
		}
	}
	if x.cfg.GoScanProcs {
		self := os.Getpid()
		for _, pid := range procPids() {
			if pid == self {
				continue
			}
			x.attachGo("/proc/" + strconv.Itoa(pid) + "/exe")
		}
	}
}

// claim returns the file's identity and whether it is new; a new file is
// marked as handled either way.
func (x *TLS) claim(path string) (fileID, bool, error) {
	return claimFile(&x.mu, x.seen, path)
}

// statFileID returns the identity of the file at path.
func statFileID(path string) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return fileID{uint64(st.Dev), st.Ino}, nil
}

// claimFile returns the identity of the file at path and whether seen,
// guarded by mu, did not hold it yet; a new file is entered as not
// attached (false).
func claimFile(mu *sync.Mutex, seen map[fileID]bool, path string) (fileID, bool, error) {
	id, err := statFileID(path)
	if err != nil {
		return fileID{}, false, err
	}
	mu.Lock()
	defer mu.Unlock()
	if _, ok := seen[id]; ok {
		return id, false, nil
	}
	seen[id] = false
	return id, true, nil
}

// keep records the links of a file attached in full.
func (x *TLS) keep(id fileID, ls []link.Link) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		closeTLSLinks(ls)
		return false
	}
	x.seen[id] = true
	x.links = append(x.links, ls...)
	x.probes.Add(uint64(len(ls)))
	return true
}

func closeTLSLinks(ls []link.Link) {
	// In parallel: each detach waits for an RCU grace period, which
	// concurrent detaches share.
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() { l.Close() })
	}
	wg.Wait()
}

// attachOpenSSL attaches the OpenSSL probes to a libssl file.
func (x *TLS) attachOpenSSL(path string) {
	id, fresh, _ := x.claim(path) // a file gone since the scan: nothing to do
	if !fresh {
		return
	}
	ls, err := x.opensslLinks(path)
	if err != nil {
		x.fails.Add(1)
		x.log.Info("capture/ebpf: libssl not attached", "path", path, "err", err)
		return
	}
	if x.keep(id, ls) {
		x.libs.Add(1)
		x.log.Debug("capture/ebpf: attached libssl", "path", path, "probes", len(ls))
	}
}

func (x *TLS) opensslLinks(path string) ([]link.Link, error) {
	if !exportsSSLWrite(path) {
		return nil, errors.New("no SSL_write symbol")
	}
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, err
	}
	var ls []link.Link
	for _, fn := range []struct {
		sym      string
		cookie   uint64
		optional bool
	}{
		{"SSL_write", 0, false},
		{"SSL_read", sslCookieRead, false},
		{"SSL_write_ex", sslCookieEx, true},
		{"SSL_read_ex", sslCookieRead | sslCookieEx, true},
	} {
		opts := &link.UprobeOptions{Cookie: fn.cookie}
		enter, err := ex.Uprobe(fn.sym, x.objs.TlsSslEnter, opts)
		if err != nil {
			if fn.optional && errors.Is(err, link.ErrNoSymbol) {
				continue
			}
			closeTLSLinks(ls)
			return nil, fmt.Errorf("uprobe %s: %w", fn.sym, err)
		}
		ls = append(ls, enter)
		exit, err := ex.Uretprobe(fn.sym, x.objs.TlsSslExit, opts)
		if err != nil {
			closeTLSLinks(ls)
			return nil, fmt.Errorf("uretprobe %s: %w", fn.sym, err)
		}
		ls = append(ls, exit)
	}
	for _, fn := range []struct {
		sym  string
		prog *ebpf.Program
	}{{"SSL_set_fd", x.objs.TlsSslSetFd}, {"SSL_free", x.objs.TlsSslFree}} {
		if l, err := ex.Uprobe(fn.sym, fn.prog, nil); err == nil {
			ls = append(ls, l)
		}
	}
	return ls, nil
}

// exportsSSLWrite reports whether the ELF file defines SSL_write.
func exportsSSLWrite(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return false
	}
	for _, s := range syms {
		if s.Name == "SSL_write" && s.Section != elf.SHN_UNDEF && s.Value != 0 {
			return true
		}
	}
	return false
}

// attachGo attaches the Go TLS probes to a Go executable: its entry and
// RET instructions. It returns false, nil for a file already handled.
func (x *TLS) attachGo(path string) (bool, error) {
	id, fresh, err := x.claim(path)
	if err != nil {
		return false, fmt.Errorf("capture/ebpf: go tls: %w", err)
	}
	if !fresh {
		return false, nil
	}
	b, err := analyzeGoBinary(path)
	if err != nil {
		// Most processes are not Go programs with crypto/tls: not a failure.
		if !errors.Is(err, ErrNotGo) && !errors.Is(err, ErrNoGoTLS) {
			x.fails.Add(1)
		}
		return false, fmt.Errorf("capture/ebpf: go tls %w", err)
	}
	ls, err := x.goLinks(b)
	if err != nil {
		x.fails.Add(1)
		return false, fmt.Errorf("capture/ebpf: go tls %s: %w", path, err)
	}
	if !x.keep(id, ls) {
		return false, nil
	}
	x.gos.Add(1)
	if b.GuessedOffsets {
		x.log.Info("capture/ebpf: Go version without known struct offsets: fds assumed as in other versions, goroutine ids not read", "path", path, "go", b.GoVersion)
	}
	x.log.Debug("capture/ebpf: attached Go TLS", "binary", b.String(), "probes", len(ls))
	return true, nil
}

// goCookie packs the struct offsets for the BPF side (bpf/tls.h).
func goCookie(b *goBinary, read bool) uint64 {
	var c uint64
	if b.KnownOffsets {
		o := b.Offsets
		c = uint64(o.ConnIface) | uint64(o.NetFD)<<16 | uint64(o.Sysfd)<<32 | uint64(o.Goid&0x3fff)<<48 | goCookieKnown
	}
	if read {
		c |= goCookieRead
	}
	return c
}

func (x *TLS) goLinks(b *goBinary) ([]link.Link, error) {
	ex, err := link.OpenExecutable(b.Path)
	if err != nil {
		return nil, err
	}
	var ls []link.Link
	for _, fn := range []struct {
		sym  string
		f    goFunc
		read bool
	}{{goTLSWriteSym, b.Write, false}, {goTLSReadSym, b.Read, true}} {
		cookie := goCookie(b, fn.read)
		l, err := ex.Uprobe(fn.sym, x.objs.TlsGoEnter, &link.UprobeOptions{Address: fn.f.Entry, Cookie: cookie})
		if err != nil {
			closeTLSLinks(ls)
			return nil, fmt.Errorf("uprobe %s: %w", fn.sym, err)
		}
		ls = append(ls, l)
		for _, r := range fn.f.Rets {
			l, err := ex.Uprobe(fn.sym, x.objs.TlsGoRet, &link.UprobeOptions{Address: r, Cookie: cookie})
			if err != nil {
				closeTLSLinks(ls)
				return nil, fmt.Errorf("uprobe %s+%#x: %w", fn.sym, r-fn.f.Entry, err)
			}
			ls = append(ls, l)
		}
	}
	return ls, nil
}

// findLibssl lists the libssl files of the machine: the usual folders,
// ldconfig's cache and what running processes have mapped (through their
// root, so files inside containers are found).
func findLibssl() []string {
	var out []string
	for _, g := range libsslGlobs {
		m, _ := filepath.Glob(g)
		out = append(out, m...)
	}
	if b, err := exec.Command("ldconfig", "-p").Output(); err == nil {
		out = append(out, parseLdconfig(b)...)
	}
	for _, pid := range procPids() {
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
		if err != nil {
			continue
		}
		for _, p := range parseMapsLibssl(f) {
			out = append(out, "/proc/"+strconv.Itoa(pid)+"/root"+p)
		}
		f.Close()
	}
	return out
}

// parseLdconfig returns the libssl paths of `ldconfig -p` output.
func parseLdconfig(b []byte) []string {
	var out []string
	for line := range bytes.Lines(b) {
		l := strings.TrimSpace(string(line))
		if !strings.HasPrefix(l, "libssl.so") {
			continue
		}
		if _, p, ok := strings.Cut(l, "=> "); ok && strings.HasPrefix(p, "/") {
			out = append(out, p)
		}
	}
	return out
}

// parseMapsLibssl returns the distinct libssl paths mapped executable in a
// /proc/PID/maps file.
func parseMapsLibssl(r io.Reader) []string {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.Contains(fields[1], "x") {
			continue
		}
		p := strings.Join(fields[5:], " ")
		if !strings.HasPrefix(p, "/") || !strings.Contains(filepath.Base(p), "libssl.so") || strings.HasSuffix(p, "(deleted)") {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == p
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// procPids lists the processes of /proc.
func procPids() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}

// TLSStats returns the counters of the TLS probes that Config.TLS started,
// zero when none were.
func (t *Tracer) TLSStats() TLSStats {
	if t.tls == nil {
		return TLSStats{}
	}
	return t.tls.Stats()
}
