package l7

import "time"

// Config configures an Engine. The zero value of every field but Registry
// means its default.
type Config struct {
	// Registry lists the decoders inference tries. Required.
	Registry *Registry
	// OnRecord receives each l7_flow_log record. The record and its byte
	// slices are valid only during the call. Nil: records are counted and
	// dropped.
	OnRecord func(*Record)

	// MaxBufferPerDirection bounds the bytes one direction of a connection
	// may hold, both out-of-order segments and a partial message waiting
	// for more bytes. Default 64 KiB, limit 1 MiB.
	MaxBufferPerDirection int
	// MaxBufferTotal bounds the bytes all connections hold together.
	// Default 64 MiB.
	MaxBufferTotal int64
	// ReassemblyTimeout is how long (packet time) buffered out-of-order
	// data waits for the hole before it; then the hole is reported as a
	// gap. Default 2 s.
	ReassemblyTimeout time.Duration

	// InferCacheSize bounds the server endpoints (address, port,
	// transport) whose protocol or inference failures are remembered.
	// Default 65,536.
	InferCacheSize int
	// MaxInferFailures is the number of failed inference rounds on one
	// server endpoint after which inference stops for InferBackoff.
	// Default 128.
	MaxInferFailures int
	// InferBackoff is how long inference is off for an endpoint that
	// failed MaxInferFailures times. Default 60 s.
	InferBackoff time.Duration
	// MaxFlowInferAttempts is the number of payload chunks of one flow that
	// inference looks at before it gives up on the flow. Default 8.
	MaxFlowInferAttempts int
	// PortHints maps a port to a decoder name that inference tries first
	// for flows with that port on either side. A hint only orders the
	// candidates: the decoder's Check still decides, though a hint lets
	// it take a WeakRequest verdict. Default: the ports decoders declare
	// (PortHinter: Redis 6379), which entries here override port by port.
	PortHints map[uint16]string
	// ReinferAfterErrors is the number of consecutive parse errors in one
	// direction of a flow (no message decoded in that direction between
	// them), or in the replies of the flows to one server endpoint that
	// decoded no reply (short connections of one command each), after
	// which the flow's decoder is judged wrong: the requests still
	// waiting for a response are emitted at once with status Unknown
	// (counted in Stats.AbandonedRequests; their responses will never be
	// decoded, and a Timeout would be a false error), inference runs
	// again on the flow's next bytes without that decoder, and the server
	// endpoint's cache avoids it for InferBackoff. Default 3; negative:
	// never.
	ReinferAfterErrors int

	// MaxPendingPerFlow bounds the requests of one flow waiting for their
	// responses, for every decoder; at the cap the oldest is emitted with
	// status Unknown. Default 0: each decoder's own limit (PendingLimiter:
	// thousands for protocols that clients pipeline deeply, such as
	// Redis), else 16.
	MaxPendingPerFlow int
	// MaxPendingBytesPerFlow bounds the memory the waiting requests of one
	// flow hold (their fields as stored, plus a fixed cost per request);
	// at the cap the oldest is emitted with status Unknown. Default 1 MiB.
	MaxPendingBytesPerFlow int
	// MaxSessions bounds the requests waiting across the engine; at the cap
	// the oldest is emitted with status Unknown. Default 65,536.
	MaxSessions int
	// SessionTimeout is how long (packet time) a request waits for its
	// response before it is emitted with status Timeout, for decoders that
	// do not implement SessionTimeouter. Default 120 s (DNS: 15 s).
	SessionTimeout time.Duration

	// MaxResourceLen truncates request_resource and response_result.
	// Default 1024 bytes.
	MaxResourceLen int
	// MaxFieldLen truncates every other byte field of a record. Default
	// 256 bytes.
	MaxFieldLen int
}

// Defaults.
const (
	DefaultMaxBufferPerDirection = 64 << 10
	DefaultMaxBufferTotal        = 64 << 20
	DefaultReassemblyTimeout     = 2 * time.Second
	DefaultInferCacheSize        = 65536
	DefaultMaxInferFailures      = 128
	DefaultInferBackoff          = 60 * time.Second
	DefaultMaxFlowInferAttempts  = 8
	DefaultReinferAfterErrors    = 3
	DefaultMaxPendingPerFlow     = 16
	DefaultMaxPendingBytes       = 1 << 20
	DefaultMaxSessions           = 65536
	DefaultSessionTimeout        = 120 * time.Second
	DefaultDNSSessionTimeout     = 15 * time.Second
	DefaultMaxResourceLen        = 1024
	DefaultMaxFieldLen           = 256
)

func (c *Config) withDefaults() Config {
	d := *c
	if d.MaxBufferPerDirection <= 0 {
		d.MaxBufferPerDirection = DefaultMaxBufferPerDirection
	}
	if d.MaxBufferPerDirection > maxClassSize {
		d.MaxBufferPerDirection = maxClassSize
	}
	if d.MaxBufferTotal <= 0 {
		d.MaxBufferTotal = DefaultMaxBufferTotal
	}
	if d.ReassemblyTimeout <= 0 {
		d.ReassemblyTimeout = DefaultReassemblyTimeout
	}
	if d.InferCacheSize <= 0 {
		d.InferCacheSize = DefaultInferCacheSize
	}
	if d.MaxInferFailures <= 0 {
		d.MaxInferFailures = DefaultMaxInferFailures
	}
	if d.InferBackoff <= 0 {
		d.InferBackoff = DefaultInferBackoff
	}
	if d.MaxFlowInferAttempts <= 0 {
		d.MaxFlowInferAttempts = DefaultMaxFlowInferAttempts
	}
	if d.ReinferAfterErrors == 0 {
		d.ReinferAfterErrors = DefaultReinferAfterErrors
	}
	if d.MaxPendingBytesPerFlow <= 0 {
		d.MaxPendingBytesPerFlow = DefaultMaxPendingBytes
	}
	if d.MaxSessions <= 0 {
		d.MaxSessions = DefaultMaxSessions
	}
	if d.SessionTimeout <= 0 {
		d.SessionTimeout = DefaultSessionTimeout
	}
	if d.MaxResourceLen <= 0 {
		d.MaxResourceLen = DefaultMaxResourceLen
	}
	if d.MaxFieldLen <= 0 {
		d.MaxFieldLen = DefaultMaxFieldLen
	}
	return d
}
