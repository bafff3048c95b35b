package flow

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/decode"
)

// fuzzMetaSize is the number of input bytes that make one Meta.
const fuzzMetaSize = 16

// fuzzMeta builds a Meta from 16 bytes, drawing addresses and ports from
// small sets so that packets meet on the same flows.
func fuzzMeta(b []byte, now *int64, m *decode.Meta) {
	addrs := [...]netip.Addr{
		netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
	}
	ports := [...]uint16{80, 51000, 53, 0}
	protos := [...]uint8{decode.ProtoTCP, decode.ProtoTCP, decode.ProtoUDP, decode.ProtoICMP, decode.ProtoICMPv6, 47, decode.ProtoTCP, decode.ProtoUDP}
	*now += int64(b[0]) * int64(b[0]) * int64(10*time.Millisecond) / 16
	if b[1]&0x80 != 0 {
		*now -= int64(time.Millisecond) // time going backwards a little
	}
	*m = decode.Meta{Timestamp: *now, WireLen: int(b[2]) * 6}
	v6 := b[1]&1 != 0
	m.IPVersion = 4
	if v6 {
		m.IPVersion = 6
	}
	if b[1]&0x40 != 0 {
		m.IPVersion = 0 // not IP
	}
	i := 0
	if v6 {
		i = 2
	}
	m.Src, m.Dst = addrs[i+int(b[1]>>1&1)], addrs[i+int(b[1]>>2&1)]
	m.Proto = protos[b[3]&7]
	m.L4Decoded = b[3]&0x08 == 0
	m.IsFragment = b[3]&0x10 != 0
	if m.IsFragment && b[3]&0x20 != 0 {
		m.FragOffset = 1480
	}
	m.Reassembled = m.IsFragment && m.L4Decoded && b[3]&0x40 != 0
	m.IPID = uint32(b[4] & 3)
	m.SrcPort, m.DstPort = ports[b[4]>>2&3], ports[b[4]>>4&3]
	m.VLAN = uint16(b[4] >> 6)
	m.TCPFlags = b[5]
	m.Seq = binary.LittleEndian.Uint32(b[6:10])
	m.Ack = binary.LittleEndian.Uint32(b[10:14])
	m.PayloadLen = int(b[14]) * 8
	m.Window = uint16(b[15] & 3)
	m.ICMPType = b[15] >> 2
}

func FuzzTable(f *testing.F) {
	// Seeds: a handshake with data and FINs between the same endpoints,
	// with options for a small table, snapshots and a swapping handler.
	seed := []byte{}
	add := func(b0, b1, b3, b4, flags byte, seq, ack uint32, plen byte) {
		var b [fuzzMetaSize]byte
		b[0], b[1], b[2], b[3], b[4], b[5], b[14], b[15] = b0, b1, 10, b3, b4, flags, plen, 0xff
		binary.LittleEndian.PutUint32(b[6:], seq)
		binary.LittleEndian.PutUint32(b[10:], ack)
		seed = append(seed, b[:]...)
	}
	// client 10.0.0.1:51000 (b1 bits: src idx 0, dst idx 1 -> 0x04) to :80
	add(1, 0x04, 0, 0x01<<2|0<<4, decode.TCPSyn, 100, 0, 0)
	add(1, 0x02, 0, 0<<2|1<<4, decode.TCPSyn|decode.TCPAck, 500, 101, 0)
	add(1, 0x04, 0, 0x01<<2|0<<4, decode.TCPAck, 101, 501, 0)
	add(1, 0x04, 0, 0x01<<2|0<<4, decode.TCPAck|decode.TCPPsh, 101, 501, 10)
	add(1, 0x02, 0, 0<<2|1<<4, decode.TCPAck|decode.TCPPsh, 501, 181, 20)
	add(1, 0x04, 0, 0x01<<2|0<<4, decode.TCPAck|decode.TCPFin, 181, 661, 0)
	add(1, 0x02, 0, 0<<2|1<<4, decode.TCPAck|decode.TCPFin, 661, 182, 0)
	add(200, 0x04, 0x12, 0x01<<2|2<<4, 0, 0, 0, 0)
	f.Add(seed, uint8(0))
	f.Add(seed, uint8(3))
	f.Add(seed[:fuzzMetaSize*3], uint8(1|16))
	f.Add(seed, uint8(8))
	f.Fuzz(func(t *testing.T, data []byte, opts uint8) {
		var recPkts uint64
		cfg := Config{MaxFlows: 1 + int(opts&7), OnRecord: func(r *Record) {
			recPkts += r.PacketTx + r.PacketRx
			_ = r.AppendJSON(nil)
			_ = r.AppendText(nil)
		}}
		if opts&8 != 0 {
			cfg.SnapshotInterval = time.Second
		}
		if opts&16 != 0 {
			cfg.Handler = &funcHandler{packet: func(f *Flow, m *decode.Meta, d Dir) { f.Swap() }}
		}
		tab := NewTable(cfg)
		var m decode.Meta
		now := int64(1e18)
		fed := uint64(0)
		for len(data) >= fuzzMetaSize {
			fuzzMeta(data[:fuzzMetaSize], &now, &m)
			data = data[fuzzMetaSize:]
			tab.Packet(&m)
			fed++
		}
		tab.Flush()
		st := tab.Stats()
		if st.Packets != fed {
			t.Fatalf("stats count %d packets, fed %d", st.Packets, fed)
		}
		if st.Counted+st.NotL4+st.DroppedFlows+st.FragUnmatched != fed {
			t.Fatalf("packets not accounted: %+v, fed %d", st, fed)
		}
		if recPkts != st.Counted {
			t.Fatalf("records hold %d packets, counted %d", recPkts, st.Counted)
		}
		if st.ActiveFlows != 0 || st.Records != st.Flows {
			t.Fatalf("after flush: %+v", st)
		}
	})
}
