package ebpf

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// TestAnalyzeGoRuntime reads the goroutine probes' functions and the goid
// offset from the test target built unstripped (offset from DWARF) and
// stripped (offset from the version table): both must agree, and the RET
// instructions found in runtime.newproc1 must be those go tool objdump
// lists. Older toolchains already in the module cache are checked too.
func TestAnalyzeGoRuntime(t *testing.T) {
	dir := t.TempDir()
	type build struct{ toolchain, arch string }
	builds := []build{{"local", "amd64"}, {"local", "arm64"}}
	if !testing.Short() {
		for _, tc := range []string{"go1.22.0", "go1.23.0", "go1.24.0", "go1.25.0"} {
			if toolchainCached(dir, tc) {
				builds = append(builds, build{tc, "amd64"})
			}
		}
	}
	for _, b := range builds {
		tc := b.toolchain
		name := tc + "-" + b.arch
		t.Run(name, func(t *testing.T) {
			env := []string{"GOPROXY=off", "GOARCH=" + b.arch}
			full := buildTestApp(t, dir, "goroutineapp", "goroutineapp-"+name, tc, env, "")
			strip := buildTestApp(t, dir, "goroutineapp", "goroutineapp-strip-"+name, tc, env, "-s -w")
			g, err := analyzeGoRuntime(full)
			if err != nil {
				t.Fatal(err)
			}
			s, err := analyzeGoRuntime(strip)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v\n%v", g, s)
			if !g.GoidFromDWARF || s.GoidFromDWARF {
				t.Fatalf("goid sources: unstripped dwarf=%v, stripped dwarf=%v", g.GoidFromDWARF, s.GoidFromDWARF)
			}
			if g.Goid != s.Goid || g.GM != s.GM || g.MProcid != s.MProcid || g.ParentGoid != s.ParentGoid || g.Goid == 0 || g.GM == 0 || g.MProcid == 0 || g.ParentGoid == 0 {
				t.Fatalf("runtime offsets from DWARF %v, from the table %v", g, s)
			}
			if g.Execute == 0 || g.Newproc1.Entry == 0 || g.Goexit0 == 0 {
				t.Fatalf("functions not found: %+v", g)
			}
			if want := objdumpRets(t, full, goNewproc1Sym); len(g.Newproc1.Rets) != want || len(s.Newproc1.Rets) != want {
				t.Fatalf("newproc1 RETs: %d unstripped, %d stripped, objdump %d", len(g.Newproc1.Rets), len(s.Newproc1.Rets), want)
			}
			// Stripping keeps the code: the same offsets.
			if g.Execute != s.Execute || g.Newproc1.Entry != s.Newproc1.Entry || g.Goexit0 != s.Goexit0 {
				t.Fatalf("offsets differ: %+v vs %+v", g, s)
			}
		})
	}
}

func TestAnalyzeGoRuntime_NotGo(t *testing.T) {
	for _, p := range []string{"/bin/sh", "/usr/bin/env"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if _, err := analyzeGoRuntime(p); !errors.Is(err, ErrNotGo) {
			t.Errorf("%s: %v, want ErrNotGo", p, err)
		}
	}
	if _, err := analyzeGoRuntime("/nonexistent/binary"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzAnalyzeGoRuntimeFile feeds the goroutine probes' binary analysis
// arbitrary files: it must return an error or a usable analysis, never
// panic.
func FuzzAnalyzeGoRuntimeFile(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte{})
	if exe, err := os.ReadFile("/proc/self/exe"); err == nil && len(exe) > 8192 {
		f.Add(exe[:4096])
		f.Add(exe[:8192])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := analyzeGoRuntimeFile(bytes.NewReader(b), "fuzz")
		if err == nil && (g.Goid == 0 || len(g.Newproc1.Rets) == 0) {
			t.Fatalf("analysis without goid offset or RETs: %+v", g)
		}
	})
}
