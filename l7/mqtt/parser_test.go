package mqtt

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

func TestDecoder_Check(t *testing.T) {
	d := New(nil)
	big := publish(false, 1, 7, "a/b", strings.Repeat("x", 5000))
	for _, tc := range []struct {
		name string
		in   []byte
		dir  l7.Direction
		want l7.Verdict
	}{
		{"connect 3.1.1", connect(level311, "c1"), l7.ToServer, l7.Request},
		{"connect 3.1 to client", connect(level31, "c1"), l7.ToClient, l7.Request},
		{"connect 5", connect(level5, "c1"), l7.ToServer, l7.Request},
		{"connect prefix", connect(level311, "c1")[:9], l7.ToServer, l7.Request},
		{"connect level 9", newPkt(tConnect, 0).str("MQTT").u8(9, 2).u16(60).str("x").bytes(), l7.ToServer, l7.Request},
		{"connect other name", newPkt(tConnect, 0).str("MQTX").u8(4, 2).u16(60).str("x").bytes(), l7.ToServer, l7.No},
		{"connack", connack(false, 0), l7.ToServer, l7.Response},
		{"connack 5", connack(true, 0x87), l7.ToClient, l7.Response},
		{"connack bad code", connack(false, 9), l7.ToClient, l7.No},
		{"pingreq", pingreq, l7.ToClient, l7.Request},
		{"pingresp", pingresp, l7.ToServer, l7.Response},
		{"publish to server", publish(false, 1, 1, "a/b", "x"), l7.ToServer, l7.Request},
		{"publish to client", publish(false, 1, 1, "a/b", "x"), l7.ToClient, l7.Response},
		{"big publish cut", big[:1000], l7.ToServer, l7.Request},
		{"publish and puback", cat(publish(false, 0, 0, "t", "x"), ack(tPuback, 3)), l7.ToServer, l7.Request},
		{"publish wildcard", publish(false, 0, 0, "a/#", "x"), l7.ToServer, l7.No},
		{"publish control char", publish(false, 0, 0, "a\x01", "x"), l7.ToServer, l7.No},
		{"publish id 0", publish(false, 1, 0, "a", "x"), l7.ToServer, l7.No},
		{"publish qos 3", newPkt(tPublish, 6).str("a").u16(1).bytes(), l7.ToServer, l7.No},
		{"subscribe", subscribe(false, 1, "a/#", "b/+"), l7.ToServer, l7.Request},
		{"subscribe 5", subscribe(true, 1, "a/#"), l7.ToServer, l7.Request},
		{"suback", suback(false, 1, 0, 1, 0x80), l7.ToClient, l7.Response},
		{"then garbage", cat(pingreq, []byte{0, 1, 2}), l7.ToServer, l7.No},
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), l7.ToServer, l7.No},
		{"tls", []byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"), l7.ToServer, l7.No},
		{"redis", []byte("*1\r\n$4\r\nPING\r\n"), l7.ToServer, l7.No},
		{"redis reply", []byte("+OK\r\n"), l7.ToClient, l7.No},
		{"one byte", []byte{0x20}, l7.ToClient, l7.No},
		{"empty", nil, l7.ToServer, l7.No},
		{"five length bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, l7.ToServer, l7.No},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Check(tc.in, tc.dir, l7.TCP); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
		})
	}
	if v := d.Check(connect(level311, "c"), l7.ToServer, l7.UDP); v != l7.No {
		t.Errorf("UDP: %v", v)
	}
}

// msgLine renders the fields of a message the tests compare.
func msgLine(m *l7.Message) string {
	var b strings.Builder
	if m.Kind == l7.KindRequest {
		fmt.Fprintf(&b, "req %s", m.RequestType)
	} else {
		fmt.Fprintf(&b, "resp %s %s", m.Result, m.Status)
	}
	if m.HasID {
		fmt.Fprintf(&b, " id=%#x", m.ID)
	}
	if m.HasCode {
		fmt.Fprintf(&b, " code=%d", m.Code)
	}
	if len(m.RequestResource) > 0 {
		fmt.Fprintf(&b, " res=%s", m.RequestResource)
	}
	if len(m.RequestDomain) > 0 {
		fmt.Fprintf(&b, " dom=%s", m.RequestDomain)
	}
	if m.Reverse {
		b.WriteString(" reverse")
	}
	if m.NoResponse {
		b.WriteString(" noresp")
	}
	if len(m.Version) > 0 {
		fmt.Fprintf(&b, " v=%s", m.Version)
	}
	if len(m.TraceID) > 0 {
		fmt.Fprintf(&b, " trace=%s/%s", m.TraceID, m.SpanID)
	}
	fmt.Fprintf(&b, " len=%d", m.Length)
	return b.String()
}

