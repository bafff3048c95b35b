package memcached

import (
	"bytes"
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
)

// Name is the l7_protocol value of this decoder's records.
const Name = "Memcached"

// Sentinel errors, each wrapped in a *l7.ParseError by Parse. All of them
// match l7.ErrMalformed with errors.Is.
var (
	ErrLineLong    = fmt.Errorf("memcached: line too long: %w", l7.ErrMalformed)
	ErrBadCommand  = fmt.Errorf("memcached: not a command line: %w", l7.ErrMalformed)
	ErrBadResponse = fmt.Errorf("memcached: not a response line: %w", l7.ErrMalformed)
)

// Limits.
const (
	DefaultMaxLine = 8 << 10  // Config.MaxLine default
	MaxMaxLine     = 64 << 10 // Config.MaxLine limit
	maxKey         = 250      // memcached's key length limit
	checkWindow    = 512      // bytes of a payload Check looks at
	firstSize      = 256      // bytes kept of a multi-line response's first line
)

// Config configures a Decoder. The zero value means defaults.
type Config struct {
	// MaxLine is the longest command or response line (a multi-get of many
	// keys is one line) Parse waits for; a longer one is a parse error.
	// The engine's Config.MaxBufferPerDirection bounds it too. Default
	// 8 KiB, limit 64 KiB.
	MaxLine int
}

// Decoder is the memcached text-protocol decoder. It is stateless and safe
// for concurrent use.
type Decoder struct{ cfg Config }

var (
	_ l7.Decoder    = (*Decoder)(nil)
	_ l7.PortHinter = (*Decoder)(nil)
)

// New returns a decoder for c; nil means defaults.
func New(c *Config) *Decoder {
	d := &Decoder{}
	if c != nil {
		d.cfg = *c
	}
	if d.cfg.MaxLine <= 0 {
		d.cfg.MaxLine = DefaultMaxLine
	}
	d.cfg.MaxLine = min(d.cfg.MaxLine, MaxMaxLine)
	return d
}

// Name returns "Memcached".
func (*Decoder) Name() string { return Name }

// PortHints implements l7.PortHinter: memcached's well-known port, 11211,
// where inference tries this decoder first.
func (*Decoder) PortHints() []uint16 { return []uint16{11211} }

// NewParser returns the per-flow state of one connection, a *Parser.
func (d *Decoder) NewParser(_ l7.Transport) l7.Parser { return &Parser{maxLine: d.cfg.MaxLine} }

// Check recognises, on TCP, a first line that is a well-formed memcached
// command (lower case, as the server requires, with the arguments its
// grammar asks for: "set k 0 0 5", "get k1 k2", "incr k 1") as an
// l7.Request, and a line that only a memcached server sends ("VALUE k 0 5",
// "END", "STORED", "NOT_FOUND", "STAT ...", "VERSION ...", "SERVER_ERROR
// ...") as an l7.Response, whatever dir says. Lines other protocols share
// ("OK", "ERROR", a bare number) are not enough. It does not allocate.
func (*Decoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP {
		return l7.No
	}
	head := p[:min(len(p), checkWindow)]
	eol := bytes.Index(head, crlf)
	if eol < 0 {
		return l7.No
	}
	line := head[:eol]
	if !printable(line) {
		return l7.No
	}
	var tok tokens
	tok.split(line)
	if tok.n == 0 {
		return l7.No
	}
	if isRequest(&tok) {
		return l7.Request
	}
	if isResponse(&tok) {
		return l7.Response
	}
	return l7.No
}

var crlf = []byte("\r\n")

// isRequest reports whether tok is a command line the memcached grammar
// accepts.
func isRequest(t *tokens) bool {
	args := t.n - 1
	if args > 0 && string(t.at(t.n-1)) == "noreply" {
		args--
	}
	switch string(t.at(0)) {
	case "get", "gets":
		return args >= 1 && t.keys(1, t.n)
	case "gat", "gats":
		return args >= 2 && isInt(t.at(1)) && t.keys(2, t.n)
	case "set", "add", "replace", "append", "prepend":
		return args == 4 && t.keys(1, 2) && isUint(t.at(2)) && isInt(t.at(3)) && isUint(t.at(4))
	case "cas":
		return args == 5 && t.keys(1, 2) && isUint(t.at(2)) && isInt(t.at(3)) && isUint(t.at(4)) && isUint(t.at(5))
	case "incr", "decr":
		return args == 2 && t.keys(1, 2) && isUint(t.at(2))
	case "touch":
		return args == 2 && t.keys(1, 2) && isInt(t.at(2))
	case "delete":
		return (args == 1 || args == 2 && string(t.at(2)) == "0") && t.keys(1, 2)
	case "flush_all":
		return args == 0 || args == 1 && isInt(t.at(1))
	case "verbosity":
		return args == 1 && isUint(t.at(1))
	case "version", "quit":
		return t.n == 1
	case "stats":
		return true
	}
	return false
}

// isResponse reports whether tok is a line only a memcached server sends.
func isResponse(t *tokens) bool {
	switch string(t.at(0)) {
	case "VALUE":
		return (t.n == 4 || t.n == 5 && isUint(t.at(4))) && t.keys(1, 2) && isUint(t.at(2)) && isUint(t.at(3))
	case "END", "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED":
		return t.n == 1
	case "STAT":
		return t.n >= 3
	case "VERSION", "CLIENT_ERROR", "SERVER_ERROR":
		return t.n >= 2
	}
	return false
}

// tokens splits a line on spaces into at most len(idx) words, without
// allocating. Words past the last are joined to it, as memcached does.
type tokens struct {
	line []byte
	idx  [8][2]int32
	n    int
}

func (t *tokens) split(line []byte) {
	t.line, t.n = line, 0
	i := 0
	for i < len(line) && t.n < len(t.idx) {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		t.idx[t.n] = [2]int32{int32(i), int32(j)}
		t.n++
		i = j
	}
	if t.n == len(t.idx) && i < len(line) {
		t.idx[t.n-1][1] = int32(len(bytes.TrimRight(line, " ")))
	}
}

func (t *tokens) at(i int) []byte {
	if i >= t.n {
		return nil
	}
	return t.line[t.idx[i][0]:t.idx[i][1]]
}

// keys reports whether the words from i to j (exclusive, capped at the
// words present) are valid keys: at most 250 bytes, no control bytes.
func (t *tokens) keys(i, j int) bool {
	j = min(j, t.n)
	if i >= j {
		return false
	}
	for ; i < j; i++ {
		k := t.at(i)
		if len(k) > maxKey && i < len(t.idx)-1 {
			return false
		}
	}
	return true
}

// printable reports whether b holds no control bytes.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func isUint(b []byte) bool {
	_, ok := parseUint(b)
	return ok
}

func isInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	return isUint(b)
}

// parseUint parses decimal digits (at most 20: a uint64).
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
