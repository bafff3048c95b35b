package decode

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/metaflow-go/metaflow/capture"
)

var fuzzLinks = []capture.LinkType{
	capture.LinkEthernet, capture.LinkRaw, capture.LinkIPv4, capture.LinkIPv6,
	capture.LinkNull, capture.LinkLoop, capture.LinkLinuxSLL, capture.LinkLinuxSLL2,
}

// FuzzDecode checks the Decode contract: no panic; an error is a
// *DecodeError matching a sentinel; on success Payload lies within the
// packet (or the reassembly buffer) and PayloadLen covers it.
func FuzzDecode(f *testing.F) {
	for _, tc := range allocCases() {
		for _, fr := range tc.frames {
			f.Add(uint8(0), uint16(0), fr)
		}
	}
	f.Add(uint8(0), uint16(0), tcp4Frame())
	f.Add(uint8(1), uint16(0), tcp4())
	f.Add(uint8(3), uint16(0), udp6())
	f.Add(uint8(4), uint16(0), cat(le32(2), udp4()))
	f.Add(uint8(0), uint16(0), eth(0x0800, ip4(ProtoUDP, "1.1.1.1", "2.2.2.2", udpDgram(1, 6081, geneveHdr(9, 0x6558, make([]byte, 4), tcp4Frame())))))
	f.Add(uint8(0), uint16(0), eth(0x0800, ip4(protoGRE, "1.1.1.1", "2.2.2.2", greHdr(greKey|greSeq, 0x22EB, 1, 1, cat(make([]byte, 12), tcp4Frame())))))
	f.Add(uint8(0), uint16(0), eth(0x8847, cat([]byte{0, 0, 0x11, 64}, udp4())))
	f.Add(uint8(0), uint16(0), eth(0x8864, cat([]byte{0x11, 0, 0, 1, 0, 40, 0, 0x21}, udp4())))
	f.Add(uint8(0), uint16(4097), frags4(ProtoUDP, 1, udpDgram(1, 2, bigPayload(4089)), 2048)[1])
	f.Fuzz(func(t *testing.T, link uint8, maxSize uint16, data []byte) {
		// maxSize varies the reassembly limit (0: default).
		d := NewDecoder(Config{MaxDatagrams: 4, MaxDatagramSize: int(maxSize)})
		p := pkt(fuzzLinks[int(link)%len(fuzzLinks)], data)
		var m Meta
		// Twice, so that a fragment meets itself in reassembly.
		for range 2 {
			err := d.Decode(p, &m)
			if err != nil {
				var de *DecodeError
				if !errors.As(err, &de) || !(errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed) ||
					errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotIP)) || de.Offset < 0 {
					t.Fatalf("bad error %#v", err)
				}
				continue
			}
			if len(m.Payload) > m.PayloadLen {
				t.Fatalf("Payload %d bytes > PayloadLen %d", len(m.Payload), m.PayloadLen)
			}
			if len(m.Payload) < m.PayloadLen && !m.Truncated {
				t.Fatalf("short payload without Truncated")
			}
			if len(m.Payload) > 0 && !m.Reassembled && !within(m.Payload, data) {
				t.Fatal("Payload outside the packet")
			}
			if m.IPVersion != 4 && m.IPVersion != 6 {
				t.Fatalf("IPVersion %d", m.IPVersion)
			}
		}
	})
}

// within reports whether sub lies inside b's memory.
func within(sub, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	s, e := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))+uintptr(len(b))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= s && p+uintptr(len(sub)) <= e
}
