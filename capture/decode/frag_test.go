package decode

import (
	"bytes"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
)

// frags4 splits an IPv4 payload into fragments of at most size bytes
// (a multiple of 8), each a full Ethernet frame.
func frags4(proto uint8, id uint16, payload []byte, size int) [][]byte {
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		fo := uint16(off / 8)
		if end < len(payload) {
			fo |= 0x2000
		}
		out = append(out, eth(0x0800, ipv4Hdr(proto, "10.0.0.1", "10.0.0.2", ip4opt{id: id, frag: fo}, payload[off:end])))
	}
	return out
}

// frags6 splits an IPv6 fragmentable part into fragments with a fragment
// header behind a hop-by-hop header.
func frags6(next uint8, id uint32, payload []byte, size int) [][]byte {
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		out = append(out, eth(0x86DD, ip6(protoHopByHop, "2001:db8::1", "2001:db8::2",
			ext6(protoFragment, frag6(next, off, end < len(payload), id, payload[off:end])))))
	}
	return out
}

func bigPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return b
}

func decodeAt(t *testing.T, d *Decoder, frame []byte, at time.Time) *Meta {
	t.Helper()
	p := pkt(capture.LinkEthernet, frame)
	p.Timestamp = at
	return decodeOK(t, d, p)
}

func TestDecode_Fragments(t *testing.T) {
	body := bigPayload(3000)
	dgram := udpDgram(5353, 53, body)
	t0 := time.Unix(1700000000, 0)

	for _, order := range []struct {
		name string
		idx  []int
	}{{"in order", []int{0, 1, 2}}, {"reverse", []int{2, 1, 0}}, {"first last", []int{0, 2, 1}}, {"duplicate", []int{1, 1, 0, 2}}} {
		t.Run("ipv4 "+order.name, func(t *testing.T) {
			d := NewDecoder(Config{})
			fr := frags4(ProtoUDP, 42, dgram, 1480)
			for i, k := range order.idx {
				m := decodeAt(t, d, fr[k], t0)
				if m.Src != a4 || m.Dst != b4 || m.Proto != ProtoUDP || !m.IsFragment || m.IPID != 42 || m.FragOffset != uint16(1480*k) {
					t.Fatalf("fragment %d: got %+v", k, m)
				}
				last := i == len(order.idx)-1
				if !last {
					if m.L4Decoded || m.Reassembled || m.Payload != nil {
						t.Fatalf("fragment %d decoded before completion: %+v", k, m)
					}
					continue
				}
				if !m.Reassembled || !m.L4Decoded || m.SrcPort != 5353 || m.DstPort != 53 ||
					!bytes.Equal(m.Payload, body) || m.PayloadLen != len(body) || m.IPLen != 20+len(dgram) || m.Truncated {
					t.Fatalf("reassembled: got %+v (payload %d bytes)", m, len(m.Payload))
				}
			}
			st := d.Stats()
			if st.FragSeen != uint64(len(order.idx)) || st.FragReassembled != 1 || st.FragDropped != 0 || st.FragExpired != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}

	t.Run("ipv6 with extension after fragment header", func(t *testing.T) {
		d := NewDecoder(Config{})
		// A destination-options header inside the fragmentable part.
		fr := frags6(protoDstOpts, 0xabcdef, ext6(ProtoUDP, dgram), 1232)
		for i, f := range fr {
			m := decodeAt(t, d, f, t0)
			if m.Src != a6 || m.Dst != b6 || !m.IsFragment || m.IPID != 0xabcdef {
				t.Fatalf("fragment %d: got %+v", i, m)
			}
			if i < len(fr)-1 {
				if m.L4Decoded {
					t.Fatalf("fragment %d decoded early", i)
				}
				continue
			}
			if !m.Reassembled || m.Proto != ProtoUDP || m.SrcPort != 5353 || !bytes.Equal(m.Payload, body) {
				t.Fatalf("reassembled: got %+v", m)
			}
		}
	})

	t.Run("tcp", func(t *testing.T) {
		d := NewDecoder(Config{})
		seg := tcpSeg(1, 2, 3, 4, TCPAck, nil, body)
		fr := frags4(ProtoTCP, 7, seg, 1000)
		var m *Meta
		for _, f := range fr {
			m = decodeAt(t, d, f, t0)
		}
		if !m.Reassembled || m.Proto != ProtoTCP || m.Seq != 3 || !bytes.Equal(m.Payload, body) {
			t.Fatalf("got %+v", m)
		}
	})

	t.Run("vxlan in fragments", func(t *testing.T) {
		d := NewDecoder(Config{})
		inner := eth(0x0800, ip4(ProtoUDP, "172.16.0.1", "172.16.0.2", udpDgram(1, 2, body)))
		fr := frags4(ProtoUDP, 9, udpDgram(1000, 4789, vxlanHdr(33, inner)), 1480)
		var m *Meta
		for _, f := range fr {
			m = decodeAt(t, d, f, t0)
		}
		if m.Tunnel.Type != TunnelVXLAN || m.Tunnel.ID != 33 || m.Tunnel.Src != a4 || !m.Reassembled ||
			m.Src.String() != "172.16.0.1" || m.DstPort != 2 || !bytes.Equal(m.Payload, body) {
			t.Fatalf("got %+v", m)
		}
	})

	t.Run("no reassembly", func(t *testing.T) {
		d := NewDecoder(Config{NoReassembly: true})
		fr := frags4(ProtoUDP, 42, dgram, 1480)
		for i, f := range fr {
			m := decodeAt(t, d, f, t0)
			if !m.IsFragment || m.Reassembled || m.L4Decoded != (i == 0) || m.Proto != ProtoUDP || m.Src != a4 {
				t.Fatalf("fragment %d: got %+v", i, m)
			}
			if i == 0 && (m.SrcPort != 5353 || m.PayloadLen != 1472 || m.Truncated) {
				t.Fatalf("first fragment: got %+v", m)
			}
		}
	})

	t.Run("expiry", func(t *testing.T) {
		d := NewDecoder(Config{FragmentTimeout: time.Second})
		fr := frags4(ProtoUDP, 42, dgram, 1480)
		decodeAt(t, d, fr[0], t0)
		decodeAt(t, d, fr[1], t0.Add(500*time.Millisecond))
		decodeAt(t, d, tcp4Frame(), t0.Add(2*time.Second)) // any packet moves the clock
		if st := d.Stats(); st.FragExpired != 1 {
			t.Fatalf("stats %+v", st)
		}
		m := decodeAt(t, d, fr[2], t0.Add(2*time.Second))
		if m.Reassembled || m.L4Decoded {
			t.Fatalf("completed from expired pieces: %+v", m)
		}
	})

	t.Run("table full evicts oldest", func(t *testing.T) {
		d := NewDecoder(Config{MaxDatagrams: 2})
		for id := range uint16(3) {
			decodeAt(t, d, frags4(ProtoUDP, id, dgram, 1480)[0], t0.Add(time.Duration(id)))
		}
		if st := d.Stats(); st.FragDropped != 1 {
			t.Fatalf("stats %+v", st)
		}
		// Datagram 0 was evicted; 2 and 1 complete.
		for _, id := range []uint16{2, 1, 0} {
			fr := frags4(ProtoUDP, id, dgram, 1480)
			decodeAt(t, d, fr[1], t0)
			m := decodeAt(t, d, fr[2], t0)
			if m.Reassembled != (id != 0) {
				t.Fatalf("datagram %d: Reassembled %v", id, m.Reassembled)
			}
		}
	})

	t.Run("too large", func(t *testing.T) {
		d := NewDecoder(Config{MaxDatagramSize: 2000})
		fr := frags4(ProtoUDP, 42, dgram, 1480)
		for _, f := range fr {
			if m := decodeAt(t, d, f, t0); m.Reassembled {
				t.Fatal("reassembled past the limit")
			}
		}
		if st := d.Stats(); st.FragDropped == 0 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("odd size limit", func(t *testing.T) {
		// The last block of a limit that is not a multiple of 8 (nor of
		// 512 bytes of bitmap) still has its bit.
		d := NewDecoder(Config{MaxDatagramSize: 4097})
		payload := bigPayload(4097 - 8)
		var m *Meta
		for _, f := range frags4(ProtoUDP, 5, udpDgram(1, 2, payload), 2048) {
			m = decodeAt(t, d, f, t0)
		}
		if !m.Reassembled || !bytes.Equal(m.Payload, payload) {
			t.Fatalf("got %+v", m)
		}
	})

	t.Run("inconsistent end", func(t *testing.T) {
		d := NewDecoder(Config{})
		fr := frags4(ProtoUDP, 42, dgram, 1480)
		decodeAt(t, d, fr[0], t0)
		decodeAt(t, d, fr[1], t0)
		// A last fragment ending before data already held.
		short := eth(0x0800, ipv4Hdr(ProtoUDP, "10.0.0.1", "10.0.0.2", ip4opt{id: 42, frag: 100 / 8}, make([]byte, 16)))
		decodeAt(t, d, short, t0)
		if m := decodeAt(t, d, fr[2], t0); m.Reassembled {
			t.Fatal("reassembled an inconsistent datagram")
		}
		if st := d.Stats(); st.FragDropped != 1 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("captured short", func(t *testing.T) {
		d := NewDecoder(Config{})
		fr := frags4(ProtoUDP, 42, dgram, 1480)
		m := decodeAt(t, d, fr[0][:100], t0)
		if !m.Truncated || m.L4Decoded || d.Stats().FragDropped != 1 {
			t.Fatalf("got %+v stats %+v", m, d.Stats())
		}
	})

	t.Run("buffers reused", func(t *testing.T) {
		d := NewDecoder(Config{})
		a := frags4(ProtoUDP, 1, dgram, 1480)
		b := frags4(ProtoUDP, 2, udpDgram(1, 2, bytes.Repeat([]byte{0xEE}, 2000)), 1480)
		var ma, mb Meta
		for _, f := range a {
			d.Decode(pkt(capture.LinkEthernet, f), &ma)
		}
		if !bytes.Equal(ma.Payload, body) {
			t.Fatal("first datagram wrong")
		}
		for _, f := range b {
			d.Decode(pkt(capture.LinkEthernet, f), &mb)
		}
		if !mb.Reassembled || !bytes.Equal(mb.Payload, bytes.Repeat([]byte{0xEE}, 2000)) {
			t.Fatalf("second datagram wrong: %+v", mb)
		}
	})
}
