package l7

import "errors"

// Direction is a message's direction as the engine currently believes it.
type Direction uint8

// Directions.
const (
	ToServer Direction = 0 // client → server: requests
	ToClient Direction = 1 // server → client: responses
)

// Verdict is a decoder's answer to Check.
type Verdict uint8

// Verdicts.
const (
	No       Verdict = iota // not this protocol
	Request                 // this protocol, and the bytes are a request (client → server)
	Response                // this protocol, and the bytes are a response (server → client)
	// WeakRequest: a request of this protocol, if the flow is already
	// known to be it, since bytes of this shape are common to several
	// protocols (a text line "get k" is a Redis inline command and a
	// memcached command). The engine takes it only when the endpoint
	// cache names this decoder for the server endpoint (another flow to
	// it was recognised from unambiguous bytes) or a port hint of either
	// port names it; otherwise it tries the next decoder and, if none
	// recognises the bytes, keeps them in case the other direction tells.
	WeakRequest
)

// Transport tells a decoder which transport carried the bytes.
type Transport uint8

// Transports.
const (
	TCP Transport = 6
	UDP Transport = 17
)

// Decoder is one application protocol. It is an explicit value registered in
// a Registry; it holds no per-flow state and is safe for concurrent use.
type Decoder interface {
	// Name is the l7_protocol value in records, e.g. "HTTP". Unique in a
	// registry.
	Name() string
	// Check looks at the first payload bytes seen on a flow in direction dir
	// (the engine's current belief) and says whether they are this protocol
	// and whether they are a request or a response. A decoder whose
	// requests look like another protocol's returns WeakRequest for them.
	// It must be cheap, must not retain payload and must not allocate.
	Check(payload []byte, dir Direction, t Transport) Verdict
	// NewParser returns fresh per-flow state for one flow.
	NewParser(t Transport) Parser
}

// Parser decodes the messages of one flow in both directions. It is owned by
// the engine and used by one goroutine.
type Parser interface {
	// Parse decodes at most one message from the start of data, which holds
	// contiguous bytes of direction dir. For UDP, data is one datagram.
	//
	// It returns the number of bytes consumed and whether m was filled:
	//   - (n>0, true, nil): a message was decoded from data[:n].
	//   - (n>0, false, nil): n bytes were consumed without completing a
	//     message (a body skipped without buffering it, say); call again.
	//   - (0, false, ErrNeedMore): more bytes are needed; the engine keeps
	//     data and calls again when more arrive (within its buffer budget).
	//   - (n, false, ErrStop): the flow is not decoded any further.
	//   - (n, false, err) for any other error: the bytes cannot be decoded.
	//     The engine counts the error, drops every byte of dir it holds
	//     (data, not only n bytes of it) and, over TCP, calls Gap(dir, -1)
	//     to make the parser resynchronise.
	// n never exceeds len(data). data may be empty (the engine asks again
	// after each message) and must not be modified. Slices in m may alias
	// data or the parser's own buffers and are valid until the next call on
	// this Parser. Parse must not allocate in steady state.
	Parse(data []byte, dir Direction, m *Message) (n int, ok bool, err error)
	// Gap tells the parser that n bytes of direction dir were lost (n<0:
	// unknown). It should drop partial state and resynchronise on the next
	// message boundary it can recognise.
	Gap(dir Direction, n int)
}

// Trailer is implemented by parsers that consume bytes belonging to no new
// message: the body of a message already returned at the end of its headers
// (HTTP), or a handshake that yields no request (MySQL login). Trailing
// reports whether the next bytes of dir are such bytes, so that the engine
// does not take them as the first bytes (time and sequence number) of the
// next message. A message returned from such bytes starts where they start.
type Trailer interface {
	Trailing(dir Direction) bool
}

// Resetter is implemented by parsers the engine may reuse: when a flow
// ends, the engine keeps its parser (a bounded number per decoder) and,
// for a later flow of the same decoder, calls Reset instead of NewParser.
// Reset returns the parser to the state NewParser(t) gives, keeping only
// memory it owns (tables, buffers), so that nothing of the earlier flow
// shows in the next: a parser whose state is costly to allocate saves that
// cost per flow.
type Resetter interface {
	Reset(t Transport)
}

// Idler is implemented by parsers that need some memory only while they
// work on a message (scratch buffers for values they build): the engine
// calls Idle between its input calls (a packet, Data, Segment, Gap), when
// no Message the parser filled is in use any more: once the connection has
// had no input for a while (at most IdleDelay of the engine's clock), and
// before it keeps a parser for reuse. The parser may then give that memory back (to a pool),
// so that an idle connection's parser holds only its state between
// messages; Parse takes it again when needed.
type Idler interface {
	Idle()
}

