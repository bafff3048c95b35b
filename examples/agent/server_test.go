package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/examples/sender"
	"github.com/metaflow-go/metaflow/pipeline"
)

// TestAttachServer: the TLS and plaintext flags are checked before any
// record is read (the delivery over TLS is tested by examples/server's
// TestServer_TLS with the agent binary).
func TestAttachServer(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, []byte("no certificate"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		err  string // "" ok
	}{
		{"none", nil, ""},
		{"loopback plaintext with a token", []string{"-server", "http://127.0.0.1:1", "-server-token", "t"}, ""},
		{"remote plaintext with a token", []string{"-server", "http://192.0.2.1:1", "-server-token", "t"}, "plaintext"},
		{"remote plaintext allowed", []string{"-server", "http://192.0.2.1:1", "-server-token", "t", "-insecure-plaintext"}, ""},
		{"https with a name", []string{"-server", "https://192.0.2.1:1", "-server-token", "t", "-server-name", "collector.example"}, ""},
		{"CA on http", []string{"-server", "http://127.0.0.1:1", "-server-name", "x"}, "https://"},
		{"CA without a certificate", []string{"-server", "https://127.0.0.1:1", "-server-ca", ca}, "no PEM certificate"},
		{"CA file missing", []string{"-server", "https://127.0.0.1:1", "-server-ca", filepath.Join(dir, "missing.pem")}, "CA file"},
		{"CA without -server", []string{"-server-ca", ca}, "need -server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("agent", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			registerServerFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			var cfg pipeline.Config
			h, err := attachServer(&cfg, io.Discard)
			if h != nil {
				h.snd.Close()
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("%v: error %v, want %q", tc.args, err, tc.err)
			}
			if tc.err == "plaintext" && !errors.Is(err, sender.ErrPlaintext) {
				t.Fatalf("%v is not ErrPlaintext", err)
			}
		})
	}
}
