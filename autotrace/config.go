package autotrace

import (
	"errors"
	"strconv"
	"time"
)

// Rule is an association rule: what made two spans related.
type Rule uint8

// Rules. RuleTCPSeq links the spans of one call seen at several points;
// the others link a call to the call that caused it.
const (
	RuleNone       Rule = iota // a root: no parent
	RuleTCPSeq                 // "tcp_seq": same call, by req_tcp_seq / resp_tcp_seq on one flow
	RuleSyscall                // "syscall": egress calls of the thread (goroutine) that serves a request
	RuleXRequestID             // "x_request_id": a proxy's inbound and outbound calls share X-Request-ID
	RuleAppID                  // "app_id": trace_id with span_id / parent_span_id (traceparent, B3, sw8, OTel)
	numRules
)

var ruleNames = [...]string{RuleNone: "", RuleTCPSeq: "tcp_seq", RuleSyscall: "syscall", RuleXRequestID: "x_request_id", RuleAppID: "app_id"}

// String returns the rule's name ("tcp_seq", "syscall", ...).
func (r Rule) String() string {
	if int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return "rule(" + strconv.Itoa(int(r)) + ")"
}

// RuleSet is a set of rules, a bit per Rule. The zero value means all.
type RuleSet uint8

// Rules returns the set of rs.
func Rules(rs ...Rule) RuleSet {
	var s RuleSet
	for _, r := range rs {
		s |= 1 << r
	}
	return s
}

// Has reports whether s enables r (the zero set enables every rule).
func (s RuleSet) Has(r Rule) bool { return s == 0 || s&(1<<r) != 0 }

// Config configures Search and Assemble. The zero value means defaults.
type Config struct {
	// Rules are the association rules used. Default (0): all of them.
	Rules RuleSet
	// IgnoreAppIDs drops the ids applications propagate (trace_id,
	// span_id, parent_span_id: W3C traceparent, B3, sw8, OTel): the
	// app_id rule is off, the search does not follow trace ids, and
	// application spans (c-app, s-app, app) are left out. What remains is
	// zero-code: eBPF, packets and the X-Request-ID a proxy sets by
	// configuration. Default false.
	IgnoreAppIDs bool
	// MaxRounds bounds the search's rounds. Default 30 (DeepFlow's), at
	// most 1,000.
	MaxRounds int
	// MaxSpans bounds the spans a search gathers; the search stops when it
	// has this many (Result.Truncated). Default 1,000, at most 1,000,000.
	MaxSpans int
	// Window widens each round's time range: spans starting within Window
	// of the gathered spans' range are searched. Default 10 s.
	Window time.Duration
	// Tolerance is the time two observations of one call may disagree by
	// (network delay and clock offset between hosts), and the slack of
	// time containment between a parent and its child. Default 60 ms
	// (DeepFlow: 50 ms of network and 10 ms of clock).
	Tolerance time.Duration
	// ProcessTolerance is the slack of time containment between spans of
	// one process (the syscall rule: one host, one clock; a request is
	// read before the calls made for it). Default 100 µs.
	ProcessTolerance time.Duration
}

// Defaults.
const (
	DefaultMaxRounds = 30
	DefaultMaxSpans  = 1000
	DefaultWindow    = 10 * time.Second
	DefaultTolerance = 60 * time.Millisecond

	DefaultProcessTolerance = 100 * time.Microsecond
)

func (c Config) withDefaults() Config {
	if c.MaxRounds <= 0 {
		c.MaxRounds = DefaultMaxRounds
	}
	c.MaxRounds = min(c.MaxRounds, 1000)
	if c.MaxSpans <= 0 {
		c.MaxSpans = DefaultMaxSpans
	}
	c.MaxSpans = min(c.MaxSpans, 1_000_000)
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Tolerance <= 0 {
		c.Tolerance = DefaultTolerance
	}
	if c.ProcessTolerance <= 0 {
		c.ProcessTolerance = DefaultProcessTolerance
	}
	if c.IgnoreAppIDs {
		if c.Rules == 0 {
			c.Rules = Rules(RuleTCPSeq, RuleSyscall, RuleXRequestID)
		} else {
			c.Rules &^= 1 << RuleAppID
		}
	}
	return c
}

// Errors.
var (
	// ErrTapSide: a tap side name that is not one of DeepFlow's.
	ErrTapSide = errors.New("autotrace: unknown tap side")
	// ErrNotL7: a JSON record that is not an l7_flow_log record (another
	// record type); skip it.
	ErrNotL7 = errors.New("autotrace: not an l7_flow_log record")
	// ErrRecord: a record that cannot be read (bad JSON, a field of the
	// wrong type or out of range).
	ErrRecord = errors.New("autotrace: bad record")
	// ErrNoSeed: the search's seed query found no span.
	ErrNoSeed = errors.New("autotrace: no span matches the seed")
	// ErrEmptyQuery: a query with no key.
	ErrEmptyQuery = errors.New("autotrace: query has no key")
)

// FieldError is a field with a bad value; it unwraps to ErrTapSide or
// ErrRecord.
type FieldError struct {
	Field, Value string
	Err          error
}

func (e *FieldError) Error() string {
	return e.Err.Error() + ": " + e.Field + " " + strconv.Quote(e.Value)
}

func (e *FieldError) Unwrap() error { return e.Err }

// StoreError is a Store's failure during a search round; it unwraps to
// the store's error.
type StoreError struct {
	Round int // 1-based
	Err   error
}

func (e *StoreError) Error() string {
	return "autotrace: store, round " + strconv.Itoa(e.Round) + ": " + e.Err.Error()
}

func (e *StoreError) Unwrap() error { return e.Err }
