package ebpf

import (
	"debug/buildinfo"
	"debug/dwarf"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
)

// The Go TLS functions the uprobes trace.
const (
	goTLSWriteSym = "crypto/tls.(*Conn).Write"
	goTLSReadSym  = "crypto/tls.(*Conn).Read"
)

// Errors of the Go binary analysis.
var (
	// ErrNotGo: the file is not a Go executable (no build information).
	ErrNotGo = errors.New("ebpf: not a Go binary")
	// ErrNoGoTLS: the Go binary does not link crypto/tls.(*Conn).Read/Write.
	ErrNoGoTLS = errors.New("ebpf: Go binary without crypto/tls")
)

// goOffsets are the struct offsets the Go TLS probes follow from a
// *tls.Conn to the socket's descriptor, and from the g to its goid.
type goOffsets struct {
	ConnIface uint16 // crypto/tls.Conn.conn: the net.Conn interface (itab, data)
	NetFD     uint16 // net.conn.fd: *netFD inside the *net.TCPConn the interface holds
	Sysfd     uint16 // net.netFD.pfd + internal/poll.FD.Sysfd
	Goid      uint16 // runtime.g.goid; 0: unknown, not read
	GM        uint16 // runtime.g.m (goroutine probes); 0: unknown
	MProcid   uint16 // runtime.m.procid (goroutine probes); 0: unknown
	// ParentGoid is runtime.g.parentGoid (goroutine probes; Go 1.21 and
	// later); 0: unknown.
	ParentGoid uint16
	// FromDWARF says the offsets were read from the binary's debug
	// information rather than the table of known Go versions.
	FromDWARF bool
}

// goOffsetTable holds the offsets of the Go versions checked against the
// DWARF of real builds (go1.22.0, go1.23.0, go1.24.0, go1.25.0, go1.26.8;
// amd64 and arm64 share them: every field before them is pointer- or
// 8-byte-sized). Keyed by "go1.N"; the stripped binaries of these versions
// (-ldflags='-s -w') resolve through it.
//
// GM (runtime.g.m), MProcid (runtime.m.procid) and ParentGoid serve the
// goroutine probes; they were read from the DWARF of go1.22.0 to go1.25.0
// and go1.26.8 builds for amd64 and arm64.
var goOffsetTable = map[string]goOffsets{
	"go1.22": {ConnIface: 0, NetFD: 0, Sysfd: 16, Goid: 152, GM: 48, MProcid: 72, ParentGoid: 272},
	"go1.23": {ConnIface: 0, NetFD: 0, Sysfd: 16, Goid: 160, GM: 48, MProcid: 72, ParentGoid: 280},
	"go1.24": {ConnIface: 0, NetFD: 0, Sysfd: 16, Goid: 160, GM: 48, MProcid: 72, ParentGoid: 280},
	"go1.25": {ConnIface: 0, NetFD: 0, Sysfd: 16, Goid: 152, GM: 48, MProcid: 64, ParentGoid: 272},
	"go1.26": {ConnIface: 0, NetFD: 0, Sysfd: 16, Goid: 152, GM: 48, MProcid: 64, ParentGoid: 280},
}

// goFunc is one traced function: its entry and its RET instructions as
// file offsets, the addresses uprobes attach at.
type goFunc struct {
	Entry uint64
	Rets  []uint64
}

// goBinary is what the Go TLS probes need to know of one executable.
type goBinary struct {
	Path      string
	GoVersion string // as the build information says, e.g. "go1.26.0"
	Arch      elf.Machine
	Write     goFunc
	Read      goFunc
	Offsets   goOffsets
	// KnownOffsets is false when the offsets are unknown: the probes then
	// report Fd -1. GuessedOffsets: neither DWARF nor the table knew the
	// version; the fd path is assumed as in every version since Go 1.9 and
	// the goroutine id is not read (Goid 0).
	KnownOffsets   bool
	GuessedOffsets bool
}

