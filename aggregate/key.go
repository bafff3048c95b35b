package aggregate

import (
	"net/netip"
	"unsafe"

	"github.com/metaflow-go/metaflow/tag"
)

// Field selects one grouping field of a View's key.
type Field uint16

// Grouping fields. A record's side of each field: the client is ip_0 (the
// side that sent the SYN or the requests), the server ip_1 and its port.
const (
	FieldClientIP   Field = 1 << iota // ip_0
	FieldServerIP                     // ip_1
	FieldServerPort                   // server_port
	FieldProtocol                     // protocol: IP protocol number (TCP, UDP, ICMP)
	FieldL7Protocol                   // l7_protocol
	FieldEndpoint                     // endpoint (application views; l7 records only)
)

// Kind says which records a View counts and which metrics it keeps.
type Kind uint8

// View kinds.
const (
	// Network views count flow records (l4_flow_log, snapshots included)
	// into NetworkMetrics.
	Network Kind = iota + 1
	// Application views count l7 records into AppMetrics.
	Application
)

// MaxTags is how many tags a View's key may hold.
const MaxTags = 4

// TagKey names one tag of one side of a record (see package tag), for
// grouping by tags attached by the pipeline's stages.
type TagKey struct {
	Side tag.Side // tag.Client or tag.Server
	Key  string   // for example "pod" or "service"
}

// View is one metrics table: which records it counts (Kind) and how it
// groups them (Fields and Tags); DeepFlow's tables are its default views.
type View struct {
	// Name names the table, for example "network_map"; exporters use it.
	Name   string
	Kind   Kind
	Fields Field
	// Tags are up to MaxTags tags whose values join the key; a record
	// without the tag groups under "".
	Tags []TagKey
}

// DefaultViews are DeepFlow's four tables: single-ended (per server
// endpoint) and edge (_map: client → server) for network and application
// metrics. The application table is per L7 protocol and API endpoint, its
// map per L7 protocol.
func DefaultViews() []View {
	server := FieldServerIP | FieldServerPort | FieldProtocol
	return []View{
		{Name: "network", Kind: Network, Fields: server},
		{Name: "network_map", Kind: Network, Fields: FieldClientIP | server},
		{Name: "application", Kind: Application, Fields: server | FieldL7Protocol | FieldEndpoint},
		{Name: "application_map", Kind: Application, Fields: FieldClientIP | server | FieldL7Protocol},
	}
}

// Key is the grouping key of one series of a View: the fields the View does
// not group by are zero. Overflow marks the one series into which records
// past the cardinality cap are folded (its other fields are zero). Keys are
// comparable, so series from several agents merge by Key.
type Key struct {
	ClientIP   netip.Addr
	ServerIP   netip.Addr
	ServerPort uint16
	Protocol   uint8
	Overflow   bool
	L7Protocol string
	Endpoint   string
	Tags       [MaxTags]string // values of View.Tags, in order
}

// ikey is a Key with interned strings and addresses as plain bytes: what
// the hot path hashes. It holds no pointers (netip.Addr does), so the
// windows' maps are smaller and the garbage collector skips them.
type ikey struct {
	client, server [16]byte // IPv4 as IPv4-mapped IPv6
	cfam, sfam     uint8    // 0 none, 4, 6
	port           uint16
	proto          uint8
	overflow       bool
	l7, endpoint   uint32
	tags           [MaxTags]uint32
}

// putAddr stores a into b and its family into f (zones are dropped).
func putAddr(b *[16]byte, f *uint8, a netip.Addr) {
	switch {
	case a.Is4():
		*b, *f = a.As16(), 4
	case a.IsValid():
		*b, *f = a.As16(), 6
	}
}

func getAddr(b [16]byte, f uint8) netip.Addr {
	switch f {
	case 4:
		return netip.AddrFrom16(b).Unmap()
	case 6:
		return netip.AddrFrom16(b)
	}
	return netip.Addr{}
}

// strOther is the interned id of every string past the intern table's
// capacity; strEmpty is "".
const (
	strEmpty uint32 = 0
	strOther uint32 = 1
)

// OtherString is the value that strings past Config.MaxStrings group
// under (L7 protocols, endpoints, tag values).
const OtherString = "__other__"

// interner maps strings to dense ids, up to a bound.
type interner struct {
	ids  map[string]uint32
	strs []string
	max  int
	full uint64 // lookups that found the table full
	// last-used cache for strings that are usually the same constant
	// (l7_protocol values come from the decoders' Name constants).
	cachePtr *byte
	cacheLen int
	cacheID  uint32
}

func newInterner(max int) *interner {
	return &interner{ids: make(map[string]uint32), strs: []string{"", OtherString}, max: max}
}

// str interns a string, allocating only when it is new.
func (in *interner) str(s string) uint32 {
	if s == "" {
		return strEmpty
	}
	p := unsafe.StringData(s)
	if p == in.cachePtr && len(s) == in.cacheLen {
		return in.cacheID
	}
	id, ok := in.ids[s]
	if !ok {
		id = in.add(s)
	}
	in.cachePtr, in.cacheLen, in.cacheID = p, len(s), id
	return id
}

// bytes interns b without allocating when it is known.
func (in *interner) bytes(b []byte) uint32 {
	if len(b) == 0 {
		return strEmpty
	}
	if id, ok := in.ids[string(b)]; ok {
		return id
	}
	return in.add(string(b))
}

func (in *interner) add(s string) uint32 {
	if len(in.strs) >= in.max+2 {
		in.full++
		return strOther
	}
	id := uint32(len(in.strs))
	in.strs = append(in.strs, s)
	in.ids[s] = id
	return id
}

// key turns an ikey back into a Key.
func (in *interner) key(k *ikey) Key {
	out := Key{
		ClientIP: getAddr(k.client, k.cfam), ServerIP: getAddr(k.server, k.sfam), ServerPort: k.port, Protocol: k.proto,
		Overflow: k.overflow, L7Protocol: in.strs[k.l7], Endpoint: in.strs[k.endpoint],
	}
	for i, t := range k.tags {
		out.Tags[i] = in.strs[t]
	}
	return out
}
