package main

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/kafka"
)

// frameRequest frames a kmsg request body with a request header (v1, or v2
// with tagged fields when flexible).
func frameRequest(req kmsg.Request, corr int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 5)
	b = append(b, "sweep"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// frameResponse frames a kmsg response body with a response header (v0, or
// v1 when flexible, except ApiVersions).
func frameResponse(resp kmsg.Response, corr int32) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(corr))
	if resp.IsFlexible() && resp.Key() != 18 {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

var sweepID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// exchange builds a request naming topic "sweep-topic" (or its id) and a
// response whose only partition (or topic) carries error code code, for
// API key at version ver, with kmsg.
func exchange(key, ver int16, code int16) (kmsg.Request, kmsg.Response) {
	name := "sweep-topic"
	switch key {
	case 0:
		rq := kmsg.NewPtrProduceRequest()
		rq.Acks = -1
		t := kmsg.NewProduceRequestTopic()
		t.Topic, t.TopicID = name, sweepID
		p := kmsg.NewProduceRequestTopicPartition()
		t.Partitions = append(t.Partitions, p)
		rq.Topics = append(rq.Topics, t)
		rs := kmsg.NewPtrProduceResponse()
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = name, sweepID
		rp := kmsg.NewProduceResponseTopicPartition()
		rp.ErrorCode = code
		rp.ErrorRecords = []kmsg.ProduceResponseTopicPartitionErrorRecord{{RelativeOffset: 1}}
		rp.ErrorMessage = kmsg.StringPtr("bad")
		rt.Partitions = append(rt.Partitions, rp)
		rs.Topics = append(rs.Topics, rt)
		return rq, rs
	case 1:
		rq := kmsg.NewPtrFetchRequest()
		t := kmsg.NewFetchRequestTopic()
		t.Topic, t.TopicID = name, sweepID
		t.Partitions = append(t.Partitions, kmsg.NewFetchRequestTopicPartition())
		rq.Topics = append(rq.Topics, t)
		rq.ForgottenTopics = append(rq.ForgottenTopics, kmsg.NewFetchRequestForgottenTopic())
		rs := kmsg.NewPtrFetchResponse()
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = name, sweepID
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.ErrorCode = code
		rp.AbortedTransactions = append(rp.AbortedTransactions, kmsg.NewFetchResponseTopicPartitionAbortedTransaction())
		rp.RecordBatches = []byte("records")
		rt.Partitions = append(rt.Partitions, rp)
		rs.Topics = append(rs.Topics, rt)
		return rq, rs
	case 2:
		rq := kmsg.NewPtrListOffsetsRequest()
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = name
		t.Partitions = append(t.Partitions, kmsg.NewListOffsetsRequestTopicPartition())
		rq.Topics = append(rq.Topics, t)
		rs := kmsg.NewPtrListOffsetsResponse()
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = name
		rp := kmsg.NewListOffsetsResponseTopicPartition()
		rp.ErrorCode = code
		rp.OldStyleOffsets = []int64{1, 2}
		rt.Partitions = append(rt.Partitions, rp)
		rs.Topics = append(rs.Topics, rt)
		return rq, rs
	case 3:
		rq := kmsg.NewPtrMetadataRequest()
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		rq.Topics = append(rq.Topics, t)
		rs := kmsg.NewPtrMetadataResponse()
		b := kmsg.NewMetadataResponseBroker()
		b.Host, b.Rack = "broker", kmsg.StringPtr("rack")
		rs.Brokers = append(rs.Brokers, b)
		rs.ClusterID = kmsg.StringPtr("cluster")
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic, rt.TopicID = kmsg.StringPtr(name), sweepID
		rp := kmsg.NewMetadataResponseTopicPartition()
		rp.ErrorCode = code
		rp.Replicas, rp.ISR, rp.OfflineReplicas = []int32{1, 2}, []int32{1}, []int32{2}
		rt.Partitions = append(rt.Partitions, rp)
		rs.Topics = append(rs.Topics, rt)
		return rq, rs
	case 8:
		rq := kmsg.NewPtrOffsetCommitRequest()
		rq.Group, rq.MemberID = "g", "m"
		t := kmsg.NewOffsetCommitRequestTopic()
		t.Topic, t.TopicID = name, sweepID
		t.Partitions = append(t.Partitions, kmsg.NewOffsetCommitRequestTopicPartition())
		rq.Topics = append(rq.Topics, t)
		rs := kmsg.NewPtrOffsetCommitResponse()
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = name, sweepID
		rp := kmsg.NewOffsetCommitResponseTopicPartition()
		rp.ErrorCode = code
		rt.Partitions = append(rt.Partitions, rp)
		rs.Topics = append(rs.Topics, rt)
		return rq, rs
	case 9:
		rq := kmsg.NewPtrOffsetFetchRequest()
		rq.Group = "g"
		t := kmsg.NewOffsetFetchRequestTopic()
		t.Topic, t.Partitions = name, []int32{0}
		rq.Topics = append(rq.Topics, t)
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = "g"
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.Topic, gt.TopicID, gt.Partitions = name, sweepID, []int32{0}
		g.Topics = append(g.Topics, gt)
		rq.Groups = append(rq.Groups, g)
		rs := kmsg.NewPtrOffsetFetchResponse()
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = name
		rp := kmsg.NewOffsetFetchResponseTopicPartition()
		rp.ErrorCode = code
		rp.Metadata = kmsg.StringPtr("meta")
		rt.Partitions = append(rt.Partitions, rp)
		rs.Topics = append(rs.Topics, rt)
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group = "g"
		rgt := kmsg.NewOffsetFetchResponseGroupTopic()
		rgt.Topic, rgt.TopicID = name, sweepID
		rgp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		rgp.ErrorCode = code
		rgt.Partitions = append(rgt.Partitions, rgp)
		rg.Topics = append(rg.Topics, rgt)
		rs.Groups = append(rs.Groups, rg)
		return rq, rs
	}
	return nil, nil
}

// TestVersionSweep builds, with kmsg, a request and a response of every
// version of the six APIs whose topics and error codes the decoder reads,
// and checks the topic (by name, or by id once a Metadata response mapped
// it) and the error code the decoder reports.
func TestVersionSweep(t *testing.T) {
	for _, key := range []int16{0, 1, 2, 3, 8, 9} {
		rq, _ := exchange(key, 0, 0)
		for ver := int16(0); ver <= rq.MaxVersion(); ver++ {
			t.Run(fmt.Sprintf("%s-v%d", kmsg.NameForKey(key), ver), func(t *testing.T) {
				dec := kafka.New(nil)
				// Map sweepID to its name, as a Metadata v12 response on
				// another connection would.
				mq, ms := exchange(3, 12, 0)
				mq.SetVersion(12)
				ms.SetVersion(12)
				mp := dec.NewParser(l7.TCP)
				var m l7.Message
				mp.Parse(frameRequest(mq, 1), l7.ToServer, &m)
				m.Reset()
				mp.Parse(frameResponse(ms, 1), l7.ToClient, &m)

				const code = 6 // NOT_LEADER_FOR_PARTITION
				rq, rs := exchange(key, ver, code)
				rq.SetVersion(ver)
				rs.SetVersion(ver)
				p := dec.NewParser(l7.TCP)
				in := frameRequest(rq, 42)
				m.Reset()
				n, ok, err := p.Parse(in, l7.ToServer, &m)
				if n != len(in) || !ok || err != nil {
					t.Fatalf("request: %d of %d, %v, %v", n, len(in), ok, err)
				}
				if string(m.RequestType) != kafka.APIName(key) || string(m.Version) != fmt.Sprint(ver) || m.ID != 42 {
					t.Errorf("request header: %s v%s id %d", m.RequestType, m.Version, m.ID)
				}
				if string(m.RequestResource) != "sweep-topic" {
					t.Errorf("topic %q, want sweep-topic", m.RequestResource)
				}
				in = frameResponse(rs, 42)
				m.Reset()
				n, ok, err = p.Parse(in, l7.ToClient, &m)
				if n != len(in) || !ok || err != nil {
					t.Fatalf("response: %d of %d, %v, %v", n, len(in), ok, err)
				}
				if !m.HasCode || m.Code != code || m.Status != l7.StatusServerError {
					t.Errorf("response code %d (has %v) status %v, want %d ServerError", m.Code, m.HasCode, m.Status, code)
				}
			})
		}
	}
}