// analyzeGoBinary reads a Go executable: its Go version, the entry and RET
// offsets of crypto/tls.(*Conn).Read and Write, and the struct offsets from
// DWARF or, for stripped binaries, from the table of known versions.
func analyzeGoBinary(path string) (*goBinary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return analyzeGoFile(f, path)
}

func analyzeGoFile(r io.ReaderAt, path string) (*goBinary, error) {
	bi, err := buildinfo.Read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, ErrNotGo)
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer ef.Close()
	b := &goBinary{Path: path, GoVersion: bi.GoVersion, Arch: ef.Machine}
	if b.Arch != elf.EM_X86_64 && b.Arch != elf.EM_AARCH64 {
		return nil, fmt.Errorf("%s: architecture %v: %w", path, b.Arch, errUnsupportedArch)
	}
	funcs, err := goFuncRanges(ef, goTLSWriteSym, goTLSReadSym)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, dst := range []*goFunc{&b.Write, &b.Read} {
		rng := funcs[i]
		code, err := readVaddr(ef, rng[0], rng[1]-rng[0])
		if err != nil {
			return nil, fmt.Errorf("%s: read %s: %w", path, []string{goTLSWriteSym, goTLSReadSym}[i], err)
		}
		rets, err := findRets(b.Arch, code)
		if err != nil {
			return nil, fmt.Errorf("%s: disassemble: %w", path, err)
		}
		if len(rets) == 0 {
			return nil, fmt.Errorf("%s: %s has no RET instruction", path, []string{goTLSWriteSym, goTLSReadSym}[i])
		}
		entry, err := fileOffset(ef, rng[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		dst.Entry = entry
		for _, r := range rets {
			dst.Rets = append(dst.Rets, entry+r)
		}
	}
	if off, err := dwarfOffsets(ef); err == nil {
		b.Offsets, b.KnownOffsets = off, true
	} else if off, ok := goOffsetTable[goMinor(bi.GoVersion)]; ok {
		b.Offsets, b.KnownOffsets = off, true
	} else if goMinor(bi.GoVersion) != "" {
		// Another version: the descriptor's path (tls.Conn.conn, net.conn.fd,
		// netFD.pfd.Sysfd) has not moved since Go 1.9, the goroutine id has
		// (152 or 160 bytes into the g): fds are reported, goroutine ids not.
		b.Offsets = goOffsets{ConnIface: 0, NetFD: 0, Sysfd: 16}
		b.KnownOffsets, b.GuessedOffsets = true, true
	}
	return b, nil
}

var errUnsupportedArch = errors.New("ebpf: unsupported architecture")

// goMinor turns "go1.26.3" or "go1.26rc1" into "go1.26".
func goMinor(v string) string {
	rest, ok := strings.CutPrefix(v, "go1.")
	if !ok {
		return ""
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if end == 0 {
		return ""
	}
	return "go1." + rest[:end]
}

// goFuncRanges returns the [start, end) virtual addresses of the named
// functions, from the symbol table when present, else from the pclntab
// that stripped Go binaries keep.
func goFuncRanges(ef *elf.File, names ...string) ([][2]uint64, error) {
	return goFuncRangesOr(ef, ErrNoGoTLS, names...)
}

// goFuncRangesOr is goFuncRanges with the error a missing function wraps.
func goFuncRangesOr(ef *elf.File, notFound error, names ...string) ([][2]uint64, error) {
	out := make([][2]uint64, len(names))
	found := 0
	if syms, err := ef.Symbols(); err == nil {
		for _, s := range syms {
			for i, n := range names {
				if s.Name == n && s.Size > 0 && out[i][1] == 0 {
					out[i] = [2]uint64{s.Value, s.Value + s.Size}
					found++
				}
			}
		}
		if found == len(names) {
			return out, nil
		}
	}
	tab, err := pclnTable(ef)
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		fn := tab.LookupFunc(n)
		if fn == nil || fn.End <= fn.Entry {
			return nil, fmt.Errorf("%s: %w", n, notFound)
		}
		out[i] = [2]uint64{fn.Entry, fn.End}
	}
	return out, nil
}

// pclnTable parses .gopclntab. The text start comes from the table's header
// (Go 1.18 and later write runtime.text there), else from .text.
func pclnTable(ef *elf.File) (*gosym.Table, error) {
	sec := ef.Section(".gopclntab")
	if sec == nil {
		return nil, fmt.Errorf("no .gopclntab section: %w", ErrNoGoTLS)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .gopclntab: %w", err)
	}
	text := ef.Section(".text")
	if text == nil {
		return nil, errors.New("no .text section")
	}
	start := text.Addr
	if len(data) >= 8 {
		magic := binary.LittleEndian.Uint32(data)
		ptr := int(data[7])
		if (magic == 0xfffffff0 || magic == 0xfffffff1) && (ptr == 4 || ptr == 8) && len(data) >= 8+3*ptr {
			var v uint64
			if ptr == 8 {
				v = binary.LittleEndian.Uint64(data[8+2*ptr:])
			} else {
				v = uint64(binary.LittleEndian.Uint32(data[8+2*ptr:]))
			}
			if v != 0 {
				start = v
			}
		}
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, start))
	if err != nil {
		return nil, fmt.Errorf("parse .gopclntab: %w", err)
	}
	return tab, nil
}

