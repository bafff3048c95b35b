package l7_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/metaflow-go/metaflow/l7"
)

// This file is a complete decoder of one's own, in the shape every decoder
// of this module has (see "Decoders" in the package documentation). In a
// package of its own (say example.com/line), exampleName, exampleConfig,
// exampleDecoder, newExampleDecoder and exampleParser would be Name,
// Config, Decoder, New and Parser, and the errors ErrLineTooLong and
// ErrEmptyLine.
//
// The protocol is one message per line:
//
//	request:  [@ID ]VERB [ARG]\n   (QUIT gets no response)
//	response: [@ID ]+RESULT\n      (Ok)
//	          [@ID ]-ERR TEXT\n    (ServerError; "-NOTFOUND ..." is a ClientError)
//	          [@ID ]>PUSH\n        (a pushed message, not an answer)

// exampleName is the l7_protocol value of the decoder's records.
const exampleName = "LINE"

// Errors, each wrapped by Parse in a *l7.ParseError and matching
// l7.ErrMalformed.
var (
	errExampleLineTooLong = fmt.Errorf("line: line too long: %w", l7.ErrMalformed)
	errExampleEmptyLine   = fmt.Errorf("line: empty line: %w", l7.ErrMalformed)
)

// exampleConfig tunes the decoder; the zero value (or nil) means defaults.
type exampleConfig struct {
	// MaxLine bounds a line; a longer one is malformed. Default 4096,
	// limit 65536.
	MaxLine int
}

// exampleDecoder is stateless and safe for concurrent use.
type exampleDecoder struct{ cfg exampleConfig }

// newExampleDecoder returns the decoder configured by c; nil means defaults.
func newExampleDecoder(c *exampleConfig) *exampleDecoder {
	d := &exampleDecoder{cfg: exampleConfig{MaxLine: 4096}}
	if c != nil && c.MaxLine > 0 {
		d.cfg.MaxLine = min(c.MaxLine, 65536)
	}
	return d
}

// Name returns "LINE".
func (d *exampleDecoder) Name() string { return exampleName }

// Check recognises a response by its first byte and a request by an
// upper-case verb followed by a space or the end of the line. It looks at
// a few bytes, allocates nothing and accepts any prefix, even empty.
func (d *exampleDecoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP {
		return l7.No
	}
	_, _, p = cutMsgID(p)
	switch {
	case len(p) == 0:
		return l7.No
	case p[0] == '+' || p[0] == '-' || p[0] == '>':
		return l7.Response
	}
	n := 0
	for n < len(p) && p[n] >= 'A' && p[n] <= 'Z' {
		n++
	}
	if n > 0 && n < len(p) && (p[n] == ' ' || p[n] == '\n') {
		return l7.Request
	}
	return l7.No
}

// NewParser returns the per-flow state of one connection, a *exampleParser.
func (d *exampleDecoder) NewParser(t l7.Transport) l7.Parser {
	return &exampleParser{maxLine: d.cfg.MaxLine}
}

// exampleParser is the per-flow state: where each direction stands.
type exampleParser struct {
	maxLine int
	resync  [2]bool  // after a gap or an error: skip to the next line
	off     [2]int64 // stream offset of the next byte, for errors
}

// Parse decodes one line of data. An incomplete line asks for more bytes;
// message fields alias data.
func (p *exampleParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > p.maxLine {
			return 0, false, p.fail(dir, errExampleLineTooLong)
		}
		return 0, false, l7.ErrNeedMore
	}
	n := i + 1
	if p.resync[dir] {
		// The rest of a line whose start was lost: no message.
		p.resync[dir] = false
		p.off[dir] += int64(n)
		return n, false, nil
	}
	id, hasID, line := cutMsgID(data[:i])
	if len(line) == 0 {
		return 0, false, p.fail(dir, errExampleEmptyLine)
	}
	p.off[dir] += int64(n)
	m.Length = n
	m.ID, m.HasID = id, hasID
	switch line[0] {
	case '+', '>':
		m.Kind = l7.KindResponse
		m.Status = l7.StatusOk
		m.Result = line[1:]
		m.Streaming = line[0] == '>'
		return n, true, nil
	case '-':
		m.Kind = l7.KindResponse
		m.Status = l7.StatusServerError
		if bytes.HasPrefix(line[1:], []byte("NOTFOUND")) {
			m.Status = l7.StatusClientError
		}
		m.Exception = line[1:]
		return n, true, nil
	}
	verb, arg, _ := bytes.Cut(line, []byte(" "))
	m.Kind = l7.KindRequest
	m.RequestType = verb
	m.RequestResource = arg
	m.NoResponse = string(verb) == "QUIT"
	return n, true, nil
}

