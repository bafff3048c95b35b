package l7_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/l7"
)

// weakDecoder reads lineDecoder's protocol but, like Redis with inline
// commands, cannot tell its requests from another text protocol's: Check
// says WeakRequest for them.
type weakDecoder struct{ lineDecoder }

func (weakDecoder) Name() string { return "WEAK" }

func (weakDecoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if v := (lineDecoder{}).Check(p, dir, t); v != l7.Request {
		return v
	}
	return l7.WeakRequest
}

func TestEngine_WeakRequest(t *testing.T) {
	t.Run("a later decoder's Request wins", func(t *testing.T) {
		h := newHarness(t, l7.Config{}, weakDecoder{}, lineDecoder{})
		c := h.open(1)
		c.Data(l7.ToServer, 1*ms, 1, []byte("GET a\n"))
		if p := c.Protocol(); p != "LINE" {
			t.Errorf("protocol %q, want LINE", p)
		}
		if st := h.eng.Stats(); st.WeakRejected != 1 {
			t.Errorf("weak rejected %d, want 1", st.WeakRejected)
		}
		c.Close(2 * ms)
	})
	t.Run("alone it decides nothing", func(t *testing.T) {
		h := newHarness(t, l7.Config{}, weakDecoder{})
		c := h.open(1)
		c.Data(l7.ToServer, 1*ms, 1, []byte("GET a\n"))
		c.Data(l7.ToServer, 2*ms, 7, []byte("GET b\n"))
		if p := c.Protocol(); p != "" {
			t.Errorf("protocol %q, want none", p)
		}
		if sum := c.Close(3 * ms); sum != (l7.ConnSummary{}) {
			t.Errorf("summary %+v, want nothing", sum)
		}
		h.expect()
	})
	t.Run("a port hint names it", func(t *testing.T) {
		h := newHarness(t, l7.Config{PortHints: map[uint16]string{srv.Port(): "WEAK"}}, weakDecoder{}, lineDecoder{})
		c := h.open(1)
		c.Data(l7.ToServer, 1*ms, 1, []byte("GET a\n"))
		c.Data(l7.ToClient, 2*ms, 1, []byte("+A\n"))
		if p := c.Protocol(); p != "WEAK" {
			t.Errorf("protocol %q, want WEAK", p)
		}
		c.Close(3 * ms)
		h.expect("GET a|A|Ok")
	})
	t.Run("the endpoint cache names it", func(t *testing.T) {
		h := newHarness(t, l7.Config{}, weakDecoder{}, renamed{lineDecoder{}, "LATER"})
		// A response (a greeting here) is unambiguous: the flow and its
		// endpoint are WEAK.
		c := h.eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP, Oriented: true}, 0)
		c.Data(l7.ToClient, 1*ms, 1, []byte("+hi\n"))
		c.Data(l7.ToServer, 2*ms, 1, []byte("GET a\n"))
		c.Data(l7.ToClient, 3*ms, 5, []byte("+A\n"))
		c.Close(3 * ms)
		// The next flow to that server starts with a request: the cache
		// vouches for it, though LATER would take it too.
		c = h.open(2)
		c.Data(l7.ToServer, 4*ms, 1, []byte("GET b\n"))
		if p := c.Protocol(); p != "WEAK" {
			t.Errorf("protocol %q, want WEAK (cached)", p)
		}
		c.Data(l7.ToClient, 5*ms, 1, []byte("+B\n"))
		c.Close(6 * ms)
		h.expect("|hi|Ok", "GET a|A|Ok", "GET b|B|Ok")
		if st := h.eng.Stats(); st.InferCacheHits != 1 {
			t.Errorf("cache hits %d, want 1", st.InferCacheHits)
		}
	})
}

// wrongDecoder claims any text line as a request and reads requests, but
// no response: it stands for a decoder that inference chose wrongly.
type wrongDecoder struct{}

func (wrongDecoder) Name() string { return "WRONG" }

func (wrongDecoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if len(p) > 0 && p[0] >= 'A' && p[0] <= 'Z' {
		return l7.Request
	}
	return l7.No
}

func (wrongDecoder) NewParser(l7.Transport) l7.Parser { return &wrongParser{} }

type wrongParser struct{}

func (*wrongParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return 0, false, l7.ErrNeedMore
	}
	if dir == l7.ToClient {
		return i + 1, false, &l7.ParseError{Protocol: "WRONG", Err: l7.ErrMalformed}
	}
	m.Kind = l7.KindRequest
	m.RequestType = data[:i]
	return i + 1, true, nil
}

func (*wrongParser) Gap(l7.Direction, int) {}

// converse sends requests and answers in turn.
func converse(c *l7.Conn, ts int64, pairs ...string) int64 {
	var seq [2]uint32
	for i, s := range pairs {
		dir := l7.Direction(i & 1)
		ts += ms
		c.Data(dir, ts, seq[dir], []byte(s))
		seq[dir] += uint32(len(s))
	}
	return ts
}

