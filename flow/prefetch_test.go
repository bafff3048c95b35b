package flow

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// trace is what a table did with a run of packets: its records, the
// handler calls it made, and its final counters.
type trace struct {
	lines []string
	stats Stats
}

// run feeds ms to a new table, one Packet at a time when batch is 0, else
// through Packets in batches whose size cycles from 1 to batch.
func (tr *trace) run(ms []decode.Meta, batch int) {
	tab := NewTable(Config{
		MaxFlows: 4096,
		OnRecord: func(r *Record) { tr.lines = append(tr.lines, string(r.AppendJSON(nil))) },
		Handler: &funcHandler{packet: func(f *Flow, m *decode.Meta, d Dir) {
			tr.lines = append(tr.lines, fmt.Sprintf("packet %d %d %d %d", f.ID(), d, m.Seq, len(m.Payload)))
		}},
	})
	if batch == 0 {
		for i := range ms {
			tab.Packet(&ms[i])
		}
	} else {
		for n := 1; len(ms) > 0; n = n%batch + 1 {
			k := min(n, len(ms))
			tab.Packets(ms[:k])
			ms = ms[k:]
		}
	}
	tab.Flush()
	tr.stats = tab.Stats()
}

// decodeAll decodes a capture into Metas whose payloads it owns.
func decodeAll(path string) []decode.Meta {
	src, err := capture.OpenFile(path)
	if err != nil {
		return nil
	}
	defer src.Close()
	dec := decode.NewDecoder(decode.Config{})
	var p capture.Packet
	var ms []decode.Meta
	for src.ReadPacket(&p) == nil {
		var m decode.Meta
		if dec.Decode(&p, &m) != nil {
			continue
		}
		m.Payload = append([]byte(nil), m.Payload...)
		ms = append(ms, m)
	}
	return ms
}

// samePackets checks that Packets does exactly what Packet does on ms.
func samePackets(t *testing.T, name string, ms []decode.Meta) {
	var one, batched trace
	one.run(ms, 0)
	batched.run(ms, 37)
	if one.stats != batched.stats {
		t.Errorf("%s: stats differ:\nPacket  %+v\nPackets %+v", name, one.stats, batched.stats)
	}
	if len(one.lines) != len(batched.lines) {
		t.Fatalf("%s: %d records and calls with Packet, %d with Packets", name, len(one.lines), len(batched.lines))
	}
	for i := range one.lines {
		if one.lines[i] != batched.lines[i] {
			t.Fatalf("%s: line %d differs:\nPacket  %s\nPackets %s", name, i, one.lines[i], batched.lines[i])
		}
	}
}

// TestTable_Packets checks Packets against Packet on many flows that fill
// the table (its cap drops some), grow its index and reuse its slots.
func TestTable_Packets(t *testing.T) {
	w := newMany(20_000)
	var ms []decode.Meta
	for i := 0; i < len(lifecycle)*w.n; i++ {
		ms = append(ms, *w.next(i, lifecycle))
	}
	samePackets(t, "many", ms)
}

// TestTable_PacketsCorpus checks Packets against Packet on every shared
// capture.
func TestTable_PacketsCorpus(t *testing.T) {
	root := testutil.SharedPcaps(t, "")
	n := 0
	filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && (strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
			if ms := decodeAll(path); len(ms) > 0 {
				samePackets(t, filepath.Base(path), ms)
				n++
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no capture decoded")
	}
}
