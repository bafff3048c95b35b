package l7test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// Contract checks a decoder against the l7.Decoder and l7.Parser contracts
// by running conversations, and random variants of them, through the real
// pipeline (capture/decode, flow.Table, l7.Engine with a registry of the
// decoder alone). The zero value of every field but Decoder means its
// default.
//
// Each conversation runs first as scripted, then in Variants variants
// made from a seeded random source:
//
//   - lossless variants cut the TCP segments after the one on which
//     inference recognised the flow into random pieces (down to single
//     bytes), retransmit some of them whole or overlapping bytes already
//     sent, and swap adjacent segments of one direction. The reassembler
//     hands the parser the same bytes, so, unless the conversation as
//     scripted made the parser fail (the engine then drops the bytes it
//     holds, as many as the segments brought) or lose bytes (after a gap
//     a parser may take the start of a segment as a hint of a message's),
//     the records must equal those of the conversation as scripted, times
//     and flow ids aside;
//   - lossy variants also drop segments (holes the parser learns of
//     through Gap, or through Flush first) and cut frames at a snaplen.
//     Their records must only satisfy the invariants below.
//
// A TCP conversation that alternates requests and responses (one message
// per Request and Response call, at least three exchanges, each making one
// record that pairs them) also runs the hole cases: the second exchange,
// and the one before the last, lose their request or their response, whole
// (a hole ending on a message boundary) or from the middle on (a hole
// cutting the message); every exchange after the hole must still make its
// record as scripted, its request paired with its own response. Then the
// cut-message cases: the capture ends in the middle of the last request,
// or of the last response; the exchanges before must make their records as
// scripted, and a cut response must still leave a record of its request.
// Every decoder is expected to pass them: give it such a conversation.
//
// Every call into the decoder is checked as it happens: nothing panics;
// Check returns a known verdict and leaves its input alone (it is also
// called on every prefix of the first bytes each side sends, over both
// transports); Parse consumes 0 <= n <= len(data), does not modify data,
// never returns a message with an error, returns a message with a kind, a
// status and a length >= -1, makes progress unless it returns an error,
// and returns only errors matching l7.ErrNeedMore (with n == 0),
// l7.ErrStop or l7.ErrMalformed (a *l7.ParseError among them must name the
// decoder and a non-negative offset). Records must name the decoder (or a
// Message.Protocol the parser returned), have a request or a response,
// never a response before its request (a negative response_duration:
// the parser made a message start at bytes of no message, which it should
// have reported through l7.Trailer; not checked once requests may have
// been lost, to a gap or a parse error, or responses held, behind a hole
// or before inference, since the engine's pairing in order may then match
// a response with a request sent after it), a status with every response, the conversation's client as client over
// TCP with a handshake; every response the parser returned must make one
// record, and no request more than one.
//
// On the first violation the test fails with the variant's description,
// the bytes involved, and the path of a pcap file holding the variant's
// frames (in the system's temporary folder, left for the reader), to
// replay with Run or to open in Wireshark.
//
// Limits: the kit wraps the decoder and its parsers to observe them; it
// forwards the optional interfaces l7.SessionTimeouter, l7.PortHinter,
// l7.Trailer and l7.Flusher, but not others an engine may learn to use
// later.
type Contract struct {
	// Decoder is the decoder under test. Required.
	Decoder l7.Decoder
	// Variants is the number of random variants of each conversation that
	// Check runs besides the conversation itself, half lossless and half
	// lossy. Default 24.
	Variants int
	// Seed seeds the variants: runs with one seed make the same variants.
	// Default 1.
	Seed uint64
	// Engine configures the engine. Registry and OnRecord are set by the
	// kit; every other field keeps its meaning. Default: the engine's
	// defaults.
	Engine l7.Config
}

// DefaultVariants is the default of Contract.Variants.
const DefaultVariants = 24

// CheckContract runs (&Contract{Decoder: d}).Check(tb, convs...).
func CheckContract(tb testing.TB, d l7.Decoder, convs ...*Conversation) {
	tb.Helper()
	(&Contract{Decoder: d}).Check(tb, convs...)
}

// FuzzDecoder runs (&Contract{Decoder: d}).Fuzz(f, seeds...).
func FuzzDecoder(f *testing.F, d l7.Decoder, seeds ...*Conversation) {
	f.Helper()
	(&Contract{Decoder: d}).Fuzz(f, seeds...)
}

