package ebpf

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

func TestGoMinor(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"go1.26.8", "go1.26"}, {"go1.24.0", "go1.24"}, {"go1.25rc1", "go1.25"},
		{"go1.9", "go1.9"}, {"devel +abc", ""}, {"go1.", ""}, {"", ""},
	} {
		if got := goMinor(tc.in); got != tc.want {
			t.Errorf("goMinor(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFindRets(t *testing.T) {
	for _, tc := range []struct {
		name string
		arch elf.Machine
		code []byte
		want []uint64
	}{
		// mov rbp,rsp; ret; nop; ret; int3 padding
		{"amd64", elf.EM_X86_64, []byte{0x48, 0x89, 0xe5, 0xc3, 0x90, 0xc3, 0xcc, 0xcc}, []uint64{3, 5}},
		// ret imm16 is a RET too
		{"amd64 ret imm", elf.EM_X86_64, []byte{0x90, 0xc2, 0x08, 0x00}, []uint64{1}},
		// nop; ret; nop; ret
		{"arm64", elf.EM_AARCH64, []byte{0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6, 0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6}, []uint64{4, 12}},
		{"none", elf.EM_X86_64, []byte{0x90, 0x90}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findRets(tc.arch, tc.code)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("rets %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("rets %v, want %v", got, tc.want)
				}
			}
		})
	}
	if _, err := findRets(elf.EM_386, []byte{0xc3}); !errors.Is(err, errUnsupportedArch) {
		t.Errorf("386: %v", err)
	}
}

// toolchainCached reports whether a Go toolchain (e.g. "go1.24.0") runs
// without downloading anything.
func toolchainCached(dir, tc string) bool {
	probe := exec.Command("go", "version")
	probe.Env = append(os.Environ(), "GOTOOLCHAIN="+tc, "GOPROXY=off", "GOWORK=off")
	probe.Dir = dir
	out, err := probe.CombinedOutput()
	return err == nil && bytes.Contains(out, []byte(tc+" "))
}

// buildApp builds testdata/gotlsapp with the given toolchain ("local" for
// the running one) and environment into dir.
func buildApp(t *testing.T, dir, name, toolchain string, env []string, ldflags string) string {
	t.Helper()
	return buildTestApp(t, dir, "gotlsapp", name, toolchain, env, ldflags)
}

// buildTestApp builds the program testdata/APP/main.go (standard library
// only) as buildApp does.
func buildTestApp(t *testing.T, dir, app, name, toolchain string, env []string, ldflags string) string {
	t.Helper()
	testutil.RequireCommand(t, "go")
	src, err := os.ReadFile(filepath.Join("testdata", app, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dir, "src-"+name)
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mod, "main.go"), src, 0o644)
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module "+app+"\n\ngo 1.22\n"), 0o644)
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, "-ldflags="+ldflags, ".")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), append([]string{"GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0", "GOTOOLCHAIN=" + toolchain}, env...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s (%s %v): %v\n%s", app, toolchain, env, err, b)
	}
	return out
}

// objdumpRets counts the RET instructions of a function as go tool objdump
// disassembles it.
func objdumpRets(t *testing.T, bin, sym string) int {
	t.Helper()
	out, err := exec.Command("go", "tool", "objdump", "-s", "^"+strings.NewReplacer("(", `\(`, ")", `\)`, "*", `\*`, ".", `\.`).Replace(sym)+"$", bin).Output()
	if err != nil {
		t.Fatalf("objdump: %v", err)
	}
	n := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) >= 4 && (f[3] == "RET" || (len(f) >= 5 && f[4] == "RET")) {
			n++
		}
	}
	return n
}

