package l7_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// pubDecoder is a protocol where both sides publish: "PUB <id>" is a
// request from either side, answered by "ACK <id>" from the other, and
// "PING" is answered by "PONG" in order, as in MQTT.
type pubDecoder struct{}

func (pubDecoder) Name() string { return "PUB" }

func (pubDecoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if bytes.HasPrefix(p, []byte("PING\n")) || bytes.HasPrefix(p, []byte("PUB ")) {
		return l7.Request
	}
	return l7.No
}

func (pubDecoder) NewParser(l7.Transport) l7.Parser { return pubParser{} }

type pubParser struct{}

func (pubParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return 0, false, l7.ErrNeedMore
	}
	verb, arg, _ := bytes.Cut(data[:i], []byte(" "))
	if len(arg) > 0 {
		id, err := strconv.Atoi(string(arg))
		if err != nil {
			return i + 1, false, l7.ErrMalformed
		}
		m.ID, m.HasID = uint64(id), true
	}
	switch string(verb) {
	case "PUB", "PING":
		m.Kind = l7.KindRequest
		m.RequestType, m.RequestResource = verb, arg
		m.Reverse = dir == l7.ToClient
	case "ACK", "PONG":
		m.Kind = l7.KindResponse
		m.Result = data[:i]
		m.Reverse = dir == l7.ToServer
	default:
		return i + 1, false, l7.ErrMalformed
	}
	return i + 1, true, nil
}

func (pubParser) Gap(l7.Direction, int) {}

// TestEngine_Reverse checks that requests the server sends pair with the
// client's answers, apart from the client's own requests with the same ids,
// and that requests paired by order and by id share a flow.
func TestEngine_Reverse(t *testing.T) {
	h := newHarness(t, l7.Config{}, pubDecoder{})
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 100, []byte("PUB 5\nPING\n"))
	c.Data(l7.ToClient, 2*ms, 500, []byte("PUB 5\n"))
	c.Data(l7.ToClient, 3*ms, 506, []byte("PONG\nACK 5\n"))
	c.Data(l7.ToServer, 4*ms, 111, []byte("ACK 5\nACK 7\n"))
	c.Data(l7.ToClient, 5*ms, 517, []byte("PUB 6\n"))
	sum := c.Close(6 * ms)
	h.expect("PING|PONG|Ok", "PUB 5|ACK 5|Ok", "PUB 5|ACK 5|Ok", "|ACK 7|Ok", "PUB 6||Unknown")
	for i, want := range []struct {
		reqSeq, respSeq uint32
		start, end      int64
	}{{106, 506, 1 * ms, 3 * ms}, {100, 511, 1 * ms, 3 * ms}, {500, 111, 2 * ms, 4 * ms}} {
		r := h.recs[i]
		if r.reqSeq != want.reqSeq || r.respSeq != want.respSeq || r.start != want.start || r.end != want.end {
			t.Errorf("record %d: %+v, want seq %d/%d time %d..%d", i, r, want.reqSeq, want.respSeq, want.start, want.end)
		}
		if r.client != cli {
			t.Errorf("record %d: client %v, want %v (a reverse request keeps the client)", i, r.client, cli)
		}
	}
	want := l7.ConnSummary{L7Protocol: "PUB", Requests: 4, Responses: 4}
	if sum != want {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
}
