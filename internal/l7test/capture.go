package l7test

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// EachPacket reads the capture at path and calls fn with the 1-based frame
// number (as tshark counts) and the decoded metadata of every frame that
// decodes without error. m and its payload are valid only during the call.
// A capture that cannot be opened or read fails the test.
func EachPacket(tb testing.TB, path string, fn func(frame int, m *decode.Meta)) {
	tb.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer src.Close()
	dec := decode.NewDecoder(decode.Config{})
	var pkt capture.Packet
	var m decode.Meta
	for frame := 1; ; frame++ {
		if err := src.ReadPacket(&pkt); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			tb.Fatalf("read %s: %v", path, err)
		}
		if dec.Decode(&pkt, &m) == nil {
			fn(frame, &m)
		}
	}
}

// Packet is one decoded TCP or UDP packet of a capture, payload copied.
type Packet struct {
	Frame    int // 1-based, as tshark counts
	UDP      bool
	Src, Dst netip.AddrPort
	Seq      uint32 // TCP only
	Flags    uint8  // TCP flags (decode.TCPSyn, ...)
	Payload  []byte
}

// Packets returns the TCP and UDP packets of the capture at path whose
// transport header decoded, in capture order.
func Packets(tb testing.TB, path string) []Packet {
	tb.Helper()
	var out []Packet
	EachPacket(tb, path, func(frame int, m *decode.Meta) {
		if !m.L4Decoded || (m.Proto != decode.ProtoUDP && m.Proto != decode.ProtoTCP) {
			return
		}
		out = append(out, Packet{
			Frame: frame, UDP: m.Proto == decode.ProtoUDP,
			Src: netip.AddrPortFrom(m.Src, m.SrcPort), Dst: netip.AddrPortFrom(m.Dst, m.DstPort),
			Seq: m.Seq, Flags: m.TCPFlags, Payload: slices.Clone(m.Payload),
		})
	})
	return out
}

// SharedDir returns the shared capture corpus folder of one protocol, like
// testutil.SharedPcaps, and whether it exists, without skipping the test.
func SharedDir(tb testing.TB, proto string) (string, bool) {
	tb.Helper()
	root := os.Getenv("METAFLOW_PCAPS")
	if root == "" {
		root = filepath.Join(filepath.Dir(testutil.ModuleRoot(tb)), "shared", "pcaps")
	}
	dir := filepath.Join(root, proto)
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// SharedCaptures returns the captures (*.pcap*) of the shared corpus of
// one protocol, none when the corpus is absent.
func SharedCaptures(tb testing.TB, proto string) []string {
	tb.Helper()
	dir, ok := SharedDir(tb, proto)
	if !ok {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	return files
}

// Captures returns the shared captures of proto followed by the recorded
// ones under the module's testdata/l7 whose names start with prefix.
func Captures(tb testing.TB, proto, prefix string) []string {
	tb.Helper()
	rec, _ := filepath.Glob(testutil.Testdata(tb, filepath.Join("l7", prefix+"*.pcap*")))
	return append(SharedCaptures(tb, proto), rec...)
}
