package ebpf

import (
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
	toolchains := []string{"local"}
	if !testing.Short() {
		for _, tc := range []string{"go1.22.0", "go1.24.0", "go1.25.0"} {
			if toolchainCached(dir, tc) {
				toolchains = append(toolchains, tc)
			}
		}
	}
	for _, tc := range toolchains {
		t.Run(tc, func(t *testing.T) {
			full := buildTestApp(t, dir, "goroutineapp", "goroutineapp-"+tc, tc, []string{"GOPROXY=off"}, "")
			strip := buildTestApp(t, dir, "goroutineapp", "goroutineapp-strip-"+tc, tc, []string{"GOPROXY=off"}, "-s -w")
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
			if g.Goid != s.Goid || g.Goid == 0 {
				t.Fatalf("goid offset %d from DWARF, %d from the table", g.Goid, s.Goid)
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