// Check runs each conversation and its variants and fails the test on the
// first contract violation. A conversation on which the decoder makes no
// record at all fails the test too: it checks nothing.
func (k *Contract) Check(tb testing.TB, convs ...*Conversation) {
	tb.Helper()
	variants := k.Variants
	if variants <= 0 {
		variants = DefaultVariants
	}
	seed := k.Seed
	if seed == 0 {
		seed = 1
	}
	for i, c := range convs {
		k.run(tb, c, seed+uint64(i)<<32, variants, true)
	}
}

// Fuzz adds the seed conversations to f's corpus and fuzzes the decoder
// with conversations decoded from the fuzz input, each run as scripted and
// in one lossless and one lossy variant, under the checks of Check (a
// conversation that makes no record is not a failure here). The fuzz input
// encodes the script: its transport and the handshake, the snaplen, a seed
// for the variants, then the bytes each side sends, gaps, waits and
// segment sizes; EncodeFuzzInput gives the encoding of a conversation.
// The client and server addresses are those of the first seed, or
// 10.0.0.1:40000 and 10.0.0.2:8000.
func (k *Contract) Fuzz(f *testing.F, seeds ...*Conversation) {
	f.Helper()
	client := netip.MustParseAddrPort("10.0.0.1:40000")
	server := netip.MustParseAddrPort("10.0.0.2:8000")
	if len(seeds) > 0 {
		client, server = seeds[0].client, seeds[0].server
	}
	for i, c := range seeds {
		f.Add(EncodeFuzzInput(c, uint64(i)+1))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, seed := DecodeFuzzInput(in, client, server)
		k.run(t, c, seed, 2, false)
	})
}

// run checks c as scripted and in variants variants.
func (k *Contract) run(tb testing.TB, c *Conversation, seed uint64, variants int, needRecords bool) {
	tb.Helper()
	if k.Decoder == nil {
		tb.Fatalf("l7test: Contract.Decoder is nil")
	}
	k.checkVerdicts(tb, c)
	segs := c.segments()
	ref := k.once(tb, c, segs, c.snaplen, "as scripted")
	if needRecords && len(ref.keys) == 0 {
		tb.Fatalf("l7test: %v: %s made no record of the conversation as scripted (engine stats %+v)",
			c, k.Decoder.Name(), ref.stats)
	}
	if ref.inferFrame < 0 {
		return // never recognised: variants would not reach the parser
	}
	k.holes(tb, c, segs, ref)
	for v := range variants {
		rng := rand.New(rand.NewPCG(seed, uint64(v)))
		lossy := v%2 == 1
		vsegs, snaplen, desc := variant(rng, c, segs, ref.inferFrame, lossy)
		desc = fmt.Sprintf("variant %d (seed %#x): %s", v, seed, desc)
		got := k.once(tb, c, vsegs, snaplen, desc)
		if lossy || c.transport == l7.UDP || ref.errors > 0 || ref.gaps > 0 {
			// After a parse error the engine drops the bytes it holds,
			// as many as the segments brought; after a gap a parser
			// may take a segment's start as a hint of a message's:
			// records may differ.
			continue
		}
		if !equalKeys(got.keys, ref.keys) {
			k.report(tb, c, vsegs, snaplen, desc, fmt.Sprintf(
				"records differ from those of the conversation as scripted, though the parser got the same bytes\n got %d:\n  %s\nwant %d:\n  %s",
				len(got.keys), strings.Join(got.keys, "\n  "), len(ref.keys), strings.Join(ref.keys, "\n  ")))
		}
	}
}

