package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/kafka"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// TestDecoderAgainstKmsg decodes every message of the recorded captures
// with franz-go's kmsg, an independent reader of the protocol's message
// definitions, and compares what l7/kafka reports: API key, version and
// correlation id, the first topic of requests (a topic id named through the
// Metadata responses seen before it, on any connection), and the first
// non-zero error code of responses in wire order.
func TestDecoderAgainstKmsg(t *testing.T) {
	for _, name := range []string{"kafka-latest", "kafka-v2.4"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "..", "l7", "kafka", "testdata", name+".pcap")
			want, got, n := compare(t, path)
			l7test.CompareMultiset(t, name, got, want)
			t.Logf("%d messages compared", n)
		})
	}
}

// TestFlexibleTable compares the decoder's API names and flexible versions
// with kmsg's for every API key kmsg knows.
func TestFlexibleTable(t *testing.T) {
	for key := int16(0); key < 200; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			if kafka.APIName(key) != "" {
				t.Errorf("key %d: named %q, unknown to kmsg", key, kafka.APIName(key))
			}
			continue
		}
		if kafka.APIName(key) == "" {
			t.Errorf("key %d (%s): no name", key, kmsg.NameForKey(key))
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			if kafka.Flexible(key, v) != req.IsFlexible() {
				t.Errorf("%s v%d: flexible %v, kmsg %v", kmsg.NameForKey(key), v, kafka.Flexible(key, v), req.IsFlexible())
			}
		}
	}
}

type connKey struct{ a, b netip.AddrPort }

type pendingReq struct {
	key, ver int16
}

type conn struct {
	client, server netip.AddrPort
	half           [2]l7test.InOrder
	parser         l7.Parser
	pend           map[int32]pendingReq
}

func compare(t *testing.T, path string) (want, got []string, n int) {
	dec := kafka.New(nil)
	names := map[[16]byte]string{} // topic ids kmsg saw in Metadata responses
	conns := map[connKey]*conn{}
	l7test.EachPacket(t, path, func(_ int, m *decode.Meta) {
		if m.Proto != decode.ProtoTCP || !m.L4Decoded {
			return
		}
		s, d := netip.AddrPortFrom(m.Src, m.SrcPort), netip.AddrPortFrom(m.Dst, m.DstPort)
		k := connKey{s, d}
		if s.Port() < d.Port() {
			k = connKey{d, s}
		}
		c := conns[k]
		if c == nil {
			// The broker listens on the lower port (17301, 17302).
			c = &conn{client: k.a, server: k.b, parser: dec.NewParser(l7.TCP), pend: map[int32]pendingReq{}}
			conns[k] = c
		}
		dir := l7.ToServer
		if s == c.server {
			dir = l7.ToClient
		}
		h := &c.half[dir]
		gap, ok := h.Add(m.Seq, m.TCPFlags&decode.TCPSyn != 0, m.Payload)
		if !ok {
			return
		}
		if gap > 0 {
			t.Fatalf("%s: a gap in the capture", path)
		}
		for len(h.Buf) >= 4 {
			size := int(binary.BigEndian.Uint32(h.Buf))
			if len(h.Buf) < 4+size {
				break
			}
			msg := h.Buf[:4+size]
			h.Buf = h.Buf[4+size:]
			n++
			want = append(want, kmsgLine(t, c, dir, msg[4:], names))
			var lm l7.Message
			for len(msg) > 0 {
				lm.Reset()
				k, ok, err := c.parser.Parse(msg, dir, &lm)
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				if ok {
					got = append(got, decoderLine(c, &lm))
				}
				msg = msg[k:]
			}
		}
	})
	return want, got, n
}

// keyOf returns the API key the decoder named.
func keyOf(name []byte) int {
	for k := int16(0); k < 200; k++ {
		if kafka.APIName(k) == string(name) {
			return int(k)
		}
	}
	return -1
}

func decoderLine(c *conn, m *l7.Message) string {
	if m.Kind == l7.KindRequest {
		return fmt.Sprintf("req %d key %d v%s %d %q", c.client.Port(), keyOf(m.RequestType), m.Version, m.ID, m.RequestResource)
	}
	code := "-"
	if m.HasCode {
		code = fmt.Sprint(m.Code)
	}
	return fmt.Sprintf("resp %d key %d %d %s", c.client.Port(), keyOf(m.RequestType), m.ID, code)
}

func kmsgLine(t *testing.T, c *conn, dir l7.Direction, b []byte, names map[[16]byte]string) string {
	if dir == l7.ToServer {
		key := int16(binary.BigEndian.Uint16(b))
		ver := int16(binary.BigEndian.Uint16(b[2:]))
		corr := int32(binary.BigEndian.Uint32(b[4:]))
		req := kmsg.RequestForKey(key)
		req.SetVersion(ver)
		off := 8
		cl := int(int16(binary.BigEndian.Uint16(b[off:])))
		off += 2 + max(cl, 0)
		if req.IsFlexible() {
			off = skipTags(b, off)
		}
		if err := req.ReadFrom(b[off:]); err != nil {
			t.Fatalf("kmsg %s v%d: %v", kmsg.NameForKey(key), ver, err)
		}
		c.pend[corr] = pendingReq{key, ver}
		return fmt.Sprintf("req %d key %d v%d %d %q", c.client.Port(), key, ver, corr, topicOf(req, names))
	}
	corr := int32(binary.BigEndian.Uint32(b))
	p, ok := c.pend[corr]
	if !ok {
		t.Fatalf("response %d without a request", corr)
	}
	delete(c.pend, corr)
	resp := kmsg.ResponseForKey(p.key)
	resp.SetVersion(p.ver)
	off := 4
	if resp.IsFlexible() && p.key != 18 {
		off = skipTags(b, off)
	}
	if err := resp.ReadFrom(b[off:]); err != nil {
		t.Fatalf("kmsg %s v%d response: %v", kmsg.NameForKey(p.key), p.ver, err)
	}
	if md, ok := resp.(*kmsg.MetadataResponse); ok {
		for _, tp := range md.Topics {
			if tp.Topic != nil && tp.TopicID != ([16]byte{}) {
				names[tp.TopicID] = *tp.Topic
			}
		}
	}
	return fmt.Sprintf("resp %d key %d %d %s", c.client.Port(), p.key, corr, codeOf(resp))
}