// Flusher is implemented by parsers that can decode a message cut short.
// When bytes are lost (a hole in the stream, or payload cut by the
// capture's snaplen) while the engine holds the first bytes of a message
// that Parse answered with ErrNeedMore, it passes them to Flush before Gap;
// it does the same when the flow closes (end of input, timeout) with such
// bytes held, or with a message in progress whose bytes Parse consumed
// (data may then be empty), requests' direction first. Flush fills m from what is there
// and reports whether it did, as an HTTP parser does with a status line
// whose header block was cut. The parser's state must then match what
// follows the message (its body, say); Gap comes next as usual.
type Flusher interface {
	Flush(data []byte, dir Direction, m *Message) bool
}

// Errors returned by parsers.
var (
	// ErrNeedMore means the message is incomplete.
	ErrNeedMore = errors.New("l7: need more data")
	// ErrMalformed means the bytes break the protocol's grammar.
	ErrMalformed = errors.New("l7: malformed message")
	// ErrStop means the parser stops decoding this flow for good (a TLS
	// upgrade, an HTTP Upgrade, an unsupported compressed protocol). The
	// engine stops feeding the flow and counts it.
	ErrStop = errors.New("l7: stop decoding this flow")
)

// ParseError is a parse failure with the protocol and stream offset.
type ParseError struct {
	Protocol string
	Offset   int64
	Err      error
}

func (e *ParseError) Error() string {
	return "l7: " + e.Protocol + " parse error: " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Kind says whether a Message is a request or a response.
type Kind uint8

// Message kinds.
const (
	KindRequest Kind = iota + 1
	KindResponse
)

// Status is the response_status of a session.
type Status uint8

// Statuses (RECORDS.md names).
const (
	StatusOk Status = iota
	StatusClientError
	StatusServerError
	StatusTimeout
	StatusUnknown
	StatusParseFailed
)

// String returns the record value of s.
func (s Status) String() string {
	switch s {
	case StatusOk:
		return "Ok"
	case StatusClientError:
		return "ClientError"
	case StatusServerError:
		return "ServerError"
	case StatusTimeout:
		return "Timeout"
	case StatusUnknown:
		return "Unknown"
	case StatusParseFailed:
		return "ParseFailed"
	}
	return "Unknown"
}

// Message is one decoded request or response. The engine owns it and
// resets it (Reset) before each Parse; byte-slice fields alias the parser's
// input or buffers and are copied by the engine when it keeps them. Field
// meanings per protocol follow RECORDS.md.
type Message struct {
	Kind Kind

	// ID pairs requests with responses where the protocol has one (DNS id,
	// HTTP/2 stream id, Kafka correlation id). Without HasID, pairing is by
	// order (FIFO per flow).
	ID    uint64
	HasID bool
	// NoResponse marks a request that gets no response (COM_QUIT,
	// COM_STMT_CLOSE, ...): the engine emits it at once with no status.
	NoResponse bool
	// Streaming marks a response that is one of several to the same
	// request (Redis pub/sub pushes, ...): it is emitted as a lone response.
	Streaming bool
	// Reverse marks a request that travels server→client (an MQTT broker's
	// PUBLISH to a subscriber), and a response that answers one (travelling
	// client→server). A response pairs only with a request of the same
	// Reverse value, so that ids each side picks on its own do not mix. It
	// does not change the flow's orientation: the client stays _0.
	Reverse bool
	// TLS marks the flow as carrying TLS (a TLS decoder sets it on each
	// message): this message's record and every later record of the flow
	// have is_tls true.
	TLS bool
	// Protocol is the record's l7_protocol when it differs from the
	// decoder's Name ("gRPC" from the HTTP/2 decoder); "" means the
	// decoder's Name. A request's Protocol names its record; a response's,
	// when set, overrides it.
	Protocol string

	Version []byte // protocol version ("1.1", "5.7.30", ...)
	Length  int    // message length in bytes (request_length / response_length); -1 unknown

	// Request fields.
	RequestType     []byte // method, command, query type
	RequestDomain   []byte // Host, database, ...
	RequestResource []byte // path with query, SQL text, command line, query name
	Endpoint        []byte // path without query, ...
	RequestID       uint32 // statement id, stream id, ... (request_id)
	HasRequestID    bool

	// Response fields.
	Status    Status
	Code      int32 // response_code
	HasCode   bool
	Exception []byte // response_exception
	Result    []byte // response_result

	// Tracing fields.
	TraceID      []byte
	SpanID       []byte
	ParentSpanID []byte
	XRequestID   []byte
	UserAgent    []byte
}

// Reset clears m for reuse without freeing anything.
func (m *Message) Reset() { *m = Message{} }