// holes runs the gap cases of a TCP conversation that alternates requests
// and responses, one message per Request and Response call, and that makes
// one record pairing each request with its response as scripted: for the
// second exchange and the one before the last, each in turn loses its
// request or its response, whole (the hole ends on a message boundary) or
// from the middle of the message on (the hole cuts it). Every exchange
// after the hole must still make its record as scripted: its request
// paired with its own response. What the damaged exchange makes is not
// checked beyond the invariants.
func (k *Contract) holes(tb testing.TB, c *Conversation, segs []segment, ref outcome) {
	tb.Helper()
	if c.transport == l7.UDP || ref.errors > 0 || ref.gaps > 0 {
		return
	}
	var msgs []int // Send step index of each message, in script order
	for i, s := range c.steps {
		switch s.kind {
		case stepSend:
			if len(msgs)%2 == 0 && s.dir != l7.ToServer || len(msgs)%2 == 1 && s.dir != l7.ToClient {
				return // not alternating
			}
			msgs = append(msgs, i)
		case stepGap:
			return
		}
	}
	n := len(msgs) / 2
	if n < 3 || len(msgs)%2 != 0 || len(ref.keys) != n || ref.pairs != n {
		return
	}
	// Each record as scripted must be one exchange, in order: its request's
	// and its response's first bytes are within the exchange's messages.
	within := func(seq uint32, step int) bool {
		for _, sg := range segs {
			if sg.chunk == step && seq-sg.seq < uint32(len(sg.data)) {
				return true
			}
		}
		return false
	}
	for j := range n {
		if !within(ref.seqPairs[j][0], msgs[2*j]) || !within(ref.seqPairs[j][1], msgs[2*j+1]) {
			return
		}
	}
	victims := []int{1}
	if n-2 > 1 {
		victims = append(victims, n-2)
	}
	for _, v := range victims {
		for side := range 2 {
			step := msgs[2*v+side]
			for _, half := range []bool{false, true} {
				size := len(c.steps[step].data)
				cut := 0
				if half {
					if size < 2 {
						continue
					}
					cut = size / 2
				}
				var vsegs []segment
				for _, sg := range segs {
					if sg.chunk != step {
						vsegs = append(vsegs, sg)
						continue
					}
					// Offset of this segment in its message: its sequence
					// number against the message's first segment's.
					off := 0
					for _, f := range segs {
						if f.chunk == step {
							off = int(sg.seq - f.seq)
							break
						}
					}
					if keep := cut - off; keep > 0 {
						sg.data = sg.data[:min(keep, len(sg.data))]
						vsegs = append(vsegs, sg)
					}
				}
				what := [2]string{"request", "response"}[side]
				desc := fmt.Sprintf("hole: exchange %d loses its %s", v, what)
				if half {
					desc += fmt.Sprintf(" from byte %d of %d on", cut, size)
				} else {
					desc += " whole"
				}
				got := k.once(tb, c, vsegs, c.snaplen, desc)
				have := map[string]int{}
				for _, key := range got.keys {
					have[key]++
				}
				for j := v + 1; j < n; j++ {
					if have[ref.keys[j]] == 0 {
						k.report(tb, c, vsegs, c.snaplen, desc, fmt.Sprintf(
							"exchange %d, after the hole, does not make its record as scripted (its request paired with its own response)\nwant:\n  %s\ngot %d:\n  %s",
							j, ref.keys[j], len(got.keys), strings.Join(got.keys, "\n  ")))
					}
					have[ref.keys[j]]--
				}
			}
		}
	}
	k.cuts(tb, c, segs, ref, msgs)
}

// cuts runs the cut-message cases of a conversation that qualifies for the
// hole cases: the capture ends in the middle of the last request, or of
// the last response (no FIN). The exchanges before must make their records
// as scripted, and, when the response is cut, a record must carry the
// last request.
func (k *Contract) cuts(tb testing.TB, c *Conversation, segs []segment, ref outcome, msgs []int) {
	tb.Helper()
	n := len(msgs) / 2
	last := n - 1
	var lastReqSeq uint32
	for _, sg := range segs {
		if sg.chunk == msgs[2*last] {
			lastReqSeq = sg.seq
			break
		}
	}
	for side := range 2 {
		step := msgs[2*last+side]
		size := len(c.steps[step].data)
		if size < 2 {
			continue
		}
		cut := size / 2
		var vsegs []segment
		var first uint32
		seen := false
		for _, sg := range segs {
			if sg.chunk != step {
				if seen {
					break // the capture ends here
				}
				vsegs = append(vsegs, sg)
				continue
			}
			if !seen {
				first, seen = sg.seq, true
			}
			if keep := cut - int(sg.seq-first); keep > 0 {
				sg.data = sg.data[:min(keep, len(sg.data))]
				vsegs = append(vsegs, sg)
			}
		}
		what := [2]string{"request", "response"}[side]
		desc := fmt.Sprintf("cut: the capture ends at byte %d of %d of the last %s", cut, size, what)
		got := k.once(tb, c, vsegs, c.snaplen, desc)
		have := map[string]int{}
		for _, key := range got.keys {
			have[key]++
		}
		for j := 0; j < last; j++ {
			if have[ref.keys[j]] == 0 {
				k.report(tb, c, vsegs, c.snaplen, desc, fmt.Sprintf(
					"exchange %d, before the cut, does not make its record as scripted\nwant:\n  %s\ngot %d:\n  %s",
					j, ref.keys[j], len(got.keys), strings.Join(got.keys, "\n  ")))
			}
			have[ref.keys[j]]--
		}
		if side == 1 && !slices.Contains(got.reqSeqs, lastReqSeq) {
			k.report(tb, c, vsegs, c.snaplen, desc, fmt.Sprintf(
				"no record carries the last request (req_tcp_seq %d), whose response the capture cut\ngot %d:\n  %s",
				lastReqSeq, len(got.keys), strings.Join(got.keys, "\n  ")))
		}
	}
}

