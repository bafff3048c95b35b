package mqtt

import (
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// serverPorts are the MQTT broker ports of the captures.
var serverPorts = map[string]bool{"1883": true, "17483": true, "17484": true}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// Packets that start an exchange, and those that answer one (with the
// request type they answer; "" by order).
var (
	requestTypes = map[string]bool{"CONNECT": true, "PUBLISH": true, "PUBREL": true, "SUBSCRIBE": true,
		"UNSUBSCRIBE": true, "PINGREQ": true, "DISCONNECT": true, "AUTH": true}
	answers = map[string][]string{"CONNACK": {"CONNECT"}, "PINGRESP": {"PINGREQ"},
		"PUBACK": {"PUBLISH"}, "PUBREC": {"PUBLISH"}, "PUBCOMP": {"PUBREL"},
		"SUBACK": {"SUBSCRIBE"}, "UNSUBACK": {"UNSUBSCRIBE"}}
	serverCodes = map[int]bool{0x80: true, 0x83: true, 0x88: true, 0x89: true, 0x8b: true,
		0x97: true, 0x9c: true, 0x9d: true, 0x9f: true}
)

// expectStatus is the documented status of a response with code (as the
// decoder reports it), on a connection of protocol level level.
func expectStatus(typ, code, level string) string {
	if code == "" {
		return "Ok"
	}
	n, _ := strconv.Atoi(code)
	if typ == "CONNACK" && level != "5" {
		switch n {
		case 0:
			return "Ok"
		case 3:
			return "ServerError"
		}
		return "ClientError"
	}
	switch {
	case n < 0x80:
		return "Ok"
	case serverCodes[n]:
		return "ServerError"
	}
	return "ClientError"
}

type pendingReq struct {
	typ, id string
	reverse bool
	line    string
}

// expectRecords pairs the packets of a golden as the package documents,
// independently of the engine, and renders the records they make as
// recordLine does.
func expectRecords(rows [][]string) []string {
	type conn struct {
		client  string
		level   string
		pending []pendingReq
	}
	conns := map[string]*conn{}
	var out []string
	var order []*conn
	for _, f := range rows {
		src, dst := f[gSrc], f[gDst]
		key := min(src, dst) + " " + max(src, dst)
		c := conns[key]
		if c == nil {
			c = &conn{client: src}
			if serverPorts[port(src)] && !serverPorts[port(dst)] {
				c.client = dst
			}
			conns[key] = c
			order = append(order, c)
		}
		typ, id := f[gType], f[gID]
		if typ == "CONNECT" {
			c.client, c.level = src, f[gVersion]
		}
		reverse := src != c.client
		if requestTypes[typ] {
			line := c.client + "|" + typ + " " + id + " " + f[gTopics] + " " + f[gClientID]
			if typ == "PUBLISH" && id == "" || typ == "DISCONNECT" || typ == "AUTH" {
				out = append(out, line+"||")
				continue
			}
			c.pending = append(c.pending, pendingReq{typ, id, reverse, line})
			continue
		}
		code := expectCode(f[gCodes])
		resp := typ + " " + code + "|" + expectStatus(typ, code, c.level)
		matched := false
		for i, p := range c.pending {
			if p.reverse == !reverse && p.typ == answers[typ][0] && p.id == id {
				out = append(out, p.line+"|"+resp)
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				matched = true
				break
			}
		}
		if !matched {
			out = append(out, c.client+"|"+" "+id+"  |"+resp)
		}
	}
	for _, c := range order {
		for _, p := range c.pending {
			// Still waiting when the capture ends, before the
			// session timeout: Unknown (RECORDS.md).
			out = append(out, p.line+"||Unknown")
		}
	}
	return out
}

// recordLine renders an l7_flow_log record: the client, the request's
// type, id, resource and domain, the response's type and code, the status.
func recordLine(r *l7.Record) string {
	id, code, status := "", "", ""
	if r.HasRequestID {
		id = strconv.Itoa(int(r.RequestID))
	}
	if r.HasResponseCode {
		code = strconv.Itoa(int(r.ResponseCode))
	}
	if r.HasStatus {
		status = r.Status.String()
	}
	resp := ""
	if r.HasResponse {
		resp = string(r.ResponseResult) + " " + code
	}
	return r.Client.String() + "|" + string(r.RequestType) + " " + id + " " + string(r.RequestResource) + " " +
		string(r.RequestDomain) + "|" + resp + "|" + status
}

func registry(t testing.TB) *l7.Registry {
	reg, err := l7.NewRegistry(New(nil))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestRecords runs each capture through the whole pipeline (decode, flow
// table, engine) and compares the l7_flow_log records with those the
// golden's packets make when paired as documented: every packet tshark
// sees is in a record, the MQTT client is _0 in every record (a broker's
// PUBLISH to a subscriber included), and PUBLISH ids reused by both sides
// at once do not mix.
func TestRecords(t *testing.T) {
	for _, c := range captures(t) {
		t.Run(c.name, func(t *testing.T) {
			want := expectRecords(goldenRows(t, c.golden))
			// The burst of mqtt-v311.pcap has 20 PUBLISH in flight
			// (mosquitto's default window), above the engine's default
			// MaxPendingPerFlow of 16.
			res := l7test.Run(t, c.pcap, l7.Config{Registry: registry(t), MaxPendingPerFlow: 64})
			var got []string
			for i := range res.Records {
				r := &res.Records[i]
				if r.L7Protocol != Name {
					t.Errorf("record with l7_protocol %q", r.L7Protocol)
				}
				got = append(got, recordLine(r))
			}
			l7test.CompareMultiset(t, "records", got, want)
			if n := res.Stats.ParseErrors; n > 0 {
				t.Errorf("%d parse errors", n)
			}
		})
	}
}

// TestRecords_Tracing checks the tracing ids MQTT 5 user properties carry
// in the recorded capture, on the publisher's PUBLISH and on the broker's
// copy to the subscriber (mosquitto forwards user properties).
func TestRecords_Tracing(t *testing.T) {
	res := l7test.Run(t, "testdata/mqtt-v5.pcap", l7.Config{Registry: registry(t)})
	want := map[string]string{
		"v5/q1": "4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 ",
		"v5/q2": "abcdef123456 segment1-3 ",
		"v5/b3": "80f198ee56343ba864fe8b2a57d3eff7 e457b5a2e4d86bd1 05e3ac9a4f6e3b90",
	}
	seen := map[string]int{}
	for i := range res.Records {
		r := &res.Records[i]
		topic := string(r.RequestResource)
		if string(r.RequestType) != "PUBLISH" {
			continue
		}
		got := string(r.TraceID) + " " + string(r.SpanID) + " " + string(r.ParentSpanID)
		if w, ok := want[topic]; ok {
			seen[topic]++
			if got != w {
				t.Errorf("%s: trace %q, want %q", topic, got, w)
			}
			if string(r.Version) != "5" {
				t.Errorf("%s: version %q", topic, r.Version)
			}
		} else if got != "  " {
			t.Errorf("%s: trace %q, want none", topic, got)
		}
	}
	for topic := range want {
		// The publisher's PUBLISH, and the copies to the subscribers at
		// QoS 2 on v5/# and at QoS 1 on v5/q2.
		n := 2
		if topic == "v5/q2" {
			n = 3
		}
		if seen[topic] != n {
			t.Errorf("%s: %d PUBLISH records, want %d", topic, seen[topic], n)
		}
	}
}
