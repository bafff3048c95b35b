package mqtt

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// A golden line (scripts/mqtt-goldens.sh): src, dst, type, packet id,
// topics, client id, codes, version, malformed.
const (
	gSrc = iota
	gDst
	gType
	gID
	gTopics
	gClientID
	gCodes
	gVersion
	gMalformed
	gFields
)

// capture is one capture with its golden.
type capture struct {
	name, pcap, golden string
	shared             bool
}

// captures lists the recorded captures and, when the shared corpus is
// there, its MQTT captures.
func captures(t *testing.T) []capture {
	t.Helper()
	var out []capture
	rec, _ := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	for _, p := range rec {
		out = append(out, capture{filepath.Base(p), p, p + ".golden", false})
	}
	for _, p := range sharedCaptures(t) {
		n := filepath.Base(p)
		out = append(out, capture{n, p, filepath.Join("testdata", "shared", n+".golden"), true})
	}
	if len(out) == 0 {
		t.Fatal("no captures")
	}
	return out
}

// sharedCaptures returns the captures of the shared corpus
// ($METAFLOW_PCAPS/mqtt, else ../shared/pcaps/mqtt beside the module),
// none when it is absent.
func sharedCaptures(t testing.TB) []string {
	root := os.Getenv("METAFLOW_PCAPS")
	if root == "" {
		root = filepath.Join(filepath.Dir(testutil.ModuleRoot(t)), "shared", "pcaps")
	}
	files, _ := filepath.Glob(filepath.Join(root, "mqtt", "*.pcap*"))
	return files
}

// goldenRows returns the fields of each line of a golden.
func goldenRows(t *testing.T, path string) [][]string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("golden: %v (run scripts/mqtt-goldens.sh)", err)
	}
	var rows [][]string
	for _, l := range l7test.ReadLines(t, path) {
		f := strings.Split(l, "\t")
		if len(f) != gFields {
			t.Fatalf("%s: bad line %q", path, l)
		}
		rows = append(rows, f)
	}
	return rows
}

var levelNames = map[string]string{"3": "3.1", "4": "3.1.1", "5": "5"}

// expectCode is the response_code the decoder gives for a golden's codes:
// the first failure (from 0x80) among them, else the first.
func expectCode(codes string) string {
	if codes == "" {
		return ""
	}
	list := strings.Split(codes, ",")
	for _, c := range list {
		if n, _ := strconv.Atoi(c); n >= 0x80 {
			return c
		}
	}
	return list[0]
}

// oracleLine renders a golden row as messageLine renders a message.
func oracleLine(f []string) string {
	ver := ""
	if f[gType] == "CONNECT" {
		ver = levelNames[f[gVersion]]
	}
	return strings.Join([]string{f[gSrc], f[gDst], f[gType], f[gID], f[gTopics], f[gClientID],
		expectCode(f[gCodes]), ver}, "\t")
}

// messageLine renders a decoded message with the golden's fields: the
// sender and receiver follow from its kind and Reverse.
func messageLine(x *l7test.Msg) string {
	m := &x.M
	toServer := m.Kind == l7.KindRequest && !m.Reverse || m.Kind == l7.KindResponse && m.Reverse
	src, dst := x.Client.String(), x.Server.String()
	if !toServer {
		src, dst = dst, src
	}
	typ := string(m.RequestType)
	if m.Kind == l7.KindResponse {
		typ = string(m.Result)
	}
	id, code, ver := "", "", ""
	if m.HasRequestID {
		id = strconv.Itoa(int(m.RequestID))
	}
	if m.HasCode {
		code = strconv.Itoa(int(m.Code))
	}
	if typ == "CONNECT" {
		ver = string(m.Version)
	}
	return strings.Join([]string{src, dst, typ, id, string(m.RequestResource), string(m.RequestDomain), code, ver}, "\t")
}

// TestOracle compares the packets the parser decodes from each capture,
// replayed connection by connection, with tshark's: every packet tshark
// decodes, and no other, with its type, packet id, topics, client id,
// code and (CONNECT) version. The shared corpus has truncated frames, a
// capture starting mid-stream, lost segments, QoS 3 and MQTT 5 topic
// aliases; none needs an exception.
func TestOracle(t *testing.T) {
	for _, c := range captures(t) {
		t.Run(c.name, func(t *testing.T) {
			var want []string
			for _, f := range goldenRows(t, c.golden) {
				want = append(want, oracleLine(f))
			}
			res := l7test.ReplayTCP(t, c.pcap, New(nil))
			var got []string
			for i := range res.Msgs {
				got = append(got, messageLine(&res.Msgs[i]))
			}
			l7test.CompareMultiset(t, "packets", got, want)
			if res.Errs > 0 {
				t.Errorf("%d parse errors", res.Errs)
			}
		})
	}
}