// checkVerdicts calls Check on every prefix (up to 256 bytes, and whole)
// of the first bytes each side sends, in both directions and over both
// transports, and on nothing: it must not panic and must return a known
// verdict.
func (k *Contract) checkVerdicts(tb testing.TB, c *Conversation) {
	tb.Helper()
	var seen [2]bool
	for _, s := range c.steps {
		if s.kind != stepSend || seen[s.dir] {
			continue
		}
		seen[s.dir] = true
		for n := 0; n <= len(s.data); n++ {
			if n > 256 && n < len(s.data) {
				n = len(s.data)
			}
			for _, tr := range []l7.Transport{l7.TCP, l7.UDP} {
				for _, dir := range []l7.Direction{l7.ToServer, l7.ToClient} {
					k.verdict(tb, s.data[:n], dir, tr)
				}
			}
		}
	}
}

func (k *Contract) verdict(tb testing.TB, b []byte, dir l7.Direction, tr l7.Transport) l7.Verdict {
	tb.Helper()
	var v l7.Verdict
	before := append([]byte(nil), b...)
	func() {
		defer func() {
			if r := recover(); r != nil {
				tb.Fatalf("l7test: %s Check(%s, dir %d, transport %d) panicked: %v\n%s", k.Decoder.Name(), quote(b), dir, tr, r, debug.Stack())
			}
		}()
		v = k.Decoder.Check(b, dir, tr)
	}()
	if !bytes.Equal(b, before) {
		tb.Fatalf("l7test: %s Check(%s) modified its input", k.Decoder.Name(), quote(before))
	}
	switch v {
	case l7.No, l7.Request, l7.Response, l7.WeakRequest:
	default:
		tb.Fatalf("l7test: %s Check(%s) returned unknown verdict %d", k.Decoder.Name(), quote(b), v)
	}
	return v
}

// outcome is what one run of segments produced.
type outcome struct {
	keys       []string    // records, times and flow ids left out
	pairs      int         // records with a request and a response
	reqSeqs    []uint32    // req_tcp_seq of the records with a request
	seqPairs   [][2]uint32 // req_tcp_seq and resp_tcp_seq of each record, in order
	inferFrame int         // index of the frame during which inference chose the decoder; -1: never
	errors     int         // parse errors other than l7.ErrNeedMore and l7.ErrStop
	gaps       int         // Gap calls
	stats      l7.Stats
}

// once runs segs (rendered with snaplen) through the pipeline and checks
// every call and record.
func (k *Contract) once(tb testing.TB, c *Conversation, segs []segment, snaplen int, desc string) outcome {
	tb.Helper()
	ck := &checker{tb: tb, k: k, c: c, segs: segs, snaplen: snaplen, desc: desc, inferFrame: -1,
		protocols: map[string]bool{k.Decoder.Name(): true}}
	reg, err := l7.NewRegistry(&checkedDecoder{ck: ck, d: k.Decoder})
	if err != nil {
		tb.Fatalf("l7test: registry: %v", err)
	}
	cfg := k.Engine
	cfg.Registry = reg
	var out outcome
	var requests, responses int
	cfg.OnRecord = func(r *l7.Record) {
		ck.record(r)
		if r.HasRequest {
			requests++
		}
		if r.HasResponse {
			responses++
		}
		if r.HasRequest && r.HasResponse {
			out.pairs++
		}
		if r.HasRequest {
			out.reqSeqs = append(out.reqSeqs, r.ReqTCPSeq)
		}
		out.seqPairs = append(out.seqPairs, [2]uint32{r.ReqTCPSeq, r.RespTCPSeq})
		cl := r.Clone()
		cl.FlowID, cl.StartTime, cl.EndTime = 0, 0, 0
		out.keys = append(out.keys, string(cl.AppendJSON(nil)))
	}
	eng, err := l7.NewEngine(cfg)
	if err != nil {
		tb.Fatalf("l7test: engine: %v", err)
	}
	tab := flow.NewTable(flow.Config{Handler: eng})
	dd := decode.NewDecoder(decode.Config{})
	var m decode.Meta
	for i, f := range c.render(segs, snaplen) {
		ck.frame = i
		p := f.Packet()
		if dd.Decode(&p, &m) == nil {
			tab.Packet(&m)
		}
	}
	ck.frame = len(segs)
	tab.Flush()
	out.inferFrame = ck.inferFrame
	out.errors = ck.errors
	out.gaps = ck.gaps
	out.stats = eng.Stats()
	if responses != ck.responses {
		ck.fail(fmt.Sprintf("the parser returned %d responses but %d records carry one", ck.responses, responses))
	}
	if requests > ck.requests {
		ck.fail(fmt.Sprintf("the parser returned %d requests but %d records carry one", ck.requests, requests))
	}
	return out
}

