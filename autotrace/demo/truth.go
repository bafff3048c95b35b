package demo

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/metaflow-go/metaflow/autotrace"
)

// ErrNotSupported is returned by Run where the demo cannot run (not
// Linux).
var ErrNotSupported = errors.New("demo: not supported on this platform")

// Truth is one ground-truth line: an inbound request a service handled and
// the outbound calls it made while handling it, as the service itself saw
// them. The load generator writes one line per request it sent, with no
// inbound side and that request as its only call.
//
// JSON keys: service (client, nginx, python, go, dns), kind (load, proxy,
// thread-per-request, goroutines, dns-server), pid, tid (the serving
// thread, Python only), id (unique in a file), protocol, local and remote
// (ip:port of the inbound connection on the service's side and the
// peer's), start and end (RFC 3339 with ns, UTC: request read begins ...
// response written), request ("GET /path", "A name."), status,
// x_request_id, calls.
type Truth struct {
	Service    string `json:"service"`
	Kind       string `json:"kind"`
	PID        int    `json:"pid"`
	TID        int    `json:"tid,omitempty"`
	ID         string `json:"id"`
	Protocol   string `json:"protocol,omitempty"`
	Local      string `json:"local,omitempty"`
	Remote     string `json:"remote,omitempty"`
	Start      string `json:"start,omitempty"`
	End        string `json:"end,omitempty"`
	Request    string `json:"request,omitempty"`
	Status     int    `json:"status,omitempty"`
	XRequestID string `json:"x_request_id,omitempty"`
	Calls      []Call `json:"calls"`
}

// Call is one outbound call: protocol (HTTP, DNS, Redis, MySQL), local and
// remote ip:port of the caller's socket, start and end as the caller timed
// them, request (for MySQL, "login" is the connection's handshake),
// goroutine (Go only: "handler" for the request's goroutine, "child" for
// one it started), error when it failed, and approx when the times are
// estimates (nginx: millisecond log fields).
type Call struct {
	Protocol  string `json:"protocol"`
	Local     string `json:"local"`
	Remote    string `json:"remote"`
	Start     string `json:"start"`
	End       string `json:"end"`
	Request   string `json:"request"`
	Goroutine string `json:"goroutine,omitempty"`
	Error     string `json:"error,omitempty"`
	Approx    bool   `json:"approx,omitempty"`
}

