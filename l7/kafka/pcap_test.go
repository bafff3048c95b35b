package kafka

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// tsharkMax is the newest version of each API whose body tshark 4.0
// decodes (its "Unsupported ... version" warnings); keys not listed are
// taken as fully decoded.
var tsharkMax = map[string]int{
	"0": 8, "1": 11, "2": 5, "3": 9, "8": 8, "9": 7, "10": 3, "11": 7, "13": 4, "15": 5, "16": 3,
	"18": 3, "19": 5, "20": 4, "22": 3, "42": 2,
}

// headerOnly reduces the lines of messages whose body tshark does not
// decode — requests of a version above tsharkMax and their responses — to
// what it does decode: the header (client port, API key and version,
// correlation id of a request; client port and correlation id of a
// response). reqs maps "port corr" to the API key and version of the
// golden's requests.
func headerOnly(ls []string, reqs map[string][2]string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		f := strings.Split(l, "\t")
		out[i] = l
		if f[0] == "req" {
			if v, err := strconv.Atoi(f[3]); err == nil && tsharkMax[f[2]] > 0 && v > tsharkMax[f[2]] {
				out[i] = strings.Join(f[:5], "\t") + "\t?"
			}
			continue
		}
		kv, ok := reqs[f[1]+" "+f[3]]
		if v, err := strconv.Atoi(kv[1]); !ok || err == nil && tsharkMax[kv[0]] > 0 && v > tsharkMax[kv[0]] {
			out[i] = "resp\t" + f[1] + "\t?\t" + f[3] + "\t?"
		}
	}
	return out
}

// TestSharedCaptures replays every capture of the shared corpus (skipped
// when it is absent) and compares the messages with tshark's decoding
// (testdata/shared/*.golden, scripts/kafka-goldens.sh) wherever tshark
// decodes them.
//
// Exceptions, where tshark 4.0 does not decode what the decoder reads:
// request bodies of versions newer than it knows (Produce v9+, Fetch v12+,
// Metadata v10+, ...; it reads a Metadata v12 topic as "[ Null ]"), and
// the responses to them, which it leaves undecoded; for those only the
// headers are compared. Among them, deepflow_01-fetch-v12-unknown's Fetch
// v12 response carries error code 5120 (bytes 14 00 after the throttle
// time, its session id 0x029d2b8e matching the request's), which the
// decoder reports as it is; ndpi_kafka's Produce v9 and Metadata v12 name
// "sampleTopic", as their bytes show.
func TestSharedCaptures(t *testing.T) {
	dir := testutil.SharedPcaps(t, "kafka")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if len(files) == 0 {
		t.Skip("no shared Kafka captures")
	}
	for _, path := range files {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".pcapng"), ".pcap")
		t.Run(name, func(t *testing.T) {
			rep := l7test.ReplayTCP(t, path, New(nil))
			want := l7test.ReadLines(t, filepath.Join("testdata", "shared", name+".golden"))
			if rep.Errs != 0 {
				t.Errorf("%d parse errors", rep.Errs)
			}
			reqs := map[string][2]string{}
			for _, l := range want {
				if f := strings.Split(l, "\t"); f[0] == "req" {
					reqs[f[1]+" "+f[4]] = [2]string{f[2], f[3]}
				}
			}
			w := headerOnly(want, reqs)
			full := 0
			for _, l := range w {
				if !strings.Contains(l, "?") {
					full++
				}
			}
			t.Logf("%d of %d messages compared whole, the rest by header", full, len(w))
			l7test.CompareMultiset(t, name, headerOnly(lines(rep.Msgs), reqs), w)
		})
	}
}
