package ebpf

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// The Go runtime functions the goroutine probes trace (bpf/goroutine.c).
const (
	goExecuteSym  = "runtime.execute"
	goNewproc1Sym = "runtime.newproc1"
	goGoexit0Sym  = "runtime.goexit0"
)

// ErrNoGoRuntime is matched by the error for a Go executable whose
// goroutines cannot be tracked: a Go version before 1.18 (no register ABI
// on both architectures), runtime functions not found, or a stripped binary
// of a version without a known runtime.g.goid offset.
var ErrNoGoRuntime = errors.New("ebpf: Go runtime not traceable")

// goRuntime is what the goroutine probes need of one executable: file
// offsets of the probed functions and the goid offset in runtime.g.
type goRuntime struct {
	Path      string
	GoVersion string
	Arch      elf.Machine
	Execute   uint64 // entry of runtime.execute (file offset)
	Newproc1  goFunc // entry and RETs of runtime.newproc1
	Goexit0   uint64 // entry of runtime.goexit0; 0: not found, not probed
	Goid      uint16 // offset of runtime.g.goid
	GM        uint16 // offset of runtime.g.m
	MProcid   uint16 // offset of runtime.m.procid; 0 with GM: register mode unavailable
	// ParentGoid is the offset of runtime.g.parentGoid (Go 1.21 and
	// later); 0: unknown, newproc1's entry is probed for the parent.
	ParentGoid uint16
	// GoidFromDWARF: the offsets were read from the binary's DWARF, not
	// the table of Go versions (goOffsetTable).
	GoidFromDWARF bool
}

// analyzeGoRuntime reads a Go executable for the goroutine probes.
func analyzeGoRuntime(path string) (*goRuntime, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return analyzeGoRuntimeFile(f, path)
}

func analyzeGoRuntimeFile(r io.ReaderAt, path string) (*goRuntime, error) {
	bi, err := buildinfo.Read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, ErrNotGo)
	}
	minor := goMinor(bi.GoVersion)
	if n, err := strconv.Atoi(strings.TrimPrefix(minor, "go1.")); err != nil || n < 18 {
		return nil, fmt.Errorf("%s: %s (Go 1.18 or later needed): %w", path, bi.GoVersion, ErrNoGoRuntime)
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer ef.Close()
	g := &goRuntime{Path: path, GoVersion: bi.GoVersion, Arch: ef.Machine}
	if g.Arch != elf.EM_X86_64 && g.Arch != elf.EM_AARCH64 {
		return nil, fmt.Errorf("%s: architecture %v: %w", path, g.Arch, errUnsupportedArch)
	}
	rng, err := goFuncRangesOr(ef, ErrNoGoRuntime, goExecuteSym, goNewproc1Sym)
	if err != nil {
		if !errors.Is(err, ErrNoGoRuntime) {
			err = fmt.Errorf("%w: %w", ErrNoGoRuntime, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if g.Execute, err = fileOffset(ef, rng[0][0]); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	code, err := readVaddr(ef, rng[1][0], rng[1][1]-rng[1][0])
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", path, goNewproc1Sym, err)
	}
	rets, err := findRets(g.Arch, code)
	if err != nil {
		return nil, fmt.Errorf("%s: disassemble %s: %w", path, goNewproc1Sym, err)
	}
	if len(rets) == 0 {
		return nil, fmt.Errorf("%s: %s has no RET instruction: %w", path, goNewproc1Sym, ErrNoGoRuntime)
	}
	if g.Newproc1.Entry, err = fileOffset(ef, rng[1][0]); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range rets {
		g.Newproc1.Rets = append(g.Newproc1.Rets, g.Newproc1.Entry+r)
	}
	if rng, err := goFuncRangesOr(ef, ErrNoGoRuntime, goGoexit0Sym); err == nil {
		g.Goexit0, _ = fileOffset(ef, rng[0][0])
	}
	if v, err := dwarfFields(ef, [][2]string{{"runtime.g", "goid"}}); err == nil {
		g.Goid, g.GoidFromDWARF = v[0], true
		g.GM, g.MProcid, g.ParentGoid = dwarfRuntime(ef)
	} else if o, ok := goOffsetTable[minor]; ok && o.Goid != 0 {
		g.Goid, g.GM, g.MProcid, g.ParentGoid = o.Goid, o.GM, o.MProcid, o.ParentGoid
	} else {
		return nil, fmt.Errorf("%s: %s: offset of runtime.g.goid unknown (no DWARF: %v): %w", path, bi.GoVersion, err, ErrNoGoRuntime)
	}
	if g.Goid == 0 {
		return nil, fmt.Errorf("%s: runtime.g.goid at offset 0: %w", path, ErrNoGoRuntime)
	}
	return g, nil
}

// String describes the analysis for logs.
func (g *goRuntime) String() string {
	src := "table"
	if g.GoidFromDWARF {
		src = "dwarf"
	}
	return g.Path + " " + g.GoVersion + " execute@" + strconv.FormatUint(g.Execute, 16) +
		" newproc1@" + strconv.FormatUint(g.Newproc1.Entry, 16) + " rets=" + strconv.Itoa(len(g.Newproc1.Rets)) +
		" goid@" + strconv.Itoa(int(g.Goid)) + " m@" + strconv.Itoa(int(g.GM)) + " procid@" + strconv.Itoa(int(g.MProcid)) + " parentGoid@" + strconv.Itoa(int(g.ParentGoid)) + "(" + src + ")"
}