// ReadTruth reads ground-truth JSON Lines. Empty lines are skipped; a line
// that is not a Truth object is an error naming its number.
func ReadTruth(r io.Reader) ([]Truth, error) {
	var out []Truth
	err := eachLine(r, func(n int, line []byte) error {
		var t Truth
		if err := json.Unmarshal(line, &t); err != nil {
			return fmt.Errorf("demo: truth line %d: %w", n, err)
		}
		if t.Service == "" {
			return fmt.Errorf("demo: truth line %d: no service", n)
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// Record is the part of an observed record (an examples/agent JSON line,
// stamped by Run with its capture point) that matching needs.
//
// Tap is "ebpf" for the eBPF agent or the namespace's role ("nginx",
// "python", "go", "db") for a packet agent; TapSide is DeepFlow's: "c-p" /
// "s-p" for the client's or server's process (eBPF), "c" / "s" for the
// client's or server's interface (packets).
type Record struct {
	Type       string `json:"type"`
	Tap        string `json:"tap"`
	TapSide    string `json:"tap_side"`
	StartTime  string `json:"start_time"`
	EndTime    string `json:"end_time"`
	IP0        string `json:"ip_0"`
	IP1        string `json:"ip_1"`
	ClientPort uint16 `json:"client_port"`
	ServerPort uint16 `json:"server_port"`
	Protocol   string `json:"protocol"`
	L7Protocol string `json:"l7_protocol"`
	Resource   string `json:"request_resource"`
}

// ReadRecords reads observed JSON Lines and keeps the l7_flow_log records.
func ReadRecords(r io.Reader) ([]Record, error) {
	var out []Record
	err := eachLine(r, func(n int, line []byte) error {
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("demo: record line %d: %w", n, err)
		}
		if rec.Type == "l7_flow_log" {
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

func eachLine(r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// HopCoverage counts, for one kind of call (Hop: "caller->PROTOCOL
// callee"), how many the ground truth holds and how many an observed
// record matches, in total and per capture point (tap/tap_side).
type HopCoverage struct {
	Hop     string
	Calls   int
	Covered int            // matched at one capture point at least
	ByTap   map[string]int // "ebpf/c-p", "python/c", ...: calls matched there
}

// Coverage is the result of Cover: one HopCoverage per hop, sorted by hop,
// and the calls no record matched (at most 20 kept, for messages).
type Coverage struct {
	Hops    []HopCoverage
	Missed  []string
	Unknown int // calls whose addresses or times do not parse
}

// Cover matches every call of the ground truth (and every inbound request
// a service logged, as the call its peer made) to observed l7_flow_log
// records: same client and server address and port, same l7 protocol, and
// a record start within
// [start-tol, end+tol] of the call. Each record matches at most one call;
// among candidates the one starting nearest to the call's start wins.
// Failed calls and MySQL logins (which make no record) are not counted.
// Inbound requests may start up to a second before the service's logged
// start (inboundEarly).
func Cover(truths []Truth, recs []Record, tol time.Duration) Coverage {
	type key struct {
		tap          string
		client, serv netip.AddrPort
		proto        string
	}
	type cand struct {
		start time.Time
		used  bool
	}
	idx := map[key][]*cand{}
	taps := map[string]bool{}
	for _, r := range recs {
		c, err1 := netip.ParseAddr(r.IP0)
		s, err2 := netip.ParseAddr(r.IP1)
		st, err3 := time.Parse(time.RFC3339Nano, r.StartTime)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		tap := r.Tap + "/" + r.TapSide
		taps[tap] = true
		k := key{tap, netip.AddrPortFrom(c, r.ClientPort), netip.AddrPortFrom(s, r.ServerPort), r.L7Protocol}
		idx[k] = append(idx[k], &cand{start: st})
	}
	hops := map[string]*HopCoverage{}
	var cov Coverage
	match := func(hop, proto, local, remote, start, end string, early time.Duration) {
		h := hops[hop]
		if h == nil {
			h = &HopCoverage{Hop: hop, ByTap: map[string]int{}}
			hops[hop] = h
		}
		h.Calls++
		cl, err1 := netip.ParseAddrPort(local)
		sv, err2 := netip.ParseAddrPort(remote)
		st, err3 := time.Parse(time.RFC3339Nano, start)
		en, err4 := time.Parse(time.RFC3339Nano, end)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			cov.Unknown++
			return
		}
		lo, hi := st.Add(-tol-early), en.Add(tol)
		hit := false
		for tap := range taps {
			var best *cand
			for _, c := range idx[key{tap, cl, sv, proto}] {
				if c.used || c.start.Before(lo) || c.start.After(hi) {
					continue
				}
				if best == nil || absDur(c.start.Sub(st)) < absDur(best.start.Sub(st)) {
					best = c
				}
			}
			if best != nil {
				best.used = true
				h.ByTap[tap]++
				hit = true
			}
		}
		if hit {
			h.Covered++
		} else if len(cov.Missed) < 20 {
			cov.Missed = append(cov.Missed, fmt.Sprintf("%s %s %s->%s at %s", hop, proto, local, remote, start))
		}
	}
	// Calls first, then (each record usable again) the inbound requests:
	// most are also a caller's call, seen from the other end.
	for _, t := range truths {
		for _, c := range t.Calls {
			if c.Error != "" {
				continue
			}
			if c.Request == "login" {
				// The handshake makes no l7_flow_log record (the MySQL
				// decoder reports commands), and matching it would take
				// the record of the query that follows.
				continue
			}
			match(t.Service+"->"+c.Protocol, c.Protocol, c.Local, c.Remote, c.Start, c.End, 0)
		}
	}
	for _, cs := range idx {
		for _, c := range cs {
			c.used = false
		}
	}
	for _, t := range truths {
		if t.Local != "" && t.Remote != "" && t.Protocol != "" {
			match("inbound "+t.Service+" "+t.Protocol, t.Protocol, t.Remote, t.Local, t.Start, t.End, inboundEarly)
		}
	}
	for _, h := range hops {
		cov.Hops = append(cov.Hops, *h)
	}
	sortHops(cov.Hops)
	return cov
}

// inboundEarly is how much earlier than a service's logged start an
// inbound request's record may start: a server notes the start once it has
// read (part of) the request, which under load can be long after the
// client sent it.
const inboundEarly = time.Second

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func sortHops(h []HopCoverage) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].Hop < h[j-1].Hop; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

// TruthRequests converts ground truth into autotrace's, for
// autotrace.Evaluate: failed calls and MySQL logins (no record) are left
// out; a proxy's calls carry its X-Request-ID (nginx's times are
// milliseconds, the id picks the call). A time or address that does not
// parse is an error naming the line's id.
func TruthRequests(truths []Truth) ([]autotrace.TruthRequest, error) {
	out := make([]autotrace.TruthRequest, 0, len(truths))
	for _, t := range truths {
		tr := autotrace.TruthRequest{Service: t.Service, Kind: t.Kind}
		if t.Local != "" && t.Remote != "" {
			c, err := truthCall(t.Remote, t.Local, t.Start, t.End)
			if err != nil {
				return nil, fmt.Errorf("demo: truth %s: inbound: %w", t.ID, err)
			}
			tr.Inbound = &c
		}
		for _, k := range t.Calls {
			if k.Error != "" || k.Request == "login" {
				continue
			}
			c, err := truthCall(k.Local, k.Remote, k.Start, k.End)
			if err != nil {
				return nil, fmt.Errorf("demo: truth %s: call %s: %w", t.ID, k.Request, err)
			}
			if t.Kind == "proxy" {
				c.XRequestID = t.XRequestID
			}
			tr.Calls = append(tr.Calls, c)
		}
		out = append(out, tr)
	}
	return out, nil
}

func truthCall(client, server, start, end string) (autotrace.TruthCall, error) {
	var c autotrace.TruthCall
	var err error
	if c.Client, err = netip.ParseAddrPort(client); err != nil {
		return c, err
	}
	if c.Server, err = netip.ParseAddrPort(server); err != nil {
		return c, err
	}
	st, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return c, err
	}
	en, err := time.Parse(time.RFC3339Nano, end)
	if err != nil {
		return c, err
	}
	c.Start, c.End = st.UnixNano(), en.UnixNano()
	return c, nil
}
