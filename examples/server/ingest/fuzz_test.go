package ingest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

func seedFrame(tb testing.TB, compression encoding.Compression) []byte {
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Compression: compression})
	if err != nil {
		tb.Fatal(err)
	}
	var r l7.Record
	r.Client = netip.MustParseAddrPort("10.0.0.1:40000")
	r.Server = netip.MustParseAddrPort("10.0.0.2:80")
	r.L7Protocol, r.RequestType, r.RequestResource = "HTTP", []byte("GET"), []byte("/x")
	r.Tags.Set(tag.Server, "service", "web")
	enc.AddL7(&r)
	f, err := enc.AppendFrame(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// FuzzHandler posts arbitrary bodies: the answer is 200 (a frame that
// decodes and stores), 400, 409 or 413, never a 5xx or a panic, and a
// refused body stores nothing.
func FuzzHandler(f *testing.F) {
	st, err := store.Open(store.Config{Path: ":memory:"})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	h, err := ingest.New(ingest.Config{Store: st, MaxBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seedFrame(f, encoding.CompressS2))
	f.Add(seedFrame(f, encoding.CompressZstd))
	f.Add(seedFrame(f, encoding.CompressNone))
	f.Add([]byte("MFEB"))
	n := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		n++
		before := st.Stats()
		req := httptest.NewRequest("POST", ingest.Path, bytes.NewReader(body))
		req.Header.Set("X-Batch-ID", "fuzz-"+string(rune('a'+n%26))+"-"+itoa(n))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		after := st.Stats()
		switch w.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			if after.L4Rows != before.L4Rows || after.L7Rows != before.L7Rows || after.Batches != before.Batches {
				t.Fatalf("%d but rows stored", w.Code)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