// readVaddr reads n bytes at virtual address addr from the loadable
// segment holding them.
func readVaddr(ef *elf.File, addr, n uint64) ([]byte, error) {
	if n > 1<<20 {
		return nil, fmt.Errorf("function of %d bytes", n)
	}
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD || addr < p.Vaddr || addr+n > p.Vaddr+p.Filesz {
			continue
		}
		buf := make([]byte, n)
		if _, err := p.ReadAt(buf, int64(addr-p.Vaddr)); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return nil, fmt.Errorf("address %#x not in a loadable segment", addr)
}

// fileOffset converts a virtual address of executable code to the file
// offset uprobes take.
func fileOffset(ef *elf.File, addr uint64) (uint64, error) {
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && addr >= p.Vaddr && addr < p.Vaddr+p.Filesz {
			return addr - p.Vaddr + p.Off, nil
		}
	}
	return 0, fmt.Errorf("address %#x not in an executable segment", addr)
}

// findRets returns the offsets of the RET instructions in a function's
// code. A uretprobe would replace the return address on the goroutine's
// stack, which Go's stack unwinder and stack copying do not expect; a uprobe
// at each RET reads the results without touching the stack.
func findRets(arch elf.Machine, code []byte) ([]uint64, error) {
	var rets []uint64
	switch arch {
	case elf.EM_X86_64:
		// The decoder may index past a truncated instruction at the end
		// of its input (an EVEX prefix, for one): give it 15 zero bytes
		// of slack, the longest x86 instruction, and stop at the end.
		n := len(code)
		code = append(code[:n:n], make([]byte, 15)...)
		for pc := 0; pc < n; {
			inst, err := x86asm.Decode(code[pc:], 64)
			if err == nil && pc+inst.Len > n {
				break // an instruction cut by the end of the function
			}
			if err != nil {
				// Padding after the last instruction (INT3 decodes; anything
				// else undecodable ends the walk only at the tail).
				if n-pc < 16 {
					break
				}
				return nil, fmt.Errorf("offset %#x: %w", pc, err)
			}
			if inst.Op == x86asm.RET {
				rets = append(rets, uint64(pc))
			}
			pc += inst.Len
		}
	case elf.EM_AARCH64:
		for pc := 0; pc+4 <= len(code); pc += 4 {
			inst, err := arm64asm.Decode(code[pc:])
			if err != nil {
				continue // data words (literal pools) between functions
			}
			if inst.Op == arm64asm.RET {
				rets = append(rets, uint64(pc))
			}
		}
	default:
		return nil, errUnsupportedArch
	}
	return rets, nil
}