func TestEngine_Reinfer(t *testing.T) {
	h := newHarness(t, l7.Config{InferBackoff: 10 * time.Second}, wrongDecoder{}, lineDecoder{})
	c := h.open(1)
	ts := converse(c, 0, "GET a\n", "+A\n", "GET b\n", "+B\n", "GET c\n", "+C\n")
	// Three responses in a row failed: the decoder is abandoned, the
	// three requests waiting on it come out with status Unknown, not
	// Timeout, and the flow is inferred again.
	if p := c.Protocol(); p != "" {
		t.Errorf("protocol %q after the errors, want none yet", p)
	}
	ts = converse(c, ts, "GET d\n", "+D\n")
	if p := c.Protocol(); p != "LINE" {
		t.Errorf("protocol %q, want LINE", p)
	}
	sum := c.Close(ts + ms)
	h.expect("GET a||Unknown", "GET b||Unknown", "GET c||Unknown", "GET d|D|Ok")
	if want := (l7.ConnSummary{L7Protocol: "LINE", Requests: 4, Responses: 1}); sum != want {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	st := h.eng.Stats()
	if st.Reinferred != 1 || st.AbandonedRequests != 3 || st.Timeouts != 0 || st.ParseErrors != 3 ||
		st.Protocols[0].Reinferred != 1 || st.PendingSessions != 0 {
		t.Errorf("reinferred %d abandoned %d timeouts %d parse errors %d WRONG reinferred %d pending %d, want 1 3 0 3 1 0",
			st.Reinferred, st.AbandonedRequests, st.Timeouts, st.ParseErrors, st.Protocols[0].Reinferred, st.PendingSessions)
	}

	// The endpoint avoids the abandoned decoder: the next flow to it is
	// LINE from its first bytes.
	c = h.open(2)
	ts = converse(c, ts, "GET e\n", "+E\n")
	if p := c.Protocol(); p != "LINE" {
		t.Errorf("next flow: protocol %q, want LINE", p)
	}
	c.Close(ts)
	// Another server is not concerned.
	c = h.eng.Open(l7.ConnInfo{ID: 3, Client: cli, Server: srv2, Transport: l7.TCP}, ts)
	converse(c, ts, "GET f\n")
	if p := c.Protocol(); p != "WRONG" {
		t.Errorf("other server: protocol %q, want WRONG", p)
	}
	c.Close(ts)
}

var srv2 = netip.AddrPortFrom(srv.Addr().Next(), srv.Port())

func TestEngine_ReinferThreshold(t *testing.T) {
	t.Run("errors between messages are not in a row", func(t *testing.T) {
		h := newHarness(t, l7.Config{})
		c := h.open(1)
		c.Data(l7.ToServer, 1*ms, 0, []byte("GET a\nGET b\nGET c\n"))
		// lineParser rejects an empty line and skips the next line
		// after an error; an error drops the rest of the chunk.
		for i, s := range []string{"\n", "s\n", "+A\n", "\n", "s\n", "\n", "s\n", "+B\n", "\n", "s\n", "+C\n"} {
			c.Data(l7.ToClient, int64(2+i)*ms, 0, []byte(s))
		}
		c.Close(20 * ms)
		h.expect("GET a|A|Ok", "GET b|B|Ok", "GET c|C|Ok")
		if st := h.eng.Stats(); st.Reinferred != 0 || st.ParseErrors != 4 {
			t.Errorf("reinferred %d parse errors %d, want 0 4", st.Reinferred, st.ParseErrors)
		}
	})
	t.Run("negative: never", func(t *testing.T) {
		h := newHarness(t, l7.Config{ReinferAfterErrors: -1}, wrongDecoder{}, lineDecoder{})
		c := h.open(1)
		ts := converse(c, 0, "GET a\n", "+A\n", "GET b\n", "+B\n", "GET c\n", "+C\n", "GET d\n", "+D\n")
		if p := c.Protocol(); p != "WRONG" {
			t.Errorf("protocol %q, want WRONG", p)
		}
		c.Close(ts)
		// The replies were there but failed to parse: the requests
		// come out as Unknown at the end, not as Timeout.
		h.expect("GET a||Unknown", "GET b||Unknown", "GET c||Unknown", "GET d||Unknown")
		if st := h.eng.Stats(); st.Reinferred != 0 || st.Timeouts != 0 || st.AbandonedRequests != 4 {
			t.Errorf("reinferred %d timeouts %d abandoned %d, want 0 0 4", st.Reinferred, st.Timeouts, st.AbandonedRequests)
		}
	})
	t.Run("one", func(t *testing.T) {
		h := newHarness(t, l7.Config{ReinferAfterErrors: 1}, wrongDecoder{}, lineDecoder{})
		c := h.open(1)
		ts := converse(c, 0, "GET a\n", "+A\n", "GET b\n", "+B\n")
		sum := c.Close(ts)
		h.expect("GET a||Unknown", "GET b|B|Ok")
		if sum.L7Protocol != "LINE" {
			t.Errorf("protocol %q, want LINE", sum.L7Protocol)
		}
	})
}

func TestEngine_ReinferUDP(t *testing.T) {
	h := newHarness(t, l7.Config{}, wrongDecoder{}, lineDecoder{})
	c := h.eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.UDP}, 0)
	ts := converse(c, 0, "GET a\n", "+A\n", "GET b\n", "+B\n", "GET c\n", "+C\n", "GET d\n", "+D\n")
	c.Close(ts)
	h.expect("GET a||Unknown", "GET b||Unknown", "GET c||Unknown", "GET d|D|Ok")
}

