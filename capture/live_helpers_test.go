package capture_test

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
)

// rec is one captured packet, copied out of the source.
type rec struct {
	ts     time.Time
	data   []byte
	length int
}

// readPcap reads a classic pcap file (either byte order, µs or ns). It is
// a test oracle reader independent of the package's file sources.
func readPcap(t *testing.T, path string) ([]rec, capture.LinkType) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(b) < 24 {
		t.Fatalf("%s: short pcap header", path)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	magic := bo.Uint32(b)
	if magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1 {
		bo = binary.BigEndian
		magic = bo.Uint32(b)
	}
	nano := magic == 0xa1b23c4d
	if !nano && magic != 0xa1b2c3d4 {
		t.Fatalf("%s: magic %#x", path, magic)
	}
	link := capture.LinkType(bo.Uint32(b[20:]))
	var out []rec
	for off := 24; off < len(b); {
		if off+16 > len(b) {
			t.Fatalf("%s: truncated record header at %d", path, off)
		}
		sec, frac := bo.Uint32(b[off:]), bo.Uint32(b[off+4:])
		caplen, length := int(bo.Uint32(b[off+8:])), int(bo.Uint32(b[off+12:]))
		off += 16
		if off+caplen > len(b) {
			t.Fatalf("%s: truncated record at %d", path, off)
		}
		if !nano {
			frac *= 1000
		}
		out = append(out, rec{time.Unix(int64(sec), int64(frac)), b[off : off+caplen], length})
		off += caplen
	}
	return out, link
}
