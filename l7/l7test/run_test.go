package l7test_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

func TestRunConversation(t *testing.T) {
	reg, err := l7.NewRegistry(&lineDecoder{})
	if err != nil {
		t.Fatal(err)
	}
	c := lineConversation()
	res := l7test.RunConversation(t, c, l7.Config{Registry: reg})
	var got []string
	for _, r := range res.Records {
		got = append(got, string(r.AppendText(nil)))
	}
	want := []string{
		"LINE 10.1.0.1:41000 > 10.1.0.2:7000 GET alpha -> Ok 1 100us",
		"LINE 10.1.0.1:41000 > 10.1.0.2:7000 GET beta -> ServerError no beta 200us",
		"LINE 10.1.0.1:41000 > 10.1.0.2:7000 SET gamma 3 -> Ok ok 1000100us",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records\n got %q\nwant %q", got, want)
	}
	if len(res.Flows) != 1 || res.Flows[0].L7Request != 3 || res.Flows[0].L7Response != 3 || res.Flows[0].L7Protocol != "LINE" {
		t.Errorf("l4 records %+v", res.Flows)
	}

	// The same frames from a pcap file.
	path := filepath.Join(t.TempDir(), "line.pcap")
	var buf bytes.Buffer
	if err := c.WritePcap(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	res2 := l7test.Run(t, path, l7.Config{Registry: reg})
	if !reflect.DeepEqual(res2.Records, res.Records) || res2.Stats.Requests != 3 {
		t.Errorf("from the pcap: %d records, stats %+v", len(res2.Records), res2.Stats)
	}
	if ps := l7test.Packets(t, path); len(ps) != len(c.Frames()) || ps[3].Frame != 4 || string(ps[3].Payload) != "GET alpha\nGET beta\n" {
		t.Errorf("packets %+v", ps)
	}
}

func TestFuzzInput_RoundTrip(t *testing.T) {
	c := l7test.NewConversation(client, server, l7.UDP).NoHandshake().NoClose().Snaplen(99).
		Request([]byte("GET a\n")).Gap(l7.ToClient, 7).Wait(3 * time.Millisecond).Segment(2).Response([]byte("+a\n"))
	in := l7test.EncodeFuzzInput(c, 42)
	d, seed := l7test.DecodeFuzzInput(in, client, server)
	if seed != 42 || !bytes.Equal(l7test.EncodeFuzzInput(d, seed), in) {
		t.Errorf("round trip: seed %d, %q, want %q", seed, l7test.EncodeFuzzInput(d, seed), in)
	}
	if d.Transport() != l7.UDP || !reflect.DeepEqual(d.Frames(), c.Frames()) {
		t.Errorf("decoded conversation renders other frames")
	}
	for _, in := range [][]byte{nil, {0}, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 40)} {
		l7test.DecodeFuzzInput(in, client, server) // any input decodes
	}
}
