package l7_test

import (
	"bytes"
	"strconv"

	"github.com/metaflow-go/metaflow/l7"
)

// lineDecoder is the engine tests' protocol: one message per line. It is a
// test fixture with value receivers, so that tests embed and copy it;
// example_decoder_test.go shows the same protocol as a decoder in the
// shape of this module's decoders.
//
//	request:  [@ID ]VERB [ARG]\n   (QUIT gets no response)
//	response: [@ID ]+RESULT\n      (Ok)
//	          [@ID ]-ERR TEXT\n    (ServerError; "-NOTFOUND ..." is a ClientError)
//	          [@ID ]>PUSH\n        (a pushed message, not an answer)
type lineDecoder struct{}

func (lineDecoder) Name() string { return "LINE" }

func (lineDecoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	_, _, p = cutID(p)
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

func (lineDecoder) NewParser(t l7.Transport) l7.Parser { return &lineParser{} }

type lineParser struct {
	resync [2]bool // skip to the next line after a gap
}

const maxLine = 4096

func (p *lineParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > maxLine {
			return 0, false, l7.ErrMalformed
		}
		return 0, false, l7.ErrNeedMore
	}
	n := i + 1
	if p.resync[dir] {
		p.resync[dir] = false
		return n, false, nil
	}
	line := data[:i]
	m.Length = n
	id, hasID, line := cutID(line)
	m.ID, m.HasID = id, hasID
	if len(line) == 0 {
		return n, false, l7.ErrMalformed
	}
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

func (p *lineParser) Gap(dir l7.Direction, n int) { p.resync[dir] = true }

// cutID splits an optional "@123 " prefix off a line.
func cutID(p []byte) (uint64, bool, []byte) {
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
