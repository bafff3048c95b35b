package l7test_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// TestConnSegments: the payloads of a recorded connection, in order and
// oriented, cut after the last response; then replayed on idle
// connections, every request gives its record.
func TestConnSegments(t *testing.T) {
	c := l7test.NewConversation(client, server, l7.TCP).
		Request([]byte("GET a\n")).Response([]byte("+a\n")).
		Request([]byte("GET b\n")).Response([]byte("+b\n")).
		Request([]byte("GET c\n"))
	var buf bytes.Buffer
	if err := c.WritePcap(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "line.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	segs := l7test.ConnSegments(t, path, server.Port(), 0)
	var got []string
	for _, s := range segs {
		d := "> "
		if s.Dir == l7.ToClient {
			d = "< "
		}
		got = append(got, d+string(s.Data))
	}
	want := []string{"> GET a\n", "< +a\n", "> GET b\n", "< +b\n"}
	if len(got) != len(want) {
		t.Fatalf("segments %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("segments %q, want %q", got, want)
		}
	}
	if first := l7test.ConnSegments(t, path, 0, 2); len(first) != 2 {
		t.Errorf("at most 2: %d segments", len(first))
	}
	per, records := l7test.IdleBytesPerConn(t, &lineDecoder{}, server, segs, 1000)
	if records != 2*(1000+1000/4) || per <= 0 {
		t.Errorf("%d records, %.0f bytes per connection; want %d records and a positive size", records, per, 2*(1000+1000/4))
	}
}
