package kafka

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

func benchCases() []l7test.Case {
	tp := []header{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	avq, _ := apiVersions(3, 1, 0)
	return []l7test.Case{
		{Name: "header/ApiVersions-v3", In: avq},
		{Name: "Metadata-v12", In: metadataReq(12, 1, "orders")},
		{Name: "Fetch-v11", In: fetchReq(11, 1, "orders", nil)},
		{Name: "Produce-v9/none", In: produce(9, 1, 1, "orders", batch(codecNone, 1000, tp))},
		{Name: "Produce-v9/snappy", In: produce(9, 1, 1, "orders", batch(codecSnappy, 1000, tp))},
		{Name: "Produce-v9/gzip", In: produce(9, 1, 1, "orders", batch(codecGzip, 1000, tp))},
		{Name: "Produce-v9/zstd", In: produce(9, 1, 1, "orders", batch(codecZstd, 1000, tp))},
		{Name: "Produce-v9/lz4", In: produce(9, 1, 1, "orders", batch(codecLz4, 1000, tp))},
		{Name: "check/response", In: produceResp(9, 1, "orders", 0), Dir: l7.ToClient, CheckOnly: true},
	}
}

// pairs are request and response exchanges: the response body is read
// only when its request was seen.
func pairs() []struct {
	name   string
	rq, rs []byte
} {
	return []struct {
		name   string
		rq, rs []byte
	}{
		{"Produce-v9", produce(9, 1, 1, "orders", batch(codecNone, 100, nil)), produceResp(9, 1, "orders", 0)},
		{"Fetch-v12", fetchReq(12, 1, "orders", nil), fetchResp(12, 1, "orders", nil, 0, 0)},
		{"Metadata-v12", metadataReq(12, 1, "orders"), metadataResp(12, 1, "orders", topicID, 0)},
	}
}

// TestZeroAlloc: Check and a warm parser allocate nothing, compressed
// batches included (pooled decompressors, the parser's inflate buffer).
func TestZeroAlloc(t *testing.T) {
	d := New(nil)
	l7test.CheckZeroAlloc(t, d, benchCases()...)
	for _, c := range pairs() {
		p := d.NewParser(l7.TCP)
		var m l7.Message
		round := func() {
			l7test.ParseAll(p, c.rq, l7.ToServer, &m)
			l7test.ParseAll(p, c.rs, l7.ToClient, &m)
		}
		round()
		if a := testing.AllocsPerRun(200, round); a != 0 {
			t.Errorf("%s: %v allocations per request and response", c.name, a)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	d := New(nil)
	l7test.BenchmarkParse(b, d, benchCases())
	for _, c := range pairs() {
		b.Run("pair/"+c.name, func(b *testing.B) {
			p := d.NewParser(l7.TCP)
			var m l7.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(c.rq) + len(c.rs)))
			for b.Loop() {
				l7test.ParseAll(p, c.rq, l7.ToServer, &m)
				l7test.ParseAll(p, c.rs, l7.ToClient, &m)
			}
		})
	}
}
