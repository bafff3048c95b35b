package kafka

import (
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// conversations are Kafka exchanges for the contract checks: flexible and
// classic headers, pipelining, a Produce longer than MaxPeek, compressed
// batches, acks 0, errors, and topics named by id.
func conversations() []*l7test.Conversation {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:9092")
	conv := func() *l7test.Conversation { return l7test.NewConversation(cli, srv, l7.TCP) }
	tp := []header{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	avq, avs := apiVersions(3, 0, 0)
	return []*l7test.Conversation{
		conv().
			Request(avq).Response(avs).
			Request(metadataReq(12, 1, "orders")).Response(metadataResp(12, 1, "orders", topicID, 0)).
			Request(produce(9, 2, -1, "orders", batch(codecGzip, 500, tp))).Response(produceResp(9, 2, "orders", 0)).
			Request(fetchReq(13, 3, "", topicID)).Response(fetchResp(13, 3, "", topicID, 0, 1)),
		conv().
			Request(produce(7, 1, 1, "big", batch(codecNone, 40000, tp))).
			Request(produce(7, 2, 0, "fire-and-forget", batch(codecZstd, 100, tp))).
			Request(append(metadataReq(8, 3, "a"), fetchReq(11, 4, "a", nil)...)).
			Response(produceResp(7, 1, "big", 0)).
			Response(append(metadataResp(8, 3, "a", nil, 3), fetchResp(11, 4, "a", nil, 0, 6)...)),
		// A Metadata response longer than MaxPeek, then a Fetch naming
		// the last of its topics by id.
		conv().
			Request(metadataReq(12, 1, "")).Response(bigMetadata(1, 600)).
			Request(fetchReq(13, 2, "", bigID(599))).Response(fetchResp(13, 2, "", bigID(599), 0, 0)),
	}
}

func TestContract(t *testing.T) {
	l7test.CheckContract(t, New(nil), conversations()...)
}

// FuzzContract fuzzes conversations through the engine under the contract
// checks (l7test.FuzzDecoder).
func FuzzContract(f *testing.F) {
	l7test.FuzzDecoder(f, New(nil), conversations()...)
}

// FuzzParse checks the Parser contract on arbitrary bytes fed to one
// parser in pieces (l7test.FuzzPieces): no panic, consumed <= len(input),
// no message with an error, progress without an error. Seeds: hand-built
// messages and the first bytes of the streams of the recorded captures and
// of the shared corpus.
func FuzzParse(f *testing.F) {
	tp := []header{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	avq, avs := apiVersions(3, 0, 0)
	f.Add(append([]byte{0}, avq...))
	f.Add(append([]byte{0x80}, avs...))
	f.Add(append([]byte{3}, produce(9, 1, 1, "t", batch(codecGzip, 10, tp))...))
	f.Add(append([]byte{5}, produce(3, 1, 1, "t", batch(codecSnappy, 10, tp))...))
	f.Add(append([]byte{9}, produce(8, 1, 1, "t", batch(codecZstd, 10, tp))...))
	f.Add(append([]byte{0x81}, metadataResp(12, 1, "t", topicID, 0)...))
	paths := []string{filepath.Join("testdata", "kafka-v2.4.pcap"), filepath.Join("testdata", "kafka-latest.pcap")}
	if shared, err := filepath.Glob(filepath.Join("..", "..", "..", "shared", "pcaps", "kafka", "*.pcap*")); err == nil {
		paths = append(paths, shared...) // the shared corpus beside the module, when there
	}
	for _, raw := range l7test.StreamSeeds(f, New(nil), paths...) {
		f.Add(append([]byte{0}, raw...))
	}
	d := New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		l7test.FuzzPieces(t, &l7test.Idling{Parser: d.NewParser(l7.TCP)}, in, false)
	})
}

// TestEngine_BigMetadata: through the engine, a Fetch names by id a topic
// that only the part of a Metadata response past MaxPeek mapped.
func TestEngine_BigMetadata(t *testing.T) {
	c := conversations()[2]
	reg, err := l7.NewRegistry(New(nil))
	if err != nil {
		t.Fatal(err)
	}
	res := l7test.RunConversation(t, c, l7.Config{Registry: reg})
	var fetch string
	for _, r := range res.Records {
		if string(r.RequestType) == "Fetch" {
			fetch = string(r.RequestResource)
		}
	}
	if fetch != "topic-with-a-longish-name-0599" {
		t.Errorf("Fetch topic %q, want topic-with-a-longish-name-0599 (%d records)", fetch, len(res.Records))
	}
}

// FuzzTraces feeds arbitrary bytes to the record batch and record header
// readers, which FuzzParse reaches only through a valid Produce request:
// no panic, no trace field longer than its input allows.
func FuzzTraces(f *testing.F) {
	tp := []header{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	sw := []header{{"sw8", "1-MTIzNDU2Nzg5MA==-YWJjZGVm-2-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-MTI3LjAuMC4xOjkwOTI="}}
	b3 := []header{{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"}}
	for _, c := range []int{codecNone, codecGzip, codecSnappy, codecZstd, snappyXerial} {
		f.Add(batch(c, 20, tp, sw, b3))
	}
	d := New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		p := d.NewParser(l7.TCP).(*Parser)
		var m l7.Message
		p.traces(in, &m)
		m.Reset()
		scanRecords(in, 64, p, &m)
	})
}

// FuzzResponses reaches the response body readers of every API with
// arbitrary bytes (FuzzParse rarely pairs a response with a request): the
// first two bytes choose the API key and version of a request the parser
// sees first, the rest is the response body after the correlation id.
func FuzzResponses(f *testing.F) {
	f.Add([]byte{3, 12, 0, 0, 0, 0, 1, 1, 0})
	for _, c := range []struct {
		key, ver byte
		resp     []byte
	}{
		{0, 9, produceResp(9, 1, "t", 3)}, {1, 12, fetchResp(12, 1, "t", nil, 0, 1)},
		{1, 13, fetchResp(13, 1, "", topicID, 0, 1)}, {3, 12, metadataResp(12, 1, "t", topicID, 0)},
		{3, 12, bigMetadata(1, 300)},
	} {
		f.Add(append([]byte{c.key, c.ver}, c.resp[8:]...))
	}
	d := New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		key := int16(in[0]) % int16(len(apis))
		ver := int16(in[1]) % (apis[key].max + 1)
		p := d.NewParser(l7.TCP)
		var m l7.Message
		rq := request(key, ver, 1, "f", Flexible(key, ver), func(*enc) {})
		if _, ok, _ := p.Parse(rq, l7.ToServer, &m); !ok {
			t.Fatalf("request %d v%d not parsed", key, ver)
		}
		rs := frame(append([]byte{0, 0, 0, 1}, in[2:]...))
		l7test.FuzzPieces(t, p, append([]byte{0x80 | in[1]&0x3f}, rs...), false)
	})
}

