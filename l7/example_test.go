package l7_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/metaflow-go/metaflow/l7"
)

// lineDecoder is a user's own protocol: one message per line.
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

// A decoder of one's own gets the same reassembly, inference, pairing and
// records as the built-in ones.
func Example() {
	reg, err := l7.NewRegistry(lineDecoder{})
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
	c.Data(l7.ToServer, 6*ms, 20, []byte("SET gamma 3\nQUIT\n"))
	c.Close(10 * ms)
	// Output:
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 GET alpha -> Ok 1 4000us
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 GET beta -> ClientError NOTFOUND beta 4000us
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 QUIT
	// LINE 10.0.0.1:40000 > 10.0.0.2:7000 SET gamma 3 -> Timeout
}

// Records encode to JSON with the l7_flow_log keys.
func ExampleRecord_AppendJSON() {
	reg, _ := l7.NewRegistry(lineDecoder{})
	eng, _ := l7.NewEngine(l7.Config{
		Registry: reg,
		OnRecord: func(r *l7.Record) { fmt.Println(string(r.AppendJSON(nil))) },
	})
	c := eng.Open(l7.ConnInfo{
		ID:        7,
		Client:    netip.MustParseAddrPort("[fd00::1]:50000"),
		Server:    netip.MustParseAddrPort("[fd00::2]:7000"),
		Transport: l7.TCP,
		Oriented:  true,
	}, 0)
	const t0 = 1_700_000_000_000_000_000                     // unix ns
	c.Segment(l7.ToServer, t0, 100, 0, 0x02, nil, 0)         // SYN
	c.Segment(l7.ToClient, t0+100_000, 900, 0, 0x12, nil, 0) // SYN-ACK
	c.Segment(l7.ToServer, t0+200_000, 101, 0, 0x18, []byte("GET \"k\"\n"), 0)
	c.Segment(l7.ToClient, t0+450_000, 901, 0, 0x18, []byte("-ERR boom\n"), 0)
	c.Close(t0 + 1e9)
	// Output:
	// {"type":"l7_flow_log","flow_id":7,"start_time":"2023-11-14T22:13:20.000200000Z","end_time":"2023-11-14T22:13:20.000450000Z","response_duration":250,"ip_0":"fd00::1","ip_1":"fd00::2","client_port":50000,"server_port":7000,"protocol":"TCP","l7_protocol":"LINE","is_tls":false,"req_tcp_seq":101,"resp_tcp_seq":901,"request_length":8,"response_length":10,"captured_request_byte":8,"captured_response_byte":10,"request_type":"GET","request_resource":"\"k\"","response_status":"ServerError","response_exception":"ERR boom"}
}