func skipTags(b []byte, off int) int {
	n, k := binary.Uvarint(b[off:])
	off += k
	for range n {
		_, k = binary.Uvarint(b[off:])
		off += k
		l, k := binary.Uvarint(b[off:])
		off += k + int(l)
	}
	return off
}

func idName(id [16]byte, names map[[16]byte]string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// topicOf is the first topic of the requests that name one.
func topicOf(req kmsg.Request, names map[[16]byte]string) string {
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		if len(r.Topics) > 0 {
			if r.Version >= 13 {
				return idName(r.Topics[0].TopicID, names)
			}
			return r.Topics[0].Topic
		}
	case *kmsg.FetchRequest:
		if len(r.Topics) > 0 {
			if r.Version >= 13 {
				return idName(r.Topics[0].TopicID, names)
			}
			return r.Topics[0].Topic
		}
	case *kmsg.ListOffsetsRequest:
		if len(r.Topics) > 0 {
			return r.Topics[0].Topic
		}
	case *kmsg.MetadataRequest:
		if len(r.Topics) > 0 {
			if r.Topics[0].Topic != nil {
				return *r.Topics[0].Topic
			}
			if r.Topics[0].TopicID != ([16]byte{}) {
				return idName(r.Topics[0].TopicID, names)
			}
		}
	case *kmsg.OffsetCommitRequest:
		if len(r.Topics) > 0 {
			if r.Version >= 10 {
				return idName(r.Topics[0].TopicID, names)
			}
			return r.Topics[0].Topic
		}
	case *kmsg.OffsetFetchRequest:
		if r.Version <= 7 {
			if len(r.Topics) > 0 {
				return r.Topics[0].Topic
			}
			return ""
		}
		if len(r.Groups) > 0 && len(r.Groups[0].Topics) > 0 {
			if r.Version >= 10 {
				return idName(r.Groups[0].Topics[0].TopicID, names)
			}
			return r.Groups[0].Topics[0].Topic
		}
	}
	return ""
}

// codes collects error codes in wire order and keeps the first non-zero.
type codes struct {
	has  bool
	code int16
}

func (c *codes) add(v int16) {
	c.has = true
	if c.code == 0 {
		c.code = v
	}
}

func codeOf(resp kmsg.Response) string {
	var c codes
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, tp := range r.Topics {
			for _, p := range tp.Partitions {
				c.add(p.ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		if r.Version >= 7 {
			c.add(r.ErrorCode)
		}
		for _, tp := range r.Topics {
			for _, p := range tp.Partitions {
				c.add(p.ErrorCode)
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, tp := range r.Topics {
			for _, p := range tp.Partitions {
				c.add(p.ErrorCode)
			}
		}
	case *kmsg.MetadataResponse:
		for _, tp := range r.Topics {
			c.add(tp.ErrorCode)
			for _, p := range tp.Partitions {
				c.add(p.ErrorCode)
			}
		}
		if r.Version >= 13 {
			c.add(r.ErrorCode)
		}
	case *kmsg.OffsetCommitResponse:
		for _, tp := range r.Topics {
			for _, p := range tp.Partitions {
				c.add(p.ErrorCode)
			}
		}
	case *kmsg.OffsetFetchResponse:
		if r.Version <= 7 {
			for _, tp := range r.Topics {
				for _, p := range tp.Partitions {
					c.add(p.ErrorCode)
				}
			}
			if r.Version >= 2 {
				c.add(r.ErrorCode)
			}
			break
		}
		for _, g := range r.Groups {
			for _, tp := range g.Topics {
				for _, p := range tp.Partitions {
					c.add(p.ErrorCode)
				}
			}
			c.add(g.ErrorCode)
		}
	case *kmsg.ApiVersionsResponse:
		c.add(r.ErrorCode)
	case *kmsg.FindCoordinatorResponse:
		if r.Version <= 3 {
			c.add(r.ErrorCode)
		} else if len(r.Coordinators) > 0 {
			c.add(r.Coordinators[0].ErrorCode)
		}
	case *kmsg.JoinGroupResponse:
		c.add(r.ErrorCode)
	case *kmsg.HeartbeatResponse:
		c.add(r.ErrorCode)
	case *kmsg.LeaveGroupResponse:
		c.add(r.ErrorCode)
	case *kmsg.SyncGroupResponse:
		c.add(r.ErrorCode)
	case *kmsg.InitProducerIDResponse:
		c.add(r.ErrorCode)
	case *kmsg.GetTelemetrySubscriptionsResponse:
		c.add(r.ErrorCode)
	case *kmsg.PushTelemetryResponse:
		c.add(r.ErrorCode)
	}
	if !c.has {
		return "-"
	}
	return fmt.Sprint(c.code)
}