// report fails the test with a violation found in the variant segs.
func (k *Contract) report(tb testing.TB, c *Conversation, segs []segment, snaplen int, desc, msg string) {
	tb.Helper()
	where := ""
	if f, err := os.CreateTemp("", "l7test-*.pcap"); err == nil {
		if WritePcap(f, c.render(segs, snaplen), 0) == nil {
			where = "\nframes of the variant: " + f.Name()
		}
		f.Close()
	}
	tb.Fatalf("l7test: %s: %v, %s: %s%s", k.Decoder.Name(), c, desc, msg, where)
}

func equalKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checker observes one run.
type checker struct {
	tb         testing.TB
	k          *Contract
	c          *Conversation
	segs       []segment
	snaplen    int
	desc       string
	frame      int // index of the frame being fed
	inferFrame int
	requests   int // messages the parsers returned
	errors     int // parse errors other than l7.ErrNeedMore and l7.ErrStop
	gaps       int // Gap calls
	// shifted: requests may have been lost (a gap or an error from the
	// client) or responses held (behind a hole, or before inference), so
	// that pairing in order may match a response with a request sent
	// after it.
	shifted   bool
	responses int
	protocols map[string]bool // record l7_protocol values the parsers named
	before    []byte          // reused copy of a Parse input
}

func (ck *checker) fail(msg string) {
	ck.tb.Helper()
	ck.k.report(ck.tb, ck.c, ck.segs, ck.snaplen, ck.desc, fmt.Sprintf("frame %d: %s", ck.frame+1, msg))
}

// message checks a message a parser returned and counts it.
func (ck *checker) message(call func() string, m *l7.Message) {
	switch m.Kind {
	case l7.KindRequest:
		ck.requests++
	case l7.KindResponse:
		ck.responses++
	default:
		ck.fail(fmt.Sprintf("%s returned a message of kind %d", call(), m.Kind))
	}
	if m.Status > l7.StatusParseFailed {
		ck.fail(fmt.Sprintf("%s returned a message with status %d", call(), m.Status))
	}
	if m.Length < -1 {
		ck.fail(fmt.Sprintf("%s returned a message of length %d", call(), m.Length))
	}
	if m.Protocol != "" {
		ck.protocols[m.Protocol] = true
	}
}

// record checks one record as the engine delivers it.
func (ck *checker) record(r *l7.Record) {
	switch {
	case !ck.protocols[r.L7Protocol]:
		ck.fail(fmt.Sprintf("record of l7_protocol %q", r.L7Protocol))
	case !r.HasRequest && !r.HasResponse:
		ck.fail("record with neither request nor response")
	case r.HasResponse && !r.HasStatus:
		ck.fail("response without a status")
	case r.EndTime < r.StartTime && !ck.shifted:
		ck.fail(fmt.Sprintf("response %s before its request %s %s (a message took its start from bytes of another)",
			time.Unix(0, r.EndTime).UTC().Format(time.RFC3339Nano), r.RequestType, quote(r.RequestResource)))
	case ck.c.transport != l7.UDP && !ck.c.noHandshake && (r.Client != ck.c.client || r.Server != ck.c.server):
		ck.fail(fmt.Sprintf("record oriented %s > %s, the handshake says %s > %s", r.Client, r.Server, ck.c.client, ck.c.server))
	}
}

// checkedDecoder observes a decoder for a checker. Without the optional
// interfaces, its SessionTimeout and PortHints answer as the engine treats
// a decoder without them.
type checkedDecoder struct {
	ck *checker
	d  l7.Decoder
}

// SessionTimeout forwards l7.SessionTimeouter; 0 makes the engine use its
// own default.
func (cd *checkedDecoder) SessionTimeout() time.Duration {
	if st, ok := cd.d.(l7.SessionTimeouter); ok {
		return st.SessionTimeout()
	}
	return 0
}

// PortHints forwards l7.PortHinter.
func (cd *checkedDecoder) PortHints() []uint16 {
	if ph, ok := cd.d.(l7.PortHinter); ok {
		return ph.PortHints()
	}
	return nil
}

func (cd *checkedDecoder) Name() string { return cd.d.Name() }