func c2s(b ...[]byte) l7test.Chunk { return l7test.Chunk{Dir: l7.ToServer, Data: string(cat(b...))} }
func s2c(b ...[]byte) l7test.Chunk { return l7test.Chunk{Dir: l7.ToClient, Data: string(cat(b...))} }

func TestParser_Parse(t *testing.T) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	big := publish(false, 1, 9, "big", strings.Repeat("x", 10000))
	for _, tc := range []struct {
		name   string
		chunks []l7test.Chunk
		want   []string
		errs   int // parse errors (each followed by a gap)
	}{
		{"3.1.1 session", []l7test.Chunk{
			c2s(connect(level311, "dev-1")),
			s2c(connack(false, 0)),
			c2s(subscribe(false, 1, "a/#", "b/+")),
			s2c(suback(false, 1, 1, 0x80)),
			c2s(publish(false, 0, 0, "a/0", "zero"), publish(false, 1, 2, "a/1", "one"), publish(false, 2, 3, "a/2", "two")),
			s2c(ack(tPuback, 2), ack(tPubrec, 3)),
			c2s(ack(tPubrel, 3)),
			s2c(ack(tPubcomp, 3), publish(false, 1, 2, "a/1", "one")),
			c2s(ack(tPuback, 2), pingreq),
			s2c(pingresp),
			c2s(disconnect),
		}, []string{
			"req CONNECT dom=dev-1 v=3.1.1 len=19",
			"resp CONNACK Ok code=0 v=3.1.1 len=4",
			"req SUBSCRIBE id=0x30001 res=a/#,b/+ v=3.1.1 len=16",
			"resp SUBACK ServerError id=0x30001 code=128 v=3.1.1 len=6",
			"req PUBLISH res=a/0 noresp v=3.1.1 len=11",
			"req PUBLISH id=0x10002 res=a/1 v=3.1.1 len=12",
			"req PUBLISH id=0x10003 res=a/2 v=3.1.1 len=12",
			"resp PUBACK Ok id=0x10002 v=3.1.1 len=4",
			"resp PUBREC Ok id=0x10003 v=3.1.1 len=4",
			"req PUBREL id=0x20003 v=3.1.1 len=4",
			"resp PUBCOMP Ok id=0x20003 v=3.1.1 len=4",
			"req PUBLISH id=0x10002 res=a/1 reverse v=3.1.1 len=12",
			"resp PUBACK Ok id=0x10002 reverse v=3.1.1 len=4",
			"req PINGREQ v=3.1.1 len=2",
			"resp PINGRESP Ok v=3.1.1 len=2",
			"req DISCONNECT noresp v=3.1.1 len=2",
		}, 0},
		{"3.1", []l7test.Chunk{c2s(connect(level31, "old")), s2c(connack(false, 5))}, []string{
			"req CONNECT dom=old v=3.1 len=19",
			"resp CONNACK ClientError code=5 v=3.1 len=4",
		}, 0},
		{"server unavailable", []l7test.Chunk{c2s(connect(level311, "x")), s2c(connack(false, 3))}, []string{
			"req CONNECT dom=x v=3.1.1 len=15",
			"resp CONNACK ServerError code=3 v=3.1.1 len=4",
		}, 0},
		{"5 properties and aliases", []l7test.Chunk{
			c2s(connect(level5, "v5")),
			s2c(connack(true, 0)),
			c2s(publish(true, 1, 1, "t/long", "p1", topicAlias(3), userProp("traceparent", tp)),
				publish(true, 1, 2, "", "p2", topicAlias(3)),
				publish(true, 0, 0, "", "p3", topicAlias(4))),
			s2c(newPkt(tPuback, 0).u16(1).u8(0x10).bytes(), newPkt(tPuback, 0).u16(2).u8(0x87).props().bytes()),
			c2s(subscribe(true, 5, "s/#")),
			s2c(suback(true, 5, 0x97)),
			s2c(publish(true, 0, 0, "", "p4", topicAlias(3))),
		}, []string{
			"req CONNECT dom=v5 v=5 trace=0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331 len=93",
			"resp CONNACK Ok code=0 v=5 len=17",
			"req PUBLISH id=0x10001 res=t/long v=5 trace=4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7 len=89",
			"req PUBLISH id=0x10002 res=t/long v=5 len=12",
			"req PUBLISH noresp v=5 len=10",
			"resp PUBACK Ok id=0x10001 code=16 v=5 len=5",
			"resp PUBACK ClientError id=0x10002 code=135 v=5 len=6",
			"req SUBSCRIBE id=0x30005 res=s/# v=5 len=23",
			"resp SUBACK ServerError id=0x30005 code=151 v=5 len=6",
			// The broker's aliases are its own.
			"req PUBLISH reverse noresp v=5 len=10",
		}, 0},
		{"big publish skipped", []l7test.Chunk{c2s(big, pingreq)}, []string{
			"req PUBLISH id=0x10009 res=big len=10010",
			"req PINGREQ len=2",
		}, 0},
		// A capture starting inside packets: one error per direction,
		// then the bytes are skipped up to a packet that passes Check's
		// tests at the start of a chunk.
		{"mid-stream", []l7test.Chunk{
			c2s(big[100:2000]), c2s(big[2000:]),
			s2c([]byte{0xde, 0xad}),
			c2s(pingreq), s2c(pingresp),
		}, []string{
			"req PINGREQ len=2",
			"resp PINGRESP Ok len=2",
		}, 2},
		{"version from 5-only packets", []l7test.Chunk{
			s2c(newPkt(tPuback, 0).u16(1).u8(0x10).bytes(), publish(true, 1, 4, "after", "x")),
		}, []string{
			"resp PUBACK Ok id=0x10001 code=16 v=5 len=5",
			"req PUBLISH id=0x10004 res=after reverse v=5 len=13",
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, piece := range []int{0, 1, 3, 7} {
				var got []string
				_, errs := l7test.Feed(t, New(nil).NewParser(l7.TCP), tc.chunks, piece, func(m *l7.Message) {
					got = append(got, msgLine(m))
				})
				if errs != tc.errs {
					t.Errorf("piece %d: %d errors, want %d", piece, errs, tc.errs)
				}
				if want == nil {
					want = tc.want
				}
				l7test.CompareMessages(t, fmt.Sprintf("piece %d", piece), got, want)
			}
		})
	}
}