// dwarfOffsets reads the struct offsets from the binary's DWARF.
func dwarfOffsets(ef *elf.File) (goOffsets, error) {
	vals, err := dwarfFields(ef, [][2]string{
		{"crypto/tls.Conn", "conn"}, {"net.conn", "fd"}, {"net.netFD", "pfd"},
		{"internal/poll.FD", "Sysfd"}, {"runtime.g", "goid"},
	})
	if err != nil {
		return goOffsets{}, err
	}
	o := goOffsets{ConnIface: vals[0], NetFD: vals[1], Sysfd: vals[2] + vals[3], Goid: vals[4], FromDWARF: true}
	o.GM, o.MProcid, o.ParentGoid = dwarfRuntime(ef)
	return o, nil
}

// dwarfRuntime reads the offsets of runtime.g.m, runtime.m.procid and
// runtime.g.parentGoid (Go 1.21 and later) from the binary's DWARF; 0 for
// those it lacks.
func dwarfRuntime(ef *elf.File) (gm, procid, parentGoid uint16) {
	if v, err := dwarfFields(ef, [][2]string{{"runtime.g", "m"}, {"runtime.m", "procid"}}); err == nil {
		gm, procid = v[0], v[1]
	}
	if v, err := dwarfFields(ef, [][2]string{{"runtime.g", "parentGoid"}}); err == nil {
		parentGoid = v[0]
	}
	return gm, procid, parentGoid
}

// dwarfFields reads the byte offsets of struct fields ({struct, field}
// pairs) from the binary's DWARF. Every offset must be below 0x8000.
func dwarfFields(ef *elf.File, fields [][2]string) ([]uint16, error) {
	d, err := ef.DWARF()
	if err != nil {
		return nil, err
	}
	want := map[string]*dwarf.StructType{}
	for _, f := range fields {
		want[f[0]] = nil
	}
	left := len(want)
	rd := d.Reader()
	for left > 0 {
		e, err := rd.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			if e.Children && e.Tag != dwarf.TagCompileUnit {
				rd.SkipChildren()
			}
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		st, ok := want[name]
		if !ok || st != nil {
			rd.SkipChildren()
			continue
		}
		typ, err := d.Type(e.Offset)
		if err != nil {
			return nil, err
		}
		s, ok := typ.(*dwarf.StructType)
		if !ok {
			rd.SkipChildren()
			continue
		}
		want[name] = s
		left--
		rd.SkipChildren()
	}
	out := make([]uint16, len(fields))
	for i, sf := range fields {
		s := want[sf[0]]
		if s == nil {
			return nil, fmt.Errorf("dwarf: no struct %s", sf[0])
		}
		found := false
		for _, fl := range s.Field {
			if fl.Name == sf[1] {
				if fl.ByteOffset < 0 || fl.ByteOffset > 0x7fff {
					return nil, fmt.Errorf("dwarf: offset %s.%s = %d", sf[0], sf[1], fl.ByteOffset)
				}
				out[i], found = uint16(fl.ByteOffset), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("dwarf: no field %s.%s", sf[0], sf[1])
		}
	}
	return out, nil
}

// String describes the analysis for logs and errors.
func (b *goBinary) String() string {
	src := "table"
	if b.Offsets.FromDWARF {
		src = "dwarf"
	}
	if b.GuessedOffsets {
		src = "guessed"
	}
	if !b.KnownOffsets {
		src = "unknown"
	}
	return b.Path + " " + b.GoVersion + " write@" + strconv.FormatUint(b.Write.Entry, 16) +
		" rets=" + strconv.Itoa(len(b.Write.Rets)) + " read@" + strconv.FormatUint(b.Read.Entry, 16) +
		" rets=" + strconv.Itoa(len(b.Read.Rets)) + " offsets=" + src
}
