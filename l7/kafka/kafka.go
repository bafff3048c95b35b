package kafka

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/metaflow-go/metaflow/l7"
)

// Name is the l7_protocol value of Kafka records.
const Name = "Kafka"

// Sentinel errors, each wrapped in a *l7.ParseError by Parse. All of them
// match l7.ErrMalformed with errors.Is.
var (
	// ErrBadSize: a message size below the smallest header or above
	// Config.MaxMessageSize.
	ErrBadSize = fmt.Errorf("kafka: bad message size: %w", l7.ErrMalformed)
	// ErrBadHeader: a request header whose API key, version or client id
	// cannot be right.
	ErrBadHeader = fmt.Errorf("kafka: bad request header: %w", l7.ErrMalformed)
)

// Defaults and limits of Config.
const (
	DefaultMaxPeek        = 16 << 10
	MaxPeekLimit          = 64 << 10
	DefaultMaxInflate     = 32 << 10
	MaxInflateLimit       = 1 << 20
	DefaultMaxTopicIDs    = 4096
	MaxTopicIDsLimit      = 1 << 20
	DefaultMaxMessageSize = 100 << 20
	checkMaxSize          = 1<<24 - 1 // Check: larger sizes are taken for other protocols
	requestHeaderMin      = 10        // key, version, correlation id, client id length
	responseHeaderMin     = 4         // correlation id
	maxTopicLen           = 255       // Kafka allows 249
	uuidTextLen           = 22        // unpadded URL-safe base64 of 16 bytes
	maxPending            = 64        // requests of one flow awaiting their responses
	maxClientIDCheck      = 256       // client id bytes Check looks at
	maxVersionParseSlack  = 64        // versions above the newest known that Parse still takes
	checkVersionSlack     = 8         // and that Check takes (a newer client's first request)
)

// Config configures the Kafka decoder. The zero value (or a nil *Config)
// means defaults.
type Config struct {
	// MaxPeek is how many bytes of one message (its size field included)
	// the parser looks at. A longer message is decoded from its first
	// MaxPeek bytes, emitted, and the rest skipped as it arrives. Default
	// 16 KiB, limit 64 KiB (the engine's default buffer per direction).
	MaxPeek int
	// MaxInflate bounds the bytes of one compressed record batch that are
	// decompressed to find trace headers. Default 32 KiB, limit 1 MiB.
	MaxInflate int
	// MaxTopicIDs bounds the topic id → name map that Metadata responses
	// fill and requests naming topics by id read; at the bound the oldest
	// entry is evicted. Default 4096, limit 1 Mi.
	MaxTopicIDs int
	// MaxMessageSize is the largest message size field taken as Kafka;
	// larger sizes are a parse error. Default 100 MiB, limit 2 GiB - 5
	// bytes (a message with its size field fits an int32).
	MaxMessageSize int
}

// maxMessageSizeLimit bounds Config.MaxMessageSize.
const maxMessageSizeLimit = 1<<31 - 5

func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.MaxPeek <= 0 {
		d.MaxPeek = DefaultMaxPeek
	}
	d.MaxPeek = max(min(d.MaxPeek, MaxPeekLimit), 64)
	if d.MaxInflate <= 0 {
		d.MaxInflate = DefaultMaxInflate
	}
	d.MaxInflate = min(d.MaxInflate, MaxInflateLimit)
	if d.MaxTopicIDs <= 0 {
		d.MaxTopicIDs = DefaultMaxTopicIDs
	}
	d.MaxTopicIDs = min(d.MaxTopicIDs, MaxTopicIDsLimit)
	if d.MaxMessageSize <= 0 {
		d.MaxMessageSize = DefaultMaxMessageSize
	}
	d.MaxMessageSize = min(d.MaxMessageSize, maxMessageSizeLimit)
	return d
}

// Stats counts what the parsers of one Decoder saw. Counters only grow,
// except TopicIDs, the current size of the topic id map.
type Stats struct {
	Batches         uint64 // record batches looked at for trace headers
	Compressed      uint64 // of which compressed with gzip, snappy or zstd and inflated
	SkippedBatches  uint64 // batches not inflated: lz4, an unknown codec, or larger than MaxInflate (snappy)
	InflateErrors   uint64 // compressed batches that did not inflate
	TopicIDs        uint64 // entries in the topic id map now
	TopicIDsEvicted uint64 // entries evicted at MaxTopicIDs
	TopicIDMisses   uint64 // topic ids in requests with no name known
}

type stats struct {
	batches, compressed, skipped, inflateErrs, evicted, misses atomic.Uint64
}

// Decoder is the Kafka decoder. It keeps no per-flow state; it holds the
// topic id → name map shared by the parsers it makes (see the package
// documentation) and pools of decompressors. It is safe for concurrent use.
type Decoder struct {
	cfg   Config
	ids   topicIDs
	st    stats
	gzips freeList[*gzipState]
	zstds freeList[*zstdState]
	// scratch holds the scratch of idle parsers (Parser.Idle), with their
	// decompression buffers of MaxInflate bytes.
	scratch sync.Pool
}

// maxFree bounds the idle decompressors a Decoder keeps of each codec.
const maxFree = 16

// freeList keeps up to maxFree idle values for reuse. Unlike a sync.Pool
// it never drops them (at a GC, or at random under the race detector), so
// that inflating stays free of allocations once warm.
type freeList[T any] struct {
	mu   sync.Mutex
	free []T
}

