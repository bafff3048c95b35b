package kafka

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// keyOf returns the API key of a request type (the name, or a decimal key
// beyond the table).
func keyOf(t []byte) string {
	for k, a := range apis {
		if a.name == string(t) {
			return strconv.Itoa(k)
		}
	}
	if len(t) == 0 {
		return "-"
	}
	return string(t)
}

// lines formats replayed messages as scripts/kafka-goldens.sh formats
// tshark's.
func lines(msgs []l7test.Msg) []string {
	var out []string
	for _, x := range msgs {
		m := &x.M
		port := x.Client.Port()
		if m.Kind == l7.KindRequest {
			topic := "-"
			if len(m.RequestResource) > 0 {
				topic = string(m.RequestResource)
			}
			out = append(out, fmt.Sprintf("req\t%d\t%s\t%s\t%d\t%s", port, keyOf(m.RequestType), m.Version, m.ID, topic))
			continue
		}
		code := "-"
		if m.HasCode {
			code = strconv.Itoa(int(m.Code))
		}
		out = append(out, fmt.Sprintf("resp\t%d\t%s\t%d\t%s", port, keyOf(m.RequestType), m.ID, code))
	}
	return out
}

// TestOracle_V24 compares every message of the capture recorded with the
// client capped at Kafka 2.4 with tshark's decoding (API key, version,
// correlation id, first topic, first non-zero error code).
//
// Exception: tshark 4.0 reports the Produce v8 request to a topic that does
// not exist, whose only partition has null records, as malformed, and so
// cannot pair its response ("Undecoded, Request Missing"). The decoder
// reads the response's error code 3 (UNKNOWN_TOPIC_OR_PARTITION), as the
// broker answers for a topic it does not have.
func TestOracle_V24(t *testing.T) {
	rep := l7test.ReplayTCP(t, filepath.Join("testdata", "kafka-v2.4.pcap"), New(nil))
	if rep.Errs != 0 {
		t.Errorf("%d parse errors", rep.Errs)
	}
	want := l7test.ReadLines(t, filepath.Join("testdata", "kafka-v2.4.golden"))
	exceptions := 0
	for i, w := range want {
		f := strings.Split(w, "\t")
		if f[0] == "resp" && f[2] == "-" && f[4] == "-" {
			// The undecoded Produce response above.
			want[i] = strings.Join([]string{"resp", f[1], "0", f[3], "3"}, "\t")
			exceptions++
		}
	}
	if exceptions != 1 {
		t.Errorf("%d undecoded responses in the golden, want 1", exceptions)
	}
	l7test.CompareMultiset(t, "kafka-v2.4", lines(rep.Msgs), want)
}

// TestOracle_Latest checks the capture of the client's newest versions.
// tshark 4.0 decodes their headers (API key, version, correlation id), which
// must match; it does not know these versions' bodies (it reads topic ids
// as names), so the topics and error codes are checked against what the
// recorder did, reasoned from the message definitions.
func TestOracle_Latest(t *testing.T) {
	rep := l7test.ReplayTCP(t, filepath.Join("testdata", "kafka-latest.pcap"), New(nil))
	if rep.Errs != 0 {
		t.Errorf("%d parse errors", rep.Errs)
	}
	header := func(ls []string) []string {
		var out []string
		for _, l := range ls {
			f := strings.Split(l, "\t")
			if f[0] == "req" {
				out = append(out, strings.Join(f[:5], "\t"))
			} else {
				out = append(out, "resp\t"+f[1]+"\t"+f[3])
			}
		}
		return out
	}
	got := lines(rep.Msgs)
	l7test.CompareMultiset(t, "headers", header(got), header(l7test.ReadLines(t, filepath.Join("testdata", "kafka-latest.golden"))))

	// What the recorder did, as (API key, version, topic) of requests and
	// (API key, error code) of responses, counted.
	count := map[string]int{}
	for _, l := range got {
		f := strings.Split(l, "\t")
		if f[0] == "req" {
			count["req "+f[2]+" v"+f[3]+" "+f[5]]++
		} else {
			count["resp "+f[2]+" "+f[4]]++
		}
	}
	want := map[string]int{
		// Seven producers (one per record), then the consumer group,
		// each asking Metadata for "orders" (v13, by name).
		"req 3 v13 orders": 8,
		// Produce v13 names topics by id: the Metadata responses on
		// other connections mapped the id to "orders".
		"req 0 v13 orders": 7,
		"resp 0 0":         7,
		// Metadata for a topic that does not exist: UNKNOWN_TOPIC_OR_PARTITION.
		"req 3 v13 no-such-topic": 1,
		"resp 3 3":                1,
		// Produce v13 sent by kmsg without a topic id: the zero id,
		// printed as Kafka prints it; UNKNOWN_TOPIC_ID.
		"req 0 v13 AAAAAAAAAAAAAAAAAAAAAA": 1,
		"resp 0 100":                       1,
		// The explicit ListOffsets, then the consumer's.
		"req 2 v10 orders": 2,
		// JoinGroup v9: first MEMBER_ID_REQUIRED, then joined.
		"resp 11 79": 1,
		"resp 11 0":  1,
		// The group's offsets, by topic id (v10), named through the map.
		"req 8 v10 orders": 1,
		"resp 8 0":         1,
		"req 9 v10 orders": 2,
		"resp 9 0":         2,
		// Fetch v18 by topic id: the first fetch names "orders"; a
		// second connection's incremental fetch names none.
		"req 1 v18 orders": 2,
		"req 1 v18 -":      1,
		"resp 1 0":         2,
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%q: %d, want %d", k, count[k], n)
		}
	}
}

// TestTraces_Recorded checks the trace context of the recorded Produce
// requests: the values scripts/kafka-recorder put in the record headers,
// one record per batch, uncompressed (traceparent, sw8, b3), gzip, snappy,
// zstd, and lz4 (skipped and counted).
func TestTraces_Recorded(t *testing.T) {
	want := []string{
		"0af7651916cd43dd8448eb211c80319c b7ad6b7169203331 ",
		// sw8: base64 "MTIzNDU2Nzg5MA==" is "1234567890", segment
		// "YWJjZGVm" is "abcdef", span id 2.
		"1234567890 abcdef-2 ",
		"80f198ee56343ba864fe8b2a57d3eff7 e457b5a2e4d86bd1 05e3ac9a4f6e3b90",
		"11111111111111111111111111111111 2222222222222222 ", // gzip
		"33333333333333333333333333333333 4444444444444444 ", // snappy
		"55555555555555555555555555555555 6666666666666666 ", // zstd
		"  ", // lz4
		"  ", // no records (the topic that does not exist)
	}
	for _, name := range []string{"kafka-v2.4", "kafka-latest"} {
		t.Run(name, func(t *testing.T) {
			d := New(nil)
			rep := l7test.ReplayTCP(t, filepath.Join("testdata", name+".pcap"), d)
			var got []string
			for _, x := range rep.Msgs {
				if string(x.M.RequestType) == "Produce" && x.M.Kind == l7.KindRequest {
					got = append(got, fmt.Sprintf("%s %s %s", x.M.TraceID, x.M.SpanID, x.M.ParentSpanID))
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("traces:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			st := d.Stats()
			if st.Compressed != 3 || st.SkippedBatches != 1 || st.InflateErrors != 0 {
				t.Errorf("stats %+v: want 3 inflated, 1 skipped (lz4), no errors", st)
			}
		})
	}
}
