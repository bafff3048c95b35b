package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

// TestHeapPeak_Check checks that the profile follows the live heap up,
// not down, without a collection run by the test.
func TestHeapPeak_Check(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.prof")
	h := newHeapPeak(path)
	big := make([]byte, 64<<20)
	h.check()
	first := h.wrote
	if first < 64<<20 {
		t.Fatalf("first profile at %d live bytes, want at least 64 MiB", first)
	}
	bigger := make([]byte, 128<<20)
	h.check()
	if h.wrote < first+128<<20 {
		t.Fatalf("after 128 MiB more the profile is at %d live bytes, want at least %d", h.wrote, first+128<<20)
	}
	runtime.KeepAlive(big)
	runtime.KeepAlive(bigger)
	peak := h.wrote
	big, bigger = nil, nil
	h.check()
	if h.wrote != peak {
		t.Fatalf("the profile was rewritten as the heap shrank (%d -> %d)", peak, h.wrote)
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Fatalf("profile file: %v", err)
	}
}

// TestRun_Profiles runs the agent with both profiles on a capture: each
// file is a gzip-compressed pprof profile.
func TestRun_Profiles(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	args := []string{"-r", testutil.Testdata(t, "l7/http-nginx.pcap"), "-cpuprofile", cpu, "-memprofile", mem}
	if err := run(args, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cpu, mem} {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: %d bytes, err %v: not a gzip-compressed profile", filepath.Base(p), len(b), err)
		}
	}
}