func (cd *checkedDecoder) Check(b []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	return cd.ck.k.verdict(cd.ck.tb, b, dir, t)
}

func (cd *checkedDecoder) NewParser(t l7.Transport) l7.Parser {
	ck := cd.ck
	if ck.inferFrame < 0 {
		ck.inferFrame = ck.frame
		// Server bytes before the frame that made the engine pick the
		// decoder were held, and are parsed after it.
		for _, s := range ck.segs[:min(ck.frame, len(ck.segs))] {
			if s.dir == l7.ToClient && len(s.data) > 0 {
				ck.shifted = true
			}
		}
	}
	var p l7.Parser
	func() {
		defer func() {
			if r := recover(); r != nil {
				ck.fail(fmt.Sprintf("NewParser panicked: %v\n%s", r, debug.Stack()))
			}
		}()
		p = cd.d.NewParser(t)
	}()
	if p == nil {
		ck.fail("NewParser returned nil")
	}
	cp := &checkedParser{ck: ck, p: p}
	cp.tr, _ = p.(l7.Trailer)
	cp.fl, _ = p.(l7.Flusher)
	return cp
}

// checkedParser observes a parser. Without the optional interfaces, its
// Trailing and Flush answer as the engine treats a parser without them.
type checkedParser struct {
	ck *checker
	p  l7.Parser
	tr l7.Trailer
	fl l7.Flusher
}

func (cp *checkedParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (n int, ok bool, err error) {
	ck := cp.ck
	ck.before = append(ck.before[:0], data...)
	func() {
		defer func() {
			if r := recover(); r != nil {
				ck.fail(fmt.Sprintf("Parse(%s, dir %d) panicked: %v\n%s", quote(data), dir, r, debug.Stack()))
			}
		}()
		n, ok, err = cp.p.Parse(data, dir, m)
	}()
	// The description of the call is made only for a failure.
	call := func() string {
		return fmt.Sprintf("Parse(%s, dir %d) = (%d, %v, %v)", quote(ck.before), dir, n, ok, err)
	}
	switch {
	case n < 0 || n > len(data):
		ck.fail(call() + ": consumed outside its input")
	case !bytes.Equal(data, ck.before):
		ck.fail(call() + ": modified its input")
	case ok && err != nil:
		ck.fail(call() + ": a message with an error")
	case err == nil && n == 0 && !ok:
		ck.fail(call() + ": no progress without an error (l7.ErrNeedMore asks for more bytes)")
	case err == nil:
	case errors.Is(err, l7.ErrNeedMore):
		if n != 0 {
			ck.fail(call() + ": l7.ErrNeedMore after consuming bytes")
		}
	case errors.Is(err, l7.ErrStop):
	case errors.Is(err, l7.ErrMalformed):
		ck.errors++
		if dir == l7.ToServer {
			ck.shifted = true
		}
		var pe *l7.ParseError
		if errors.As(err, &pe) && (pe.Protocol != ck.k.Decoder.Name() || pe.Offset < 0) {
			ck.fail(fmt.Sprintf("%s: *l7.ParseError with protocol %q, offset %d", call(), pe.Protocol, pe.Offset))
		}
	default:
		ck.fail(call() + ": an error matching none of l7.ErrNeedMore, l7.ErrStop, l7.ErrMalformed")
	}
	if ok {
		ck.message(call, m)
	}
	return n, ok, err
}

func (cp *checkedParser) Gap(dir l7.Direction, n int) {
	cp.ck.gaps++
	if dir == l7.ToServer || n > 0 {
		cp.ck.shifted = true
	}
	defer func() {
		if r := recover(); r != nil {
			cp.ck.fail(fmt.Sprintf("Gap(dir %d, %d) panicked: %v\n%s", dir, n, r, debug.Stack()))
		}
	}()
	cp.p.Gap(dir, n)
}

func (cp *checkedParser) Trailing(dir l7.Direction) (t bool) {
	if cp.tr == nil {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			cp.ck.fail(fmt.Sprintf("Trailing(dir %d) panicked: %v\n%s", dir, r, debug.Stack()))
		}
	}()
	return cp.tr.Trailing(dir)
}

func (cp *checkedParser) Flush(data []byte, dir l7.Direction, m *l7.Message) (ok bool) {
	if cp.fl == nil {
		return false
	}
	ck := cp.ck
	ck.before = append(ck.before[:0], data...)
	func() {
		defer func() {
			if r := recover(); r != nil {
				ck.fail(fmt.Sprintf("Flush(%s, dir %d) panicked: %v\n%s", quote(data), dir, r, debug.Stack()))
			}
		}()
		ok = cp.fl.Flush(data, dir, m)
	}()
	call := func() string { return fmt.Sprintf("Flush(%s, dir %d)", quote(ck.before), dir) }
	if !bytes.Equal(data, ck.before) {
		ck.fail(call() + ": modified its input")
	}
	if ok {
		ck.message(call, m)
	}
	return ok
}