// TestAnalyzeGoBinary analyzes real builds of the test target for amd64 and
// arm64, with and without symbols and DWARF: the stripped build finds the
// same functions through the pclntab and the same offsets through the
// table, the RET count agrees with go tool objdump, and the table entry of
// this toolchain agrees with its DWARF.
func TestAnalyzeGoBinary(t *testing.T) {
	dir := t.TempDir()
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			env := []string{"GOOS=linux", "GOARCH=" + arch}
			full := buildApp(t, dir, "app-"+arch, "local", env, "")
			stripped := buildApp(t, dir, "app-"+arch+"-s", "local", env, "-s -w")
			a, err := analyzeGoBinary(full)
			if err != nil {
				t.Fatal(err)
			}
			s, err := analyzeGoBinary(stripped)
			if err != nil {
				t.Fatal(err)
			}
			if !a.Offsets.FromDWARF || s.Offsets.FromDWARF || !s.KnownOffsets {
				t.Fatalf("offsets: full %+v, stripped %+v (known %v)", a.Offsets, s.Offsets, s.KnownOffsets)
			}
			if a.GoVersion != runtime.Version() || s.GoVersion != runtime.Version() {
				t.Fatalf("versions %q %q, want %q", a.GoVersion, s.GoVersion, runtime.Version())
			}
			sa, ss := a.Offsets, s.Offsets
			sa.FromDWARF = false
			if sa != ss {
				t.Fatalf("table for %s %+v, DWARF says %+v", goMinor(a.GoVersion), ss, sa)
			}
			if a.Write.Entry != s.Write.Entry || a.Read.Entry != s.Read.Entry ||
				len(a.Write.Rets) != len(s.Write.Rets) || len(a.Read.Rets) != len(s.Read.Rets) {
				t.Fatalf("symbol table and pclntab disagree: %v / %v", a, s)
			}
			// A version missing from the table: the fd path is assumed,
			// the goroutine id is not read.
			minor := goMinor(runtime.Version())
			saved := goOffsetTable[minor]
			delete(goOffsetTable, minor)
			g, err := analyzeGoBinary(stripped)
			goOffsetTable[minor] = saved
			if err != nil {
				t.Fatal(err)
			}
			if want := (goOffsets{ConnIface: sa.ConnIface, NetFD: sa.NetFD, Sysfd: sa.Sysfd}); !g.GuessedOffsets || !g.KnownOffsets || g.Offsets != want {
				t.Fatalf("guessed offsets %+v (guessed %v), want %+v", g.Offsets, g.GuessedOffsets, want)
			}
			for _, fn := range []struct {
				sym string
				f   goFunc
			}{{goTLSWriteSym, a.Write}, {goTLSReadSym, a.Read}} {
				if n := objdumpRets(t, full, fn.sym); n != len(fn.f.Rets) || n == 0 {
					t.Errorf("%s: %d RETs found, objdump shows %d", fn.sym, len(fn.f.Rets), n)
				}
				for _, r := range fn.f.Rets {
					if r <= fn.f.Entry {
						t.Errorf("%s: RET at %#x before entry %#x", fn.sym, r, fn.f.Entry)
					}
				}
			}
		})
	}
	t.Run("not go", func(t *testing.T) {
		if _, err := analyzeGoBinary("/bin/sh"); !errors.Is(err, ErrNotGo) {
			t.Fatalf("/bin/sh: %v", err)
		}
	})
}

// TestGoOffsetTable_Toolchains checks the table entries of older Go
// versions against the DWARF of their builds, with toolchains already in
// the module cache (it downloads nothing: GOPROXY=off).
func TestGoOffsetTable_Toolchains(t *testing.T) {
	testutil.SkipShort(t)
	dir := t.TempDir()
	for _, tc := range []string{"go1.22.0", "go1.23.0", "go1.24.0", "go1.25.0"} {
		t.Run(tc, func(t *testing.T) {
			if !toolchainCached(dir, tc) {
				t.Skipf("toolchain %s not in the module cache", tc)
			}
			a, err := analyzeGoBinary(buildApp(t, dir, "app-"+tc, tc, []string{"GOPROXY=off"}, ""))
			if err != nil {
				t.Fatal(err)
			}
			table, ok := goOffsetTable[goMinor(tc)]
			dw := a.Offsets
			dw.FromDWARF = false
			if !a.Offsets.FromDWARF || !ok || dw != table {
				t.Fatalf("%s: DWARF %+v, table %+v", tc, a.Offsets, table)
			}
		})
	}
}

// FuzzAnalyzeGoFile feeds the binary analysis arbitrary files: it must
// return an error, never panic.
func FuzzAnalyzeGoFile(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte{})
	if exe, err := os.ReadFile("/proc/self/exe"); err == nil && len(exe) > 4096 {
		f.Add(exe[:4096])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		analyzeGoFile(bytes.NewReader(b), "fuzz")
	})
}

// FuzzFindRets disassembles arbitrary code for both architectures.
func FuzzFindRets(f *testing.F) {
	f.Add([]byte{0x48, 0x89, 0xe5, 0xc3, 0x90, 0xc3, 0xcc, 0xcc})
	f.Add([]byte{0xc0, 0x03, 0x5f, 0xd6, 0x1f, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, arch := range []elf.Machine{elf.EM_X86_64, elf.EM_AARCH64} {
			rets, err := findRets(arch, b)
			for _, r := range rets {
				if err == nil && r >= uint64(len(b)) {
					t.Fatalf("RET offset %d past %d bytes", r, len(b))
				}
			}
		}
	})
}
