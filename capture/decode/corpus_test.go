package decode

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// TestDecode_Corpus decodes every capture of the shared corpus that has a
// golden file under testdata/ and compares each frame with what tshark
// shows for it (scripts/decode-goldens.sh derives the goldens).
func TestDecode_Corpus(t *testing.T) {
	root := testutil.SharedPcaps(t, "")
	goldens, err := filepath.Glob(filepath.Join("testdata", "*", "*.golden"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var frames, checked int
	for _, g := range goldens {
		rel, _ := filepath.Rel("testdata", strings.TrimSuffix(g, ".golden"))
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			n, c := checkGolden(t, filepath.Join(root, rel), g)
			frames += n
			checked += c
		})
	}
	t.Logf("%d frames in %d captures, %d compared field by field", frames, len(goldens), checked)
}

// goldenRow is one line of a golden file; see scripts/decode-goldens.sh.
type goldenRow struct {
	frame                              int
	kind                               string
	ver, src, dst, l4, proto           string
	sport, dport, vlan, nvlan          string
	tunnel, tunid, frag, extra, paylen string
}

func readGolden(t *testing.T, path string) map[int]goldenRow {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[int]goldenRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		c := strings.Split(line, "\t")
		for len(c) < 16 {
			c = append(c, "")
		}
		n, err := strconv.Atoi(c[0])
		if err != nil {
			t.Fatalf("%s: bad line %q", path, line)
		}
		rows[n] = goldenRow{n, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15]}
	}
	return rows
}

func checkGolden(t *testing.T, pcap, golden string) (frames, checked int) {
	if _, err := os.Stat(pcap); err != nil {
		t.Skipf("capture absent: %v", err)
	}
	rows := readGolden(t, golden)
	src, err := capture.OpenFile(pcap)
	if err != nil {
		t.Skipf("open: %v", err)
	}
	defer src.Close()
	d := NewDecoder(Config{})
	var p capture.Packet
	var m Meta
	bad := 0
	for n := 1; ; n++ {
		if err := src.ReadPacket(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("frame %d: read: %v", n, err)
		}
		frames++
		row, ok := rows[n]
		if !ok {
			continue // counted below
		}
		derr := d.Decode(&p, &m)
		if diff := compareRow(&row, &m, derr); diff != "" {
			bad++
			if bad <= 20 {
				t.Errorf("frame %d: %s", n, diff)
			}
			continue
		}
		checked++
	}
	if frames != len(rows) {
		t.Errorf("read %d frames, golden has %d", frames, len(rows))
	}
	return frames, checked
}

// compareRow returns "" when m (or err) agrees with the tshark row, else a
// description of the differences.
func compareRow(r *goldenRow, m *Meta, err error) string {
	if r.kind == "notip" {
		if errors.Is(err, ErrNotIP) {
			return ""
		}
		return "tshark shows no IP; decoder: " + describe(m, err)
	}
	if err != nil {
		return "decoder failed: " + err.Error()
	}
	var diffs []string
	check := func(name, want, got string) {
		if want != "-" && want != got {
			diffs = append(diffs, name+": want "+want+" got "+got)
		}
	}
	check("ver", r.ver, strconv.Itoa(int(m.IPVersion)))
	check("src", r.src, m.Src.String())
	check("dst", r.dst, m.Dst.String())
	check("proto", r.proto, strconv.Itoa(int(m.Proto)))
	l4 := "-"
	if m.L4Decoded {
		switch m.Proto {
		case ProtoTCP:
			l4 = "tcp"
		case ProtoUDP:
			l4 = "udp"
		case ProtoICMP:
			l4 = "icmp"
		case ProtoICMPv6:
			l4 = "icmpv6"
		}
	}
	if r.l4 != l4 {
		diffs = append(diffs, "l4: want "+r.l4+" got "+l4)
	}
	if l4 != "-" {
		check("sport", r.sport, strconv.Itoa(int(m.SrcPort)))
		check("dport", r.dport, strconv.Itoa(int(m.DstPort)))
	}
	check("vlan", r.vlan, strconv.Itoa(int(m.VLAN)))
	check("nvlan", r.nvlan, strconv.Itoa(int(m.NVLAN)))
	tun := m.Tunnel.Type.String()
	if tun == "" {
		tun = "-"
	}
	if r.tunnel != tun {
		diffs = append(diffs, "tunnel: want "+r.tunnel+" got "+tun)
	} else {
		check("tunid", r.tunid, strconv.FormatUint(uint64(m.Tunnel.ID), 10))
	}
	frag := "0"
	if m.IsFragment {
		frag = "1"
	}
	check("frag", r.frag, frag)
	if r.frag == "1" && l4 != "-" && !m.Reassembled {
		diffs = append(diffs, "L4 of a fragment without Reassembled")
	}
	switch l4 {
	case "tcp":
		check("tcp", r.extra, "0x"+hex2(m.TCPFlags)+"/"+strconv.FormatUint(uint64(m.Seq), 10))
		check("paylen", r.paylen, strconv.Itoa(m.PayloadLen))
	case "udp":
		check("paylen", r.paylen, strconv.Itoa(m.PayloadLen))
	case "icmp", "icmpv6":
		check("icmp", r.extra, strconv.Itoa(int(m.ICMPType))+":"+strconv.Itoa(int(m.ICMPCode)))
	}
	return strings.Join(diffs, "; ")
}

func hex2(v uint8) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>4], digits[v&15]})
}

func describe(m *Meta, err error) string {
	if err != nil {
		return err.Error()
	}
	return "decoded " + m.Src.String() + " -> " + m.Dst.String() + " proto " + strconv.Itoa(int(m.Proto))
}