func (f *freeList[T]) get() (T, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var zero T
	if len(f.free) == 0 {
		return zero, false
	}
	v := f.free[len(f.free)-1]
	f.free[len(f.free)-1] = zero
	f.free = f.free[:len(f.free)-1]
	return v, true
}

func (f *freeList[T]) put(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.free) < maxFree {
		f.free = append(f.free, v)
	}
}

// New returns a Kafka decoder configured by c (nil: defaults).
func New(c *Config) *Decoder {
	d := &Decoder{cfg: c.withDefaults()}
	d.ids.max = d.cfg.MaxTopicIDs
	d.scratch.New = func() any { return new(scratch) }
	return d
}

// Name returns "Kafka".
func (d *Decoder) Name() string { return Name }

// NewParser returns the per-flow state of one connection.
func (d *Decoder) NewParser(_ l7.Transport) l7.Parser { return &Parser{d: d} }

// Stats returns the decoder's counters.
func (d *Decoder) Stats() Stats {
	return Stats{
		Batches:         d.st.batches.Load(),
		Compressed:      d.st.compressed.Load(),
		SkippedBatches:  d.st.skipped.Load(),
		InflateErrors:   d.st.inflateErrs.Load(),
		TopicIDs:        uint64(d.ids.len()),
		TopicIDsEvicted: d.st.evicted.Load(),
		TopicIDMisses:   d.st.misses.Load(),
	}
}

// Check recognises a Kafka request on TCP: a size field below 16 MiB and
// at least a request header, an API key of the protocol with a version at
// most 8 above the newest known (a client newer than this table opens with
// ApiVersions of a version it does not know), a non-negative correlation
// id, and a client
// id (null, empty or printable ASCII) that fits in the message. Bytes the
// engine believes go to the client must have a client id of at least one
// byte: the start of a response (a small correlation id, then zeros) can
// read as a request header with an empty one. Responses themselves carry
// nothing as distinctive (a size and a correlation id) and are never
// recognised: inference waits for the flow's next request.
func (d *Decoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP || len(p) < 4+requestHeaderMin {
		return l7.No
	}
	size := int(binary.BigEndian.Uint32(p))
	if size < requestHeaderMin || size > checkMaxSize {
		return l7.No
	}
	key := int16(binary.BigEndian.Uint16(p[4:]))
	ver := int16(binary.BigEndian.Uint16(p[6:]))
	if key < 0 || int(key) >= len(apis) || ver < 0 || ver > apis[key].max+checkVersionSlack {
		return l7.No
	}
	if int32(binary.BigEndian.Uint32(p[8:])) < 0 {
		return l7.No
	}
	cl := int(int16(binary.BigEndian.Uint16(p[12:])))
	switch {
	case cl == -1:
	case cl < 0 || cl > size-requestHeaderMin || cl == 0 && dir == l7.ToClient:
		return l7.No
	default:
		id := p[14:min(len(p), 14+cl, 14+maxClientIDCheck)]
		for _, c := range id {
			if c < 0x20 || c > 0x7e {
				return l7.No
			}
		}
	}
	return l7.Request
}

// api is one row of the API table.
type api struct {
	name     string
	flexible int16 // first flexible version, -1 never
	max      int16 // newest version known
}

// apiNames holds the API names as bytes for Message.RequestType.
var apiNames = func() [][]byte {
	b := make([][]byte, len(apis))
	for i, a := range apis {
		b[i] = []byte(a.name)
	}
	return b
}()

// APIName returns the name of an API key ("Produce", "Fetch", ...), or ""
// for a key the protocol does not define.
func APIName(key int16) string {
	if key < 0 || int(key) >= len(apis) {
		return ""
	}
	return apis[key].name
}

// Flexible reports whether requests and responses of API key at version
// ver use the flexible encoding (compact strings and arrays, tagged
// fields, request header v2, response header v1). A version newer than the
// newest known is flexible when the API has flexible versions; a key
// beyond the table is taken as flexible (every API added since Kafka 2.4
// is flexible from v0).
func Flexible(key, ver int16) bool {
	if key < 0 {
		return false
	}
	if int(key) >= len(apis) {
		return true
	}
	f := apis[key].flexible
	return f >= 0 && ver >= f
}

// responseHeaderFlexible reports whether the response header has tagged
// fields: flexible versions, except ApiVersions, whose response header is
// always v0 so that a client can read it whatever it asked.
func responseHeaderFlexible(key, ver int16) bool {
	return key != keyApiVersions && Flexible(key, ver)
}

// API keys the decoder reads bodies of.
const (
	keyProduce         = 0
	keyFetch           = 1
	keyListOffsets     = 2
	keyMetadata        = 3
	keyOffsetCommit    = 8
	keyOffsetFetch     = 9
	keyFindCoordinator = 10
	keyJoinGroup       = 11
	keyHeartbeat       = 12
	keyLeaveGroup      = 13
	keySyncGroup       = 14
	keyDescribeGroups  = 15
	keyListGroups      = 16
	keySaslHandshake   = 17
	keyApiVersions     = 18
	keyInitProducerID  = 22
	keyAddOffsetsToTxn = 25
	keyEndTxn          = 26
	keySaslAuth        = 36
	keyDeleteGroups    = 42
	keyDescribeCluster = 60
	keyConsumerGroupHB = 68
	keyGetTelemetry    = 71
	keyPushTelemetry   = 72
)
