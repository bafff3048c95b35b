package main

import (
	"io"
	"runtime"
	"strings"
	"testing"
)

// TestParseArgs_EBPF checks the -ebpf flags' validation.
func TestParseArgs_EBPF(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"alone", []string{"-ebpf"}, ""},
		{"with live capture", []string{"-ebpf", "-i", "lo", "-pid", "1,2", "-comm", "nginx", "-ebpf-payload", "16384", "-ebpf-tls"}, ""},
		{"tls without ebpf", []string{"-i", "lo", "-ebpf-tls"}, "need -ebpf"},
		{"goroutines", []string{"-ebpf", "-pid", "1", "-ebpf-goroutines"}, ""},
		{"goroutines without ebpf", []string{"-i", "lo", "-ebpf-goroutines"}, "need -ebpf"},
		{"with replay", []string{"-ebpf", "-r", "x.pcap"}, "cannot be combined with -r"},
		{"pid without ebpf", []string{"-i", "lo", "-pid", "1"}, "need -ebpf"},
		{"bad pid", []string{"-ebpf", "-pid", "x"}, "want process ids"},
		{"long comm", []string{"-ebpf", "-comm", "a-name-longer-than-15"}, "1 to 15 bytes"},
		{"payload too large", []string{"-ebpf", "-ebpf-payload", "100000"}, "-ebpf-payload must be"},
		{"no input", nil, "need -r FILE, -i IFACE or -ebpf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseArgs(tc.args, io.Discard)
			if tc.err == "" {
				if err != nil || !o.ebpf.on {
					t.Errorf("err %v, ebpf %v", err, o.ebpf.on)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v, want one containing %q", err, tc.err)
			}
		})
	}
}

// TestRun_EBPFUnavailable checks that -ebpf where it cannot run fails with
// a message naming what is missing, not a panic or a hang.
func TestRun_EBPFUnavailable(t *testing.T) {
	if runtime.GOOS == "linux" {
		t.Skip("the tracer may load here; TestAgent_EBPF runs it")
	}
	err := run([]string{"-ebpf"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("err %v, want not supported", err)
	}
}
