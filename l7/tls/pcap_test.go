package tls

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// oracleLines turns the messages a capture's replay produced into the line
// format of scripts/tls-goldens.sh.
func oracleLines(r *l7test.Replay) []string {
	var out []string
	for _, x := range r.Msgs {
		eps := []string{x.Client.String(), x.Server.String()}
		sort.Strings(eps)
		conn := strings.Join(eps, " ")
		m := &x.M
		switch {
		case m.Kind == l7.KindRequest:
			out = append(out, fmt.Sprintf("ch\t%s\t%s\t%s", conn, m.RequestDomain, m.RequestResource))
		case m.HasCode:
			level := 2
			if m.Status == l7.StatusOk {
				level = 1
			}
			out = append(out, fmt.Sprintf("alert\t%s\t%d\t%d", conn, level, m.Code))
		default:
			out = append(out, fmt.Sprintf("sh\t%s\t%s\t%s", conn, m.Version, m.Result))
		}
	}
	return out
}

// TestOracle_Recorded replays the captures recorded on this machine by
// scripts/record-tls.sh and compares every hello and plaintext alert with
// tshark's (goldens by scripts/tls-goldens.sh).
func TestOracle_Recorded(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.pcap")
	if len(files) == 0 {
		t.Fatal("no recorded captures under testdata")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			r := l7test.ReplayTCP(t, path, New(nil))
			want := l7test.ReadLines(t, strings.TrimSuffix(path, ".pcap")+".golden")
			if r.Errs != 0 {
				t.Errorf("%d parse errors", r.Errs)
			}
			l7test.CompareMultiset(t, path, oracleLines(r), want)
		})
	}
}

// sharedExtra lists, per shared capture, the lines the decoder produces
// and tshark's goldens lack, with the reason.
var sharedExtra = map[string][]string{
	// The server re-sent SYN-ACKs with new initial sequence numbers;
	// tshark takes the server's flight for retransmissions and does not
	// dissect it. With -o tcp.analyze_sequence_numbers:FALSE it does, and
	// shows this ServerHello (cipher suite 0xc02f, version 0x0303).
	"ndpi_tls_multiple_synack_different_seq.pcapng": {
		"sh\t10.10.10.1:443 192.168.0.1:59927\t1.2\tTLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	},
}

// TestOracle_Shared does the same for every capture of the shared corpus
// (skipped when it is absent), where the decoder must find every hello and
// plaintext alert tshark finds, with the same fields.
func TestOracle_Shared(t *testing.T) {
	files := sharedCaptures(t, "tls")
	if len(files) == 0 {
		t.Skip("shared TLS corpus not found")
	}
	for _, path := range files {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			r := l7test.ReplayTCP(t, path, New(nil))
			name := strings.TrimSuffix(strings.TrimSuffix(base, ".pcapng"), ".pcap")
			want := l7test.ReadLines(t, filepath.Join("testdata", "shared", name+".golden"))
			want = append(want, sharedExtra[base]...)
			l7test.CompareMultiset(t, base, oracleLines(r), want)
		})
	}
}
