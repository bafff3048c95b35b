package l7test_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// lineDecoder decodes a line protocol: requests "VERB arg\n" from the
// client, responses "+text\n" (Ok) and "-text\n" (ServerError) from the
// server. bug makes it break the contract in one way, for the tests of
// the kit itself.
type lineDecoder struct{ bug string }

var errBadLine = fmt.Errorf("line: bad line: %w", l7.ErrMalformed)

func (d *lineDecoder) Name() string { return "LINE" }

func (d *lineDecoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if d.bug == "check-panics" && p[0] == '+' {
		return l7.Response
	}
	if t != l7.TCP || len(p) == 0 {
		return l7.No
	}
	if p[0] == '+' || p[0] == '-' {
		return l7.Response
	}
	if p[0] >= 'A' && p[0] <= 'Z' {
		return l7.Request
	}
	return l7.No
}

func (d *lineDecoder) NewParser(t l7.Transport) l7.Parser {
	if d.bug == "no-trailer" {
		return &noTrailerParser{lineParser{bug: d.bug}}
	}
	return &lineParser{bug: d.bug}
}

type lineParser struct {
	bug  string
	skip [2]bool  // after a gap or an error: drop bytes up to the next newline
	off  [2]int64 // stream offset, for errors
}

func (p *lineParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	i := bytes.IndexByte(data, '\n')
	switch {
	case p.bug == "assumes-whole-line":
		i = bytes.IndexByte(data, '\n')
		_ = data[:i] // panics when the line is cut
	case i < 0 && len(data) > 0 && p.bug == "partial-line-is-message":
		i = len(data) - 1
	case i < 0 && p.bug == "no-progress":
		return 0, false, nil
	case i < 0:
		return 0, false, l7.ErrNeedMore
	}
	n := i + 1
	if p.bug == "overread" && data[0] == '-' {
		return n + 1, false, nil
	}
	defer func() { p.off[dir] += int64(n) }()
	if p.skip[dir] {
		p.skip[dir] = false
		return n, false, nil
	}
	line := data[:i]
	if len(line) == 0 {
		switch p.bug {
		case "foreign-error":
			return n, false, errors.New("line: empty")
		case "wrong-protocol":
			return n, false, &l7.ParseError{Protocol: "HTTP", Offset: p.off[dir], Err: errBadLine}
		}
		return n, false, &l7.ParseError{Protocol: "LINE", Offset: p.off[dir], Err: errBadLine}
	}
	if p.bug == "writes-input" {
		data[0] |= 0x20
	}
	m.Length = n
	switch {
	case dir == l7.ToClient && line[0] == '+':
		m.Kind, m.Status, m.Result = l7.KindResponse, l7.StatusOk, line[1:]
	case dir == l7.ToClient && line[0] == '-':
		m.Kind, m.Status, m.Exception = l7.KindResponse, l7.StatusServerError, line[1:]
	case dir == l7.ToClient:
		return n, false, &l7.ParseError{Protocol: "LINE", Offset: p.off[dir], Err: errBadLine}
	default:
		m.Kind = l7.KindRequest
		m.RequestType, m.RequestResource, _ = bytes.Cut(line, []byte(" "))
		if p.bug == "allocates" {
			m.RequestType = []byte(string(m.RequestType))
		}
	}
	if p.bug == "no-kind" && m.Kind == l7.KindResponse {
		m.Kind = 0
	}
	return n, true, nil
}

func (p *lineParser) Gap(dir l7.Direction, n int) { p.skip[dir] = n != 0 }

// Trailing reports the bytes skipped after a gap (l7.Trailer): they
// belong to no message.
func (p *lineParser) Trailing(dir l7.Direction) bool { return p.skip[dir] }

// noTrailerParser is a lineParser that does not say that the bytes it
// skips after a gap belong to no message (no Trailing), so the message
// after them takes its start time from them.
type noTrailerParser struct{ p lineParser }

func (p *noTrailerParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	return p.p.Parse(data, dir, m)
}

func (p *noTrailerParser) Gap(dir l7.Direction, n int) { p.p.Gap(dir, n) }

var (
	client = netip.MustParseAddrPort("10.1.0.1:41000")
	server = netip.MustParseAddrPort("10.1.0.2:7000")
)

func lineConversation() *l7test.Conversation {
	return l7test.NewConversation(client, server, l7.TCP).
		Request([]byte("GET alpha\nGET beta\n")).
		Response([]byte("+1\n")).
		Response([]byte("-no beta\n")).
		Request([]byte("SET gamma 3\n")).
		Wait(time.Second).
		Response([]byte("+ok\n"))
}

// errorConversation has a line the parser rejects.
func errorConversation() *l7test.Conversation {
	return lineConversation().Request([]byte("\nQUIT now\n")).Response([]byte("bye\n+ok\n"))
}

