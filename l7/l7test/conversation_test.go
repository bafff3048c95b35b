package l7test_test

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// oracleConversations are the conversations whose frames tshark judged
// (testdata/conversation-<name>.tshark, written by
// scripts/l7test-conversation-goldens.sh).
func oracleConversations() map[string]*l7test.Conversation {
	v4c, v4s := netip.MustParseAddrPort("192.0.2.1:40001"), netip.MustParseAddrPort("192.0.2.2:80")
	v6c, v6s := netip.MustParseAddrPort("[2001:db8::1]:40002"), netip.MustParseAddrPort("[2001:db8::2]:8080")
	get := []byte("GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n")
	ok := []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
	return map[string]*l7test.Conversation{
		"http-v4": l7test.NewConversation(v4c, v4s, l7.TCP).
			Request(get).Response(ok).
			Segment(16).Request(get).Wait(time.Second).Response(ok),
		"http-v6-gap": l7test.NewConversation(v6c, v6s, l7.TCP).
			Request(get).Gap(l7.ToClient, 20).Response(ok[20:]).
			Request(get).Response(ok),
		"midstream": l7test.NewConversation(v4c, v4s, l7.TCP).NoHandshake().NoClose().
			Request(get).Response(ok),
		"dns-udp": l7test.NewConversation(netip.MustParseAddrPort("192.0.2.1:53001"), netip.MustParseAddrPort("192.0.2.53:53"), l7.UDP).
			Request([]byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1}).
			Response([]byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1}),
		"snaplen": l7test.NewConversation(v4c, v4s, l7.TCP).Snaplen(80).
			Request(get).Response(ok),
	}
}

// TestConversation_Oracle checks the frames of oracleConversations against
// what tshark made of them (the goldens): valid IP, TCP and UDP checksums,
// the expected TCP sequence analysis (nothing but the scripted gaps and
// snaplen cuts), and the ports, sequence and acknowledgement numbers,
// flags and lengths that capture/decode reads back. With L7TEST_TSHARK set
// and tshark installed, it also checks that tshark still says what the
// goldens say (a few seconds, so not by default).
// With L7TEST_PCAP_DIR set, it writes the pcaps there (for the script that
// derives the goldens).
func TestConversation_Oracle(t *testing.T) {
	for name, c := range oracleConversations() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := c.WritePcap(&buf); err != nil {
				t.Fatal(err)
			}
			pcap := filepath.Join(t.TempDir(), name+".pcap")
			if dir := os.Getenv("L7TEST_PCAP_DIR"); dir != "" {
				pcap = filepath.Join(dir, "conversation-"+name+".pcap")
			}
			if err := os.WriteFile(pcap, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "conversation-"+name+".tshark")
			want := l7test.ReadLines(t, golden)
			if _, err := exec.LookPath("tshark"); err == nil && os.Getenv("L7TEST_TSHARK") != "" {
				out, err := exec.Command("tshark", tsharkArgs(pcap)...).Output()
				if err != nil {
					t.Fatalf("tshark: %v", err)
				}
				got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
				l7test.CompareMultiset(t, "tshark now vs "+golden, got, want)
			}
			checkOracle(t, c, buf.Bytes(), want)
		})
	}
}

// tsharkArgs are the arguments of the golden's tshark run; keep them in
// step with scripts/l7test-conversation-goldens.sh.
func tsharkArgs(pcap string) []string {
	return []string{"-r", pcap, "-n",
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-o", "tcp.relative_sequence_numbers:FALSE", "--disable-protocol", "http", "--disable-protocol", "dns",
		"-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=;",
		"-e", "frame.number", "-e", "ip.checksum.status",
		"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.flags", "-e", "tcp.len",
		"-e", "tcp.checksum.status", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.length", "-e", "udp.checksum.status",
		"-e", "_ws.expert.message"}
}

// checkOracle compares the frames of c, read back through capture and
// capture/decode, with tshark's golden lines.
func checkOracle(t *testing.T, c *l7test.Conversation, pcap []byte, golden []string) {
	src, err := capture.NewFileSource(bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	dec := decode.NewDecoder(decode.Config{})
	var pkt capture.Packet
	var m decode.Meta
	for i, line := range golden {
		f := strings.Split(line, "\t")
		if len(f) < 14 {
			t.Fatalf("golden line %d: %d fields", i+1, len(f))
		}
		if err := src.ReadPacket(&pkt); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		if err := dec.Decode(&pkt, &m); err != nil {
			t.Fatalf("frame %d: decode: %v", i+1, err)
		}
		// Checksum status 1 is Good for tshark, 2 Unverified (bytes
		// cut by the snaplen); IPv6 has none.
		for _, k := range []int{1, 8, 12} {
			if f[k] != "" && f[k] != "1" && (f[k] != "2" || !m.Truncated) {
				t.Errorf("frame %d: tshark checksum status %q in field %d", i+1, f[k], k)
			}
		}
		if f[2] != "" {
			want := f[2] + " " + f[3] + " " + f[4] + " " + f[5] + " " + f[7]
			got := strconv.Itoa(int(m.SrcPort)) + " " + strconv.Itoa(int(m.DstPort)) + " " +
				strconv.FormatUint(uint64(m.Seq), 10) + " " + ackField(&m) + " " + strconv.Itoa(m.PayloadLen)
			if got != want {
				t.Errorf("frame %d: ports, seq, ack, len %q, tshark %q", i+1, got, want)
			}
			if flags, _ := strconv.ParseUint(strings.TrimPrefix(f[6], "0x"), 16, 16); uint8(flags) != m.TCPFlags {
				t.Errorf("frame %d: flags %#x, tshark %s", i+1, m.TCPFlags, f[6])
			}
		}
		if f[9] != "" {
			got := strconv.Itoa(int(m.SrcPort)) + " " + strconv.Itoa(int(m.DstPort)) + " " + strconv.Itoa(m.PayloadLen+8)
			if want := f[9] + " " + f[10] + " " + f[11]; got != want {
				t.Errorf("frame %d: UDP %q, tshark %q", i+1, got, want)
			}
		}
	}
	if err := src.ReadPacket(&pkt); err == nil {
		t.Errorf("more frames than the golden's %d", len(golden))
	}
	// tshark's expert analysis: only what the script asks for.
	var expert []string
	for _, line := range golden {
		f := strings.Split(line, "\t")
		for _, e := range strings.Split(f[13], ";") {
			if e != "" && !strings.HasPrefix(e, "Connection establish") && !strings.HasPrefix(e, "Connection finish") &&
				!strings.HasPrefix(e, "This frame") {
				expert = append(expert, e)
			}
		}
	}
	want := map[string][]string{
		"http-v6-gap": {"Previous segment(s) not captured (common at capture start)", "ACKed segment that wasn't captured (common at capture start)"},
	}[strings.TrimPrefix(t.Name(), "TestConversation_Oracle/")]
	l7test.CompareMultiset(t, "tshark expert messages", dedup(expert), want)
	_ = c
}

func ackField(m *decode.Meta) string { return strconv.FormatUint(uint64(m.Ack), 10) }

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
