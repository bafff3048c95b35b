package redis

import (
	"bytes"
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
)

// Sentinel errors, each wrapped in a *l7.ParseError by Parse. All of them
// match l7.ErrMalformed with errors.Is.
var (
	ErrBadType   = fmt.Errorf("redis: unknown type byte: %w", l7.ErrMalformed)
	ErrBadLength = fmt.Errorf("redis: bad length or count: %w", l7.ErrMalformed)
	ErrTooDeep   = fmt.Errorf("redis: aggregates nested too deep: %w", l7.ErrMalformed)
	ErrLineLong  = fmt.Errorf("redis: line too long: %w", l7.ErrMalformed)
)

// Name is the l7_protocol value of this decoder.
const Name = "Redis"

const (
	maxDepth     = 32
	maxLine      = 64 << 10 // an inline command or a simple value line
	maxBulk      = 512 << 20
	maxCount     = 1 << 31
	resourceSize = 256
	cmdSize      = 32
	excSize      = 256
	checkWindow  = 512 // bytes of a payload Check looks at
)

// The decoder's shape.
var (
	_ l7.Decoder = (*Decoder)(nil)
	_ l7.Parser  = (*Parser)(nil)
	_ l7.Trailer = (*Parser)(nil)
)

// Config tunes the decoder. It has no fields yet; the zero value (or a nil
// *Config) means defaults.
type Config struct{}

// Decoder is the Redis decoder. It is stateless and safe for concurrent
// use; get one from New.
type Decoder struct {
	cfg Config
}

// New returns the Redis decoder configured by c; nil means defaults.
func New(c *Config) *Decoder {
	d := &Decoder{}
	if c != nil {
		d.cfg = *c
	}
	return d
}

// Name returns "Redis".
func (*Decoder) Name() string { return Name }

// MaxPending returns the requests one flow may hold waiting for their
// responses (l7.PendingLimiter): 10000, as clients pipeline thousands of commands (redis-benchmark -P, redis-cli --pipe).
func (*Decoder) MaxPending() int { return 10000 }

// NewParser returns the per-flow state of one connection, a *Parser.
func (*Decoder) NewParser(_ l7.Transport) l7.Parser { return &Parser{} }

// Check accepts, on TCP, a command in RESP form (an array of bulk strings
// "*N\r\n$") as a Request, and a line starting with a RESP type byte and
// ending in CRLF as a Response. An array is a Request when dir is
// l7.ToServer and a Response otherwise. An inline command (a line whose
// first word is a common Redis command) is l7.WeakRequest: "get k" or
// "set k 0 0 5" are memcached commands too, so the engine takes it only
// where the flow is already known to be Redis (the endpoint cache or a port
// hint says so; a RESP request or reply seen on the flow decides at once).
func (*Decoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP || len(p) < 3 {
		return l7.No
	}
	head := p[:min(len(p), checkWindow)]
	eol := bytes.IndexByte(head, '\n')
	if eol < 0 {
		// Only an inline command has a first line this long.
		if i := bytes.IndexByte(head, ' '); i > 0 && isCommonCommand(head[:i]) &&
			!bytes.Contains(head, []byte(" HTTP/")) {
			return l7.WeakRequest
		}
		return l7.No
	}
	if eol < 2 || p[eol-1] != '\r' {
		return l7.No // no line, or an empty one: nothing to judge
	}
	line := p[:eol-1]
	switch line[0] {
	case '*':
		if _, ok := parseInt(line[1:]); !ok {
			return l7.No
		}
		if dir == l7.ToServer {
			if len(p) > eol+1 && p[eol+1] != '$' {
				return l7.No
			}
			return l7.Request
		}
		return l7.Response
	case '$', '!', '=', '%', '~', '>', '|', ':':
		if _, ok := parseInt(line[1:]); !ok {
			return l7.No
		}
		return l7.Response
	case '+', '-', '_', ',', '#', '(':
		if !printable(line[1:]) {
			return l7.No
		}
		return l7.Response
	}
	w := line
	if i := bytes.IndexByte(w, ' '); i >= 0 {
		w = w[:i]
	}
	if isCommonCommand(w) && !bytes.Contains(line, []byte(" HTTP/")) {
		return l7.WeakRequest
	}
	return l7.No
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// isCommonCommand reports whether w (any case) is a command seen inline.
func isCommonCommand(w []byte) bool {
	if len(w) < 3 || len(w) > 12 {
		return false
	}
	var up [12]byte
	for i, c := range w {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	switch string(up[:len(w)]) {
	case "PING", "AUTH", "GET", "SET", "DEL", "INCR", "DECR", "EXISTS", "KEYS",
		"INFO", "HELLO", "SELECT", "QUIT", "ECHO", "MGET", "MSET", "EXPIRE",
		"TTL", "TYPE", "HGET", "HSET", "HGETALL", "LPUSH", "RPUSH", "LPOP",
		"RPOP", "LRANGE", "SADD", "SMEMBERS", "ZADD", "ZRANGE", "SCAN",
		"CLIENT", "CONFIG", "COMMAND", "MONITOR", "SUBSCRIBE", "PUBLISH",
		"FLUSHALL", "FLUSHDB", "DBSIZE", "MULTI", "EXEC", "DISCARD", "WATCH",
		"XADD", "XREAD", "EVAL", "EVALSHA", "SCRIPT", "APPEND", "STRLEN",
		"SETEX", "SETNX", "INCRBY", "PSUBSCRIBE", "UNSUBSCRIBE", "SHUTDOWN",
		"SAVE", "BGSAVE", "SLOWLOG", "CLUSTER", "READONLY", "REPLCONF", "PSYNC":
		return true
	}
	return false
}

// parseInt parses a RESP length or count: an optional '-' and decimal
// digits.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