func TestCheckContract_Good(t *testing.T) {
	v6 := l7test.NewConversation(netip.MustParseAddrPort("[2001:db8::1]:41000"), netip.MustParseAddrPort("[2001:db8::2]:7000"), l7.TCP).
		Request([]byte("GET alpha\nGET beta\n")).Response([]byte("+1\n+2\n"))
	l7test.CheckContract(t, &lineDecoder{}, lineConversation(), errorConversation(), v6,
		lineConversation().Snaplen(70),
		l7test.NewConversation(client, server, l7.TCP).Segment(3).NoHandshake().
			Request([]byte("PING\n")).Gap(l7.ToClient, 5).Response([]byte("+x\n+PONG\n")))
}

func TestCheckContract_Broken(t *testing.T) {
	tests := []struct {
		bug  string
		conv *l7test.Conversation
		want string // a regular expression the failure matches
	}{
		{"check-panics", lineConversation(), `Check\(""`},
		{"assumes-whole-line", lineConversation(), `Parse.*panicked`},
		{"partial-line-is-message", lineConversation(), `records differ`},
		{"no-progress", lineConversation(), `no progress`},
		{"overread", lineConversation(), `consumed outside its input`},
		{"foreign-error", errorConversation(), `matching none of`},
		{"wrong-protocol", errorConversation(), `ParseError with protocol "HTTP"`},
		{"writes-input", lineConversation(), `modified its input`},
		{"no-kind", lineConversation(), `message of kind 0`},
		{"no-trailer", l7test.NewConversation(client, server, l7.TCP).
			Request([]byte("GET a\n")).
			Response([]byte("+a\n")).
			Response([]byte("bad\n")).  // an error: the engine makes the parser skip a line
			Response([]byte("tail\n")). // no message: Trailing should say so
			Wait(time.Millisecond).
			Request([]byte("GET x\n")).
			Response([]byte("+x\n")), `response .* before its request`},
	}
	for _, tc := range tests {
		t.Run(tc.bug, func(t *testing.T) {
			ft := runFake(t, func(tb testing.TB) { l7test.CheckContract(tb, &lineDecoder{bug: tc.bug}, tc.conv) })
			if !ft.failed {
				t.Fatalf("the contract check passed")
			}
			msg := strings.Join(ft.msgs, "\n")
			if !regexp.MustCompile(tc.want).MatchString(msg) {
				t.Errorf("failure does not match %q:\n%s", tc.want, msg)
			}
		})
	}
}

func TestCheckZeroAlloc(t *testing.T) {
	cases := []l7test.Case{
		{Name: "request", In: []byte("GET alpha\n"), Dir: l7.ToServer},
		{Name: "response", In: []byte("+1\n-no\n"), Dir: l7.ToClient},
		{Name: "check only", In: []byte("\x16\x03\x01"), CheckOnly: true},
	}
	l7test.CheckZeroAlloc(t, &lineDecoder{}, cases...)
	ft := runFake(t, func(tb testing.TB) { l7test.CheckZeroAlloc(tb, &lineDecoder{bug: "allocates"}, cases...) })
	if !ft.failed || !strings.Contains(strings.Join(ft.msgs, "\n"), "request: Parse allocates") {
		t.Errorf("an allocating parser passed: %q", ft.msgs)
	}
	if a := l7test.AllocsPerMessage(t, &lineDecoder{bug: "allocates"}, cases[0]); a != 1 {
		t.Errorf("AllocsPerMessage = %v, want 1", a)
	}
}

func FuzzDecoder(f *testing.F) {
	l7test.FuzzDecoder(f, &lineDecoder{}, lineConversation(), errorConversation())
}

// fakeTB records failures instead of failing the test; Fatalf ends the
// goroutine that runs the check, as it does a test.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Error(args ...any) { f.Errorf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) FailNow()          { f.Fatalf("FailNow") }
func (f *fakeTB) Fail()             { f.Errorf("Fail") }
func (f *fakeTB) Failed() bool      { return f.failed }
func (f *fakeTB) Log(args ...any)   {}
func (f *fakeTB) Logf(string, ...any) {
}

var pcapPath = regexp.MustCompile(`frames of the variant: (\S+)`)

// runFake runs fn with a fakeTB in a goroutine of its own and returns it
// once fn ends, removing the pcap files the failures name.
func runFake(t *testing.T, fn func(tb testing.TB)) *fakeTB {
	ft := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done
	for _, m := range ft.msgs {
		if p := pcapPath.FindStringSubmatch(m); p != nil {
			os.Remove(p[1])
		}
	}
	return ft
}

// weakDecoder is a lineDecoder whose requests alone are ambiguous
// (l7.WeakRequest) and whose responses Check does not recognise: only its
// port hint lets the engine pick it.
type weakDecoder struct{ lineDecoder }

func (d *weakDecoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if v := d.lineDecoder.Check(p, dir, t); v == l7.Request {
		return l7.WeakRequest
	}
	return l7.No
}

func (d *weakDecoder) PortHints() []uint16 { return []uint16{server.Port()} }

func TestCheckContract_PortHints(t *testing.T) {
	l7test.CheckContract(t, &weakDecoder{}, lineConversation())
}
