// Command kafka-recorder plays a scripted Kafka conversation between the
// franz-go client and the pure-Go broker kfake on 127.0.0.1, so that
// scripts/record-kafka.sh can capture it for l7/kafka's tests.
//
// The conversation: producers, one per batch codec (none, gzip, snappy,
// zstd, lz4), each sending records whose headers carry trace context
// (traceparent, plus sw8 and b3 on the uncompressed batches); a Produce and
// a Metadata request naming a topic that does not exist; a ListOffsets; a
// consumer group that joins, fetches, commits its offsets (OffsetCommit)
// and reads them back (OffsetFetch), then leaves.
//
// -max caps the client's request versions: "2.4" (kversion.V2_4_0, what
// tshark 4.0 decodes) or "latest" (the client's newest, which kfake
// serves: Produce v9+, Fetch v13+ with topic ids, flexible headers).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

func main() {
	port := flag.Int("port", 17300, "broker port")
	maxv := flag.String("max", "latest", `client versions: "2.4" or "latest"`)
	flag.Parse()
	if err := run(*port, *maxv); err != nil {
		log.Fatal(err)
	}
}

// Trace contexts, one per produced record; the tests know these values.
var traces = []struct {
	codec   string
	headers []kgo.RecordHeader
}{
	{"none", []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")}}},
	{"none", []kgo.RecordHeader{{Key: "sw8", Value: []byte("1-MTIzNDU2Nzg5MA==-YWJjZGVm-2-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-MTI3LjAuMC4xOjkwOTI=")}}},
	{"none", []kgo.RecordHeader{{Key: "app", Value: []byte("x")}, {Key: "b3", Value: []byte("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")}}},
	{"gzip", []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-11111111111111111111111111111111-2222222222222222-01")}}},
	{"snappy", []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-33333333333333333333333333333333-4444444444444444-01")}}},
	{"zstd", []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-55555555555555555555555555555555-6666666666666666-01")}}},
	{"lz4", []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-77777777777777777777777777777777-8888888888888888-01")}}},
}

var codecs = map[string]kgo.CompressionCodec{
	"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	"zstd": kgo.ZstdCompression(), "lz4": kgo.Lz4Compression(),
}

func run(port int, maxv string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, "orders", "events"))
	if err != nil {
		return err
	}
	defer c.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID("metaflow-recorder")}
	switch maxv {
	case "2.4":
		opts = append(opts, kgo.MaxVersions(kversion.V2_4_0()))
	case "latest":
	default:
		return fmt.Errorf("unknown -max %q", maxv)
	}

	// Producers: one client per codec, one record (so one batch) per call.
	for i, tr := range traces {
		cl, err := kgo.NewClient(append(opts, kgo.ProducerBatchCompression(codecs[tr.codec]), kgo.DefaultProduceTopic("orders"))...)
		if err != nil {
			return err
		}
		// Values long and repetitive enough that every codec compresses.
		val := []byte(fmt.Sprintf("order %d %s %s", i, tr.codec, string(make([]byte, 200))))
		r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: val, Headers: tr.headers}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			return fmt.Errorf("produce %s: %w", tr.codec, err)
		}
		cl.Close()
	}

	// Requests naming a topic that does not exist, sent straight to the broker.
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("no-such-topic")
	meta.Topics = append(meta.Topics, mt)
	if _, err := meta.RequestWith(ctx, cl); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	brokers := cl.DiscoveredBrokers()
	if len(brokers) == 0 {
		return fmt.Errorf("no broker discovered")
	}
	b := brokers[0]
	prod := kmsg.NewPtrProduceRequest()
	prod.Acks = -1
	prod.TimeoutMillis = 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "no-such-topic"
	pp := kmsg.NewProduceRequestTopicPartition()
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)
	if _, err := b.Request(ctx, prod); err != nil {
		return fmt.Errorf("produce missing topic: %w", err)
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "orders"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lp.CurrentLeaderEpoch = -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	if _, err := b.Request(ctx, lo); err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	cl.Close()

	// A consumer group: join, fetch, commit, read the commits back, leave.
	gopts := append(opts, kgo.ConsumerGroup("metaflow-group"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	cons, err := kgo.NewClient(gopts...)
	if err != nil {
		return err
	}
	got := 0
	for got < len(traces) {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		got += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = "metaflow-group"
	oft := kmsg.NewOffsetFetchRequestTopic()
	oft.Topic = "orders"
	oft.Partitions = []int32{0}
	of.Topics = append(of.Topics, oft)
	// Group-level fields of OffsetFetch v8+.
	og := kmsg.NewOffsetFetchRequestGroup()
	og.Group = "metaflow-group"
	ogt := kmsg.NewOffsetFetchRequestGroupTopic()
	ogt.Topic = "orders"
	ogt.Partitions = []int32{0}
	og.Topics = append(og.Topics, ogt)
	of.Groups = append(of.Groups, og)
	if _, err := of.RequestWith(ctx, cons); err != nil {
		return fmt.Errorf("offset fetch: %w", err)
	}
	cons.LeaveGroup()
	cons.Close()
	fmt.Fprintf(os.Stderr, "kafka-recorder: %s done, %d records consumed\n", maxv, got)
	return nil
}