// FuzzRequests reaches the request body readers of every API with
// arbitrary bytes: the first two bytes choose the API key and version, the
// rest is the body after the request header.
func FuzzRequests(f *testing.F) {
	tp := []header{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	for _, c := range []struct {
		key, ver byte
		rq       []byte
	}{
		{0, 9, produce(9, 1, 1, "t", batch(codecGzip, 10, tp))}, {0, 3, produce(3, 1, 1, "t", batch(codecZstd, 10, tp))},
		{1, 13, fetchReq(13, 1, "", topicID)}, {3, 12, metadataReq(12, 1, "t")},
	} {
		// The body starts after size, key, version, correlation id, the
		// client id and, when flexible, the tagged fields.
		off := 14 + int(binary.BigEndian.Uint16(c.rq[12:]))
		if Flexible(int16(c.key), int16(c.ver)) {
			off++
		}
		f.Add(append([]byte{c.key, c.ver}, c.rq[off:]...))
	}
	d := New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		key := int16(in[0]) % int16(len(apis))
		ver := int16(in[1]) % (apis[key].max + 1)
		rq := request(key, ver, 1, "f", Flexible(key, ver), func(e *enc) { e.raw(in[2:]) })
		l7test.FuzzPieces(t, d.NewParser(l7.TCP), append([]byte{in[1] & 0x3f}, rq...), false)
	})
}