// quote renders the first bytes of b for a message.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// variant makes a variant of the segments segs of c: the segments up to
// and including keep stay as they are (inference saw them); the data
// segments after them are cut into pieces, some retransmitted, some
// overlapping bytes already sent, some swapped with the next one of the
// same direction, and, when lossy, some dropped and frames cut at a
// snaplen. It returns the segments, the snaplen (0: none) and a
// description.
func variant(rng *rand.Rand, c *Conversation, segs []segment, keep int, lossy bool) ([]segment, int, string) {
	var total int
	for _, s := range segs {
		total += len(s.data)
	}
	// Piece sizes: single bytes for small conversations, else up to a
	// random bound.
	maxPiece := 1 + rng.IntN(8)
	if total > 4096 || rng.IntN(3) == 0 {
		maxPiece = 16 + rng.IntN(DefaultSegmentSize)
	}
	if lossy {
		keep = -1 // loss before inference matters too
	}
	out := make([]segment, 0, len(segs)*2)
	var retrans, overlaps, swaps, drops int
	for i, s := range segs {
		if i <= keep || len(s.data) == 0 || c.transport == l7.UDP {
			out = append(out, s)
			continue
		}
		for b, seq := s.data, s.seq; len(b) > 0; {
			k := min(len(b), 1+rng.IntN(maxPiece))
			p := s
			p.seq, p.data = seq, b[:k]
			seq += uint32(k)
			b = b[k:]
			// A piece that starts within the previous piece of its
			// direction: it repeats bytes already sent.
			if prev := lastOf(out, p.dir); prev >= 0 && prev > keep && rng.IntN(8) == 0 {
				q := out[prev]
				if q.seq+uint32(len(q.data)) == p.seq && len(q.data) > 1 {
					h := len(q.data) / 2
					p.seq = q.seq + uint32(h)
					p.data = append(append([]byte(nil), q.data[h:]...), p.data...)
					overlaps++
				}
			}
			out = append(out, p)
			if rng.IntN(10) == 0 {
				out = append(out, p) // a retransmission
				retrans++
			}
		}
	}
	// Swap adjacent data segments of one direction, but for the first of
	// a direction: without a handshake, the stream starts there.
	var first [2]int
	first[0], first[1] = firstOf(out, l7.ToServer), firstOf(out, l7.ToClient)
	for i := keep + 1; i+1 < len(out); i++ {
		a, b := &out[i], &out[i+1]
		if len(a.data) > 0 && len(b.data) > 0 && a.dir == b.dir && i != first[a.dir] &&
			b.t.Sub(a.t) <= maxSwapDelay && rng.IntN(8) == 0 {
			*a, *b = *b, *a
			a.t, b.t = b.t, a.t
			swaps++
			i++
		}
	}
	snaplen := c.snaplen
	if lossy {
		n := 1 + rng.IntN(3)
		for range n {
			var data []int
			for i, s := range out {
				if len(s.data) > 0 {
					data = append(data, i)
				}
			}
			if len(data) == 0 {
				break
			}
			i := data[rng.IntN(len(data))]
			out = append(out[:i], out[i+1:]...)
			drops++
		}
		if rng.IntN(2) == 0 {
			hdr := 54
			if c.client.Addr().Is6() && !c.client.Addr().Is4In6() {
				hdr = 74
			}
			if c.transport == l7.UDP {
				hdr -= 12
			}
			snaplen = hdr + 1 + rng.IntN(maxPiece+64)
		}
	}
	for i := 1; i < len(out); i++ {
		if out[i].t.Before(out[i-1].t) {
			out[i].t = out[i-1].t
		}
	}
	kind := "lossless"
	if lossy {
		kind = "lossy"
	}
	desc := fmt.Sprintf("%s, pieces of 1-%d bytes, %d retransmitted, %d overlapping, %d swapped, %d dropped, snaplen %d",
		kind, maxPiece, retrans, overlaps, swaps, drops, snaplen)
	return out, snaplen, desc
}

// maxSwapDelay bounds the time between two segments a variant swaps, far
// below any reassembly timeout.
const maxSwapDelay = 10 * time.Millisecond

