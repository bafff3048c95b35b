package aggregate

import (
	"math/bits"
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
// key tables are smaller and the garbage collector skips them.
type ikey struct {
	client, server [16]byte // IPv4 as IPv4-mapped IPv6
	cfam, sfam     uint8    // 0 none, 4, 6
	port           uint16
	proto          uint8
	overflow       bool
	_              uint16 // explicit padding: an ikey is 7 words, all of them set
	l7, endpoint   uint32
	tags           uint32 // the interned tuple of tag values (0: none)
	_              uint32
}

// An ikey is 56 bytes: with its index and hash, a table slot fills one
// cache line.
var _ [56 - unsafe.Sizeof(ikey{})]byte
var _ [unsafe.Sizeof(ikey{}) - 56]byte
var _ [64 - unsafe.Sizeof(slot{})]byte

// hash mixes the 8 words of k (its padding included: it is always zero).
func (k *ikey) hash() uint64 {
	w := (*[7]uint64)(unsafe.Pointer(k))
	const m1, m2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9
	h := uint64(0x243F6A8885A308D3)
	for _, x := range w {
		h = bits.RotateLeft64(h^(x*m1), 29) * m2
	}
	h ^= h >> 31
	h *= 0x94D049BB133111EB
	h ^= h >> 29
	return h
}

// table gives each distinct key of a view a dense index, the same in every
// window while any open window holds the key (so a window is an array by
// index): open addressing with linear probing, each slot a cache line with
// the key, its index and its hash, so that a lookup costs one miss.
type table struct {
	slots []slot
	mask  uint64
	pos   []uint32 // slot of each index
	live  bitset   // indexes in use
	free  []int32  // indexes not in use, below len(pos)
	n     int      // indexes in use
}

type slot struct {
	k   ikey
	tag uint32 // hash>>32; home slot tag&mask
	idx uint32 // index+1; 0: empty
}

// key returns the key of index j.
func (t *table) key(j int32) *ikey {
	return &t.slots[t.pos[j]].k
}

// find returns k's index, or -1.
func (t *table) find(k *ikey, h uint64) int32 {
	if t.slots == nil {
		return -1
	}
	tag := uint32(h >> 32)
	for i := uint64(tag) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.idx == 0 {
			return -1
		}
		if s.tag == tag && s.k == *k {
			return int32(s.idx - 1)
		}
	}
}

// prefetch asks for the home slot of hash h.
func (t *table) prefetch(h uint64) {
	if t.slots != nil {
		prefetch(unsafe.Pointer(&t.slots[(h>>32)&t.mask]))
	}
}

// insert adds k (not in t) and returns its index.
func (t *table) insert(k *ikey, h uint64) int32 {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	var j int32
	if n := len(t.free); n > 0 {
		j = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		j = int32(len(t.pos))
		t.pos = append(t.pos, 0)
		t.live.grow(len(t.pos))
	}
	t.live.set(j)
	t.n++
	tag := uint32(h >> 32)
	i := uint64(tag) & t.mask
	for t.slots[i].idx != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = slot{k: *k, tag: tag, idx: uint32(j + 1)}
	t.pos[j] = uint32(i)
	return j
}

func (t *table) grow() {
	n := max(1024, 2*len(t.slots))
	old := t.slots
	t.slots, t.mask = make([]slot, n), uint64(n-1)
	adviseHuge(t.slots)
	for o := range old {
		s := &old[o]
		if s.idx == 0 {
			continue
		}
		i := uint64(s.tag) & t.mask
		for t.slots[i].idx != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = *s
		t.pos[s.idx-1] = uint32(i)
	}
}

// remove frees index j (in use): backward-shift deletion keeps every key
// reachable from its home slot without tombstones.
func (t *table) remove(j int32) {
	i := uint64(t.pos[j])
	for k := i; ; {
		k = (k + 1) & t.mask
		s := &t.slots[k]
		if s.idx == 0 {
			break
		}
		home := uint64(s.tag) & t.mask
		// s may move to i unless its home lies cyclically in (i, k]
		if (i <= k && (home <= i || home > k)) || (i > k && home <= i && home > k) {
			t.slots[i] = *s
			t.pos[s.idx-1] = uint32(i)
			i = k
		}
	}
	t.slots[i] = slot{}
	t.live.clear(j)
	t.free = append(t.free, j)
	t.n--
}

// bitset is a set of indexes.
type bitset []uint64

func (b *bitset) grow(n int) {
	for len(*b)*64 < n {
		*b = append(*b, 0)
	}
}

func (b bitset) has(i int32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(uint(i)&63)) != 0
}

func (b bitset) set(i int32)   { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) clear(i int32) { b[i>>6] &^= 1 << (uint(i) & 63) }

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
	// tuples of tag values, by id (0: all empty), and their ids
	tuples  [][MaxTags]uint32
	tupleID map[[MaxTags]uint32]uint32
	max     int
	full    uint64 // lookups that found the table full
	// last-used cache for strings that are usually the same constant
	// (l7_protocol values come from the decoders' Name constants).
	cachePtr *byte
	cacheLen int
	cacheID  uint32
}

func newInterner(max int) *interner {
	return &interner{ids: make(map[string]uint32), strs: []string{"", OtherString}, max: max,
		tuples: [][MaxTags]uint32{{}, {strOther, strOther, strOther, strOther}}, tupleID: make(map[[MaxTags]uint32]uint32)}
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

// tuple interns a tuple of tag values; past the bound, every new one is
// the tuple of OtherString.
func (in *interner) tuple(t *[MaxTags]uint32) uint32 {
	if *t == ([MaxTags]uint32{}) {
		return 0
	}
	if id, ok := in.tupleID[*t]; ok {
		return id
	}
	if len(in.tuples) >= in.max+2 {
		in.full++
		return 1
	}
	id := uint32(len(in.tuples))
	in.tuples = append(in.tuples, *t)
	in.tupleID[*t] = id
	return id
}

// key turns an ikey back into a Key.
func (in *interner) key(k *ikey) Key {
	out := Key{
		ClientIP: getAddr(k.client, k.cfam), ServerIP: getAddr(k.server, k.sfam), ServerPort: k.port, Protocol: k.proto,
		Overflow: k.overflow, L7Protocol: in.strs[k.l7], Endpoint: in.strs[k.endpoint],
	}
	for i, t := range in.tuples[k.tags] {
		out.Tags[i] = in.strs[t]
	}
	return out
}