// TestParser_Errors checks the errors of packets whose framing is broken.
func TestParser_Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"type 0", []byte{0x00, 0x00}, ErrBadHeader},
		{"five length bytes", []byte{0xc0, 0x80, 0x80, 0x80, 0x80, 0x01}, ErrBadHeader},
		{"subscribe flags", newPkt(tSubscribe, 0).u16(1).str("a").u8(0).bytes(), ErrBadHeader},
		{"topic past the packet", newPkt(tPublish, 0).u16(9).u8('a').bytes(), ErrBadPacket},
		{"connect name", newPkt(tConnect, 0).str("HTTP").u8(4, 2).u16(60).str("x").bytes(), ErrBadPacket},
		{"suback short", newPkt(tSuback, 0).u8(1).bytes(), ErrBadPacket},
		{"too large", append([]byte{0x82, 0xff, 0xff, 0x7f}, make([]byte, 10)...), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(nil).NewParser(l7.TCP).(*Parser)
			// Decode a packet first: the next one is no longer checked
			// for resynchronisation, so its error is reported.
			var m l7.Message
			if _, ok, _ := p.Parse(pingreq, l7.ToServer, &m); !ok {
				t.Fatal("no PINGREQ")
			}
			_, ok, err := p.Parse(tc.in, l7.ToServer, &m)
			var pe *l7.ParseError
			if ok || !errors.Is(err, tc.want) || !errors.As(err, &pe) || pe.Protocol != Name || pe.Offset < 2 {
				t.Fatalf("Parse = %v, %v; want %v in a *l7.ParseError at offset >= 2", ok, err, tc.want)
			}
			if !errors.Is(err, l7.ErrMalformed) {
				t.Errorf("%v does not match l7.ErrMalformed", err)
			}
			// After the gap the engine reports, the bytes are skipped
			// until a packet the parser recognises.
			p.Gap(l7.ToServer, -1)
			if n, ok, err := p.Parse(tc.in, l7.ToServer, &m); n != len(tc.in) || ok || err != nil {
				t.Errorf("after the gap: %d, %v, %v; want %d skipped", n, ok, err, len(tc.in))
			}
		})
	}
}