// fail wraps err with the protocol and the stream offset of the fault.
func (p *exampleParser) fail(dir l7.Direction, err error) error {
	return &l7.ParseError{Protocol: exampleName, Offset: p.off[dir], Err: err}
}

// Gap makes the direction skip to the next line: the bytes before it
// belong to a line whose start was lost (or, after an error, that the
// engine dropped).
func (p *exampleParser) Gap(dir l7.Direction, n int) {
	p.resync[dir] = true
	if n > 0 {
		p.off[dir] += int64(n)
	}
}

// Trailing reports (l7.Trailer) that the bytes skipped while
// resynchronising belong to no message, so that the next message does not
// take its start time and sequence number from them.
func (p *exampleParser) Trailing(dir l7.Direction) bool { return p.resync[dir] }

// cutMsgID splits an optional "@123 " prefix off a line.
func cutMsgID(p []byte) (uint64, bool, []byte) {
	if len(p) < 3 || p[0] != '@' {
		return 0, false, p
	}
	sp := bytes.IndexByte(p, ' ')
	if sp < 2 {
		return 0, false, p
	}
	id, err := strconv.ParseUint(string(p[1:sp]), 10, 64)
	if err != nil {
		return 0, false, p
	}
	return id, true, p[sp+1:]
}

// A decoder of one's own gets the same reassembly, inference, pairing and
// records as the built-in ones.
func Example() {
	reg, err := l7.NewRegistry(newExampleDecoder(nil))
	if err != nil {
		panic(err)
	}
	var line []byte
	eng, err := l7.NewEngine(l7.Config{
		Registry: reg,
		OnRecord: func(r *l7.Record) {
			line = r.AppendText(line[:0])
			fmt.Println(string(line))
		},
	})
	if err != nil {
		panic(err)
	}
	c := eng.Open(l7.ConnInfo{
		ID:        1,
		Client:    netip.MustParseAddrPort("10.0.0.1:40000"),
		Server:    netip.MustParseAddrPort("10.0.0.2:7000"),
		Transport: l7.TCP,
	}, 0)
	const ms = 1e6
	// Two pipelined requests, the second split across chunks.
	c.Data(l7.ToServer, 1*ms, 1, []byte("GET alpha\nGET be"))
	c.Data(l7.ToServer, 2*ms, 17, []byte("ta\n"))
	c.Data(l7.ToClient, 5*ms, 1, []byte("+1\n-NOTFOUND beta\n"))
	// Answers by id, in another order than the requests.
	c.Data(l7.ToServer, 6*ms, 20, []byte("@7 SET gamma 3\n@8 DEL delta\n"))
	c.Data(l7.ToClient, 7*ms, 19, []byte("@8 +0\n>news\n@7 -ERR read only\n"))
	// A lost line: the parser skips the rest of it.
	c.Gap(l7.ToServer, 8*ms, 5)
	c.Data(l7.ToServer, 9*ms, 54, []byte("ta\nQUIT\n"))
	c.Close(10 * ms)
	// Output:
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 GET alpha -> Ok 1 4000us
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 GET beta -> ClientError NOTFOUND beta 4000us
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 DEL delta -> Ok 0 1000us
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 (no request) -> Ok news
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 SET gamma 3 -> ServerError ERR read only 1000us
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 QUIT
}