func TestEngine_ReinferFindsNothing(t *testing.T) {
	h := newHarness(t, l7.Config{}, wrongDecoder{})
	c := h.open(1)
	ts := converse(c, 0, "GET a\n", "+A\n", "GET b\n", "+B\n", "GET c\n", "+C\n", "GET d\n", "+D\n")
	sum := c.Close(ts)
	h.expect("GET a||Unknown", "GET b||Unknown", "GET c||Unknown")
	if want := (l7.ConnSummary{L7Protocol: "WRONG", Requests: 3}); sum != want {
		t.Errorf("summary %+v, want %+v (the records' protocol)", sum, want)
	}
}

func TestEngine_ReinferShortFlows(t *testing.T) {
	h := newHarness(t, l7.Config{}, wrongDecoder{}, lineDecoder{})
	// One command per connection, as command-line clients do: no flow
	// sees three errors, but their server endpoint does.
	var ts int64
	for id := uint64(1); id <= 3; id++ {
		c := h.open(id)
		ts = converse(c, ts, "GET a\n", "+A\n")
		c.Close(ts)
	}
	c := h.open(4)
	ts = converse(c, ts, "GET d\n", "+D\n")
	if p := c.Protocol(); p != "LINE" {
		t.Errorf("fourth flow: protocol %q, want LINE", p)
	}
	c.Close(ts)
	// Replies that failed to parse are no Timeout, even at close.
	h.expect("GET a||Unknown", "GET a||Unknown", "GET a||Unknown", "GET d|D|Ok")
	if st := h.eng.Stats(); st.Reinferred != 1 || st.Timeouts != 0 {
		t.Errorf("reinferred %d timeouts %d, want 1 0", st.Reinferred, st.Timeouts)
	}

	// Garbage requests on short flows do not ban the server's protocol:
	// a scanner's bytes say nothing about the server.
	h = newHarness(t, l7.Config{}, lineDecoder{})
	for id := uint64(1); id <= 5; id++ {
		c := h.open(id)
		ts = converse(c, ts, "GET a\n\n", "+A\n")
		c.Close(ts)
	}
	if st := h.eng.Stats(); st.Reinferred != 0 || st.ParseErrors != 5 {
		t.Errorf("garbage requests: reinferred %d parse errors %d, want 0 5", st.Reinferred, st.ParseErrors)
	}
}

func TestEngine_TimeoutAfterBadReply(t *testing.T) {
	h := newHarness(t, l7.Config{SessionTimeout: time.Second})
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 0, []byte("GET a\nGET b\n"))
	c.Data(l7.ToClient, 2*ms, 0, []byte("\n")) // lineParser rejects an empty line
	// The session timeout passes with the flow still open: the reply
	// that failed to parse makes the requests Unknown, not Timeout.
	h.eng.Advance(2e9)
	h.expect("GET a||Unknown", "GET b||Unknown")
	c.Data(l7.ToServer, 3e9, 12, []byte("GET c\n"))
	h.eng.Advance(5e9)
	c.Close(5e9)
	h.expect("GET a||Unknown", "GET b||Unknown", "GET c||Unknown")
	// A reply that parsed since makes a later silence a Timeout again.
	c = h.open(2)
	c.Data(l7.ToServer, 6e9, 0, []byte("GET d\nGET e\n"))
	c.Data(l7.ToClient, 6e9, 0, []byte("\n"))
	c.Data(l7.ToClient, 6e9, 1, []byte("s\n+D\n"))
	h.eng.Advance(8e9)
	c.Close(8e9)
	h.expect("GET a||Unknown", "GET b||Unknown", "GET c||Unknown", "GET d|D|Ok", "GET e||Timeout")
}

// hintedWeak is weakDecoder declaring its own port.
type hintedWeak struct{ weakDecoder }

func (hintedWeak) PortHints() []uint16 { return []uint16{srv.Port()} }

func TestEngine_DecoderPortHints(t *testing.T) {
	// The decoder's own port hint lets it take its WeakRequest there.
	h := newHarness(t, l7.Config{}, lineDecoder{}, hintedWeak{})
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 0, []byte("GET a\n"))
	if p := c.Protocol(); p != "WEAK" {
		t.Errorf("protocol %q, want WEAK (its own hint)", p)
	}
	c.Close(2 * ms)
	// A hint of the Config for the port wins over the decoder's.
	h = newHarness(t, l7.Config{PortHints: map[uint16]string{srv.Port(): "LINE"}}, hintedWeak{}, lineDecoder{})
	c = h.open(1)
	c.Data(l7.ToServer, 1*ms, 0, []byte("GET a\n"))
	if p := c.Protocol(); p != "LINE" {
		t.Errorf("protocol %q, want LINE (the Config's hint)", p)
	}
	c.Close(2 * ms)
}
