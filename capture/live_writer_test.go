package capture_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// writerPackets returns Ethernet/IPv4/UDP frames of several sizes with
// distinct timestamps, one of them already truncated.
func writerPackets() []capture.Packet {
	var out []capture.Packet
	base := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for i, size := range []int{60, 61, 100, 1514, 9000, 300} {
		f := make([]byte, size)
		copy(f, []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45, 0})
		ipLen := size - 14
		f[16], f[17] = byte(ipLen>>8), byte(ipLen)
		f[22], f[23] = 64, 17 // ttl, udp
		copy(f[26:34], []byte{10, 201, 0, 1, 10, 201, 0, 2})
		udpLen := ipLen - 20
		f[34], f[35], f[36], f[37] = 0x7a, 0x69, 0x7a, 0x6a
		f[38], f[39] = byte(udpLen>>8), byte(udpLen)
		for j := 42; j < size; j++ {
			f[j] = byte(i + j)
		}
		p := capture.Packet{Timestamp: base.Add(time.Duration(i) * 1001 * time.Microsecond), Data: f, Length: size, LinkType: capture.LinkEthernet}
		if i == 5 {
			p.Data = f[:120] // captured short of the wire length
		}
		out = append(out, p)
	}
	return out
}

// TestPcapWriter_WritePacket writes packets and reads the file back with
// tshark: every frame's timestamp (to the nanosecond), wire length,
// captured length and bytes must match.
func TestPcapWriter_WritePacket(t *testing.T) {
	testutil.RequireCommand(t, "tshark")
	for _, snaplen := range []int{0, 200} {
		t.Run(fmt.Sprintf("snaplen%d", snaplen), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			bw := bufio.NewWriter(f)
			w, err := capture.NewPcapWriter(bw, capture.LinkEthernet, snaplen)
			if err != nil {
				t.Fatal(err)
			}
			pkts := writerPackets()
			for i := range pkts {
				if err := w.WritePacket(&pkts[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-E", "separator=,",
				"-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len", "-e", "udp.srcport", "-e", "frame.protocols").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(pkts) {
				t.Fatalf("tshark read %d frames, wrote %d:\n%s", len(lines), len(pkts), out)
			}
			for i, l := range lines {
				p := pkts[i]
				caplen := len(p.Data)
				if snaplen != 0 {
					caplen = min(caplen, snaplen)
				}
				want := fmt.Sprintf("%d.%09d,%d,%d,31337,eth:ethertype:ip:udp", p.Timestamp.Unix(), p.Timestamp.Nanosecond(), p.Length, caplen)
				if !strings.HasPrefix(l, want) {
					t.Errorf("frame %d: tshark says %q, want %q", i, l, want)
				}
			}
			// Bytes: the test's own reader of the same file.
			recs, link := readPcap(t, path)
			if link != capture.LinkEthernet {
				t.Errorf("link %v", link)
			}
			for i, r := range recs {
				d := pkts[i].Data
				if snaplen != 0 {
					d = d[:min(len(d), snaplen)]
				}
				if !bytes.Equal(r.data, d) {
					t.Errorf("frame %d bytes differ", i)
				}
			}
		})
	}
}

func TestNewPcapWriter_Errors(t *testing.T) {
	for _, snap := range []int{-1, capture.DefaultSnaplen + 1} {
		if _, err := capture.NewPcapWriter(io.Discard, capture.LinkEthernet, snap); !errors.Is(err, capture.ErrWriterSnaplen) {
			t.Errorf("snaplen %d: err = %v", snap, err)
		}
	}
	w, err := capture.NewPcapWriter(io.Discard, capture.LinkEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := capture.Packet{LinkType: capture.LinkRaw, Data: []byte{0x45}}
	if err := w.WritePacket(&p); err == nil {
		t.Error("wrote a RAW packet into an ETHERNET file")
	}
	if _, err := capture.NewPcapWriter(failWriter{}, capture.LinkEthernet, 0); err == nil {
		t.Error("header write error not reported")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestPcapWriter_WritePacketAllocs(t *testing.T) {
	w, err := capture.NewPcapWriter(io.Discard, capture.LinkEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := writerPackets()[3]
	if a := testing.AllocsPerRun(1000, func() { w.WritePacket(&p) }); a != 0 {
		t.Errorf("WritePacket allocates %v times", a)
	}
}

func BenchmarkPcapWriter_WritePacket(b *testing.B) {
	for _, size := range []int{64, 1514} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			w, err := capture.NewPcapWriter(io.Discard, capture.LinkEthernet, 0)
			if err != nil {
				b.Fatal(err)
			}
			p := capture.Packet{Timestamp: time.Now(), Data: make([]byte, size), Length: size, LinkType: capture.LinkEthernet}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := w.WritePacket(&p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