// firstOf returns the index of the first data segment of direction dir
// in segs, or -1.
func firstOf(segs []segment, dir l7.Direction) int {
	for i, s := range segs {
		if s.dir == dir && len(s.data) > 0 {
			return i
		}
	}
	return -1
}

// lastOf returns the index of the last data segment of direction dir in
// segs, or -1.
func lastOf(segs []segment, dir l7.Direction) int {
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i].dir == dir && len(segs[i].data) > 0 {
			return i
		}
	}
	return -1
}

// Fuzz input encoding (EncodeFuzzInput, DecodeFuzzInput).
const (
	fuzzUDP         = 1 << 0
	fuzzNoHandshake = 1 << 1
	fuzzNoClose     = 1 << 2

	opSendToServer = 0
	opSendToClient = 1
	opGapToServer  = 2
	opGapToClient  = 3
	opWait         = 4 // param: milliseconds
	opSegment      = 5

	fuzzHeader = 11 // flags, seed (8), snaplen (2)
)

// EncodeFuzzInput encodes c and a variant seed as a fuzz input of
// Contract.Fuzz: a flags byte (bit 0 UDP, bit 1 no handshake, bit 2 no
// close), the seed (8 bytes, little endian), the snaplen (2 bytes, big
// endian), then one operation per step: a byte (0 and 1: bytes sent to the
// server and to the client, 2 and 3: a gap in those directions, 4: a wait
// in milliseconds, 5: a segment size), a 2-byte big-endian length or
// parameter, and for 0 and 1 the bytes (a send of more than 65535 bytes
// is cut into several).
func EncodeFuzzInput(c *Conversation, seed uint64) []byte {
	var flags byte
	if c.transport == l7.UDP {
		flags |= fuzzUDP
	}
	if c.noHandshake {
		flags |= fuzzNoHandshake
	}
	if c.noClose {
		flags |= fuzzNoClose
	}
	b := []byte{flags}
	b = binary.LittleEndian.AppendUint64(b, seed)
	b = binary.BigEndian.AppendUint16(b, uint16(min(c.snaplen, 0xffff)))
	op := func(o byte, n int) { b = binary.BigEndian.AppendUint16(append(b, o), uint16(min(n, 0xffff))) }
	for _, s := range c.steps {
		switch s.kind {
		case stepSend:
			for d := s.data; len(d) > 0; {
				k := min(len(d), 0xffff)
				op(opSendToServer+byte(s.dir), k)
				b = append(b, d[:k]...)
				d = d[k:]
			}
		case stepGap:
			op(opGapToServer+byte(s.dir), s.n)
		case stepWait:
			op(opWait, int(s.d/time.Millisecond))
		case stepSegment:
			op(opSegment, s.n)
		}
	}
	return b
}

// DecodeFuzzInput decodes a fuzz input of Contract.Fuzz (see
// EncodeFuzzInput) into a conversation between client and server and the
// variant seed. Any input decodes: missing bytes are taken as zeros or an
// end, unknown operations as sends.
func DecodeFuzzInput(in []byte, client, server netip.AddrPort) (*Conversation, uint64) {
	var hdr [fuzzHeader]byte
	copy(hdr[:], in)
	in = in[min(len(in), fuzzHeader):]
	t := l7.TCP
	if hdr[0]&fuzzUDP != 0 {
		t = l7.UDP
	}
	c := NewConversation(client, server, t)
	c.noHandshake = hdr[0]&fuzzNoHandshake != 0
	c.noClose = hdr[0]&fuzzNoClose != 0
	seed := binary.LittleEndian.Uint64(hdr[1:9])
	c.Snaplen(int(binary.BigEndian.Uint16(hdr[9:11])))
	for len(in) > 0 {
		o := in[0] % 6
		var n int
		if len(in) >= 3 {
			n = int(binary.BigEndian.Uint16(in[1:3]))
		}
		in = in[min(len(in), 3):]
		switch o {
		case opSendToServer, opSendToClient:
			n = min(n, len(in))
			c.Send(l7.Direction(o), in[:n])
			in = in[n:]
		case opGapToServer, opGapToClient:
			c.Gap(l7.Direction(o-opGapToServer), n)
		case opWait:
			c.Wait(time.Duration(n) * time.Millisecond)
		case opSegment:
			c.Segment(n)
		}
	}
	return c, seed
}

// The wrappers have every optional interface of the engine.
var (
	_ l7.SessionTimeouter = (*checkedDecoder)(nil)
	_ l7.PortHinter       = (*checkedDecoder)(nil)
	_ l7.Trailer          = (*checkedParser)(nil)
	_ l7.Flusher          = (*checkedParser)(nil)
)
