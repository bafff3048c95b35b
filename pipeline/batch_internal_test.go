package pipeline

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
)

// tcpFrame is an Ethernet/IPv4/TCP frame from 10.0.0.1:sport to
// 10.0.0.2:80; totLen overrides the IPv4 total length when not 0.
func tcpFrame(sport uint16, totLen uint16) []byte {
	b := make([]byte, 14+20+20)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, decode.ProtoTCP
	if totLen == 0 {
		totLen = 40
	}
	binary.BigEndian.PutUint16(ip[2:], totLen)
	copy(ip[12:], []byte{10, 0, 0, 1})
	copy(ip[16:], []byte{10, 0, 0, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp, sport)
	binary.BigEndian.PutUint16(tcp[2:], 80)
	tcp[12], tcp[13] = 5<<4, decode.TCPSyn
	return b
}

// TestShard_Process checks that a shard hands the table every packet of
// a batch in order, whether the reader decoded it or left the frame to
// the shard, and skips a frame that fails to decode without losing the
// packets after it.
func TestShard_Process(t *testing.T) {
	var ports []uint16
	sh := &shard{dec: decode.NewDecoder(decode.Config{NoReassembly: true})}
	sh.table = flow.NewTable(flow.Config{OnRecord: func(r *flow.Record) { ports = append(ports, r.ClientPort) }})
	b := &batch{items: make([]entry, 8), metas: make([]decode.Meta, 8)}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	frame := func(sport, totLen uint16) {
		d := tcpFrame(sport, totLen)
		b.addFrame(&capture.Packet{Timestamp: ts, Data: d, Length: len(d), LinkType: capture.LinkEthernet})
	}
	meta := func(sport uint16) {
		b.addMeta(&decode.Meta{Timestamp: ts.UnixNano(), IPVersion: 4, Proto: decode.ProtoTCP, L4Decoded: true,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: sport, DstPort: 80,
			TCPFlags: decode.TCPSyn, WinScale: -1, Payload: []byte("kept")})
	}
	frame(1001, 0)
	frame(1002, 10) // total length shorter than the header: fails to decode
	meta(1003)
	frame(1004, 0)
	meta(1005)
	sh.process(b)
	if sh.packets != 4 {
		t.Fatalf("%d packets handed to the table, want 4", sh.packets)
	}
	if st := sh.dec.Stats(); st.Malformed != 1 {
		t.Errorf("shard decoder counted %d malformed frames, want 1", st.Malformed)
	}
	sh.table.Flush()
	want := []uint16{1001, 1003, 1004, 1005}
	if len(ports) != len(want) {
		t.Fatalf("flows from client ports %v, want %v", ports, want)
	}
	seen := map[uint16]bool{}
	for _, p := range ports {
		seen[p] = true
	}
	for _, p := range want {
		if !seen[p] {
			t.Fatalf("flows from client ports %v, want %v", ports, want)
		}
	}
}