// TestParser_GapInPayload checks that a gap inside the payload of a big
// PUBLISH keeps the framing.
func TestParser_GapInPayload(t *testing.T) {
	big := publish(false, 1, 9, "big", strings.Repeat("x", 10000))
	p := New(nil).NewParser(l7.TCP).(*Parser)
	var m l7.Message
	// The message ends at its header (fixed header 3, topic 5, id 2).
	n, ok, err := p.Parse(big[:3000], l7.ToServer, &m)
	if n != 10 || !ok || err != nil || m.Length != len(big) {
		t.Fatalf("Parse = %d, %v, %v, length %d", n, ok, err, m.Length)
	}
	if !p.Trailing(l7.ToServer) {
		t.Error("payload not trailing")
	}
	if n, ok, err = p.Parse(big[10:3000], l7.ToServer, &m); n != 2990 || ok || err != nil {
		t.Fatalf("payload: %d, %v, %v", n, ok, err)
	}
	p.Gap(l7.ToServer, 5000)
	rest := cat(big[8000:], pingreq)
	n, ok, err = p.Parse(rest, l7.ToServer, &m)
	if n != len(big)-8000 || ok || err != nil {
		t.Fatalf("rest of the payload: %d, %v, %v", n, ok, err)
	}
	m.Reset()
	if n, ok, err = p.Parse(pingreq, l7.ToServer, &m); n != 2 || !ok || string(m.RequestType) != "PINGREQ" {
		t.Fatalf("next packet: %d, %v, %v, %s", n, ok, err, m.RequestType)
	}
}

func TestCodeStatus(t *testing.T) {
	for _, tc := range []struct {
		code byte
		v3   bool
		want l7.Status
	}{
		{0, true, l7.StatusOk}, {1, true, l7.StatusClientError}, {2, true, l7.StatusClientError},
		{3, true, l7.StatusServerError}, {4, true, l7.StatusClientError}, {5, true, l7.StatusClientError},
		{0, false, l7.StatusOk}, {2, false, l7.StatusOk}, {0x10, false, l7.StatusOk}, {0x11, false, l7.StatusOk},
		{0x80, false, l7.StatusServerError}, {0x81, false, l7.StatusClientError}, {0x86, false, l7.StatusClientError},
		{0x87, false, l7.StatusClientError}, {0x88, false, l7.StatusServerError}, {0x89, false, l7.StatusServerError},
		{0x8f, false, l7.StatusClientError}, {0x97, false, l7.StatusServerError}, {0x9f, false, l7.StatusServerError},
	} {
		if got := codeStatus(tc.code, tc.v3); got != tc.want {
			t.Errorf("codeStatus(%#x, %v) = %v, want %v", tc.code, tc.v3, got, tc.want)
		}
	}
}

// TestParser_GapToPayloadEnd checks that a gap ending where the payload of
// a big PUBLISH ends leaves the next packet decoded.
func TestParser_GapToPayloadEnd(t *testing.T) {
	big := publish(false, 0, 0, "big", strings.Repeat("x", 10000))
	p := New(nil).NewParser(l7.TCP).(*Parser)
	var m l7.Message
	n, ok, _ := p.Parse(big[:1000], l7.ToServer, &m)
	if !ok {
		t.Fatal("no PUBLISH")
	}
	p.Gap(l7.ToServer, len(big)-n)
	if p.Trailing(l7.ToServer) {
		t.Error("trailing after the payload")
	}
	m.Reset()
	if n, ok, err := p.Parse(pingreq, l7.ToServer, &m); n != 2 || !ok || err != nil {
		t.Fatalf("next packet: %d, %v, %v", n, ok, err)
	}
}
