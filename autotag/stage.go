package autotag

import (
	"net/netip"
	"sync/atomic"
	"unsafe"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// StageConfig configures a Stage. The zero value is ready to use.
type StageConfig struct {
	// VPC is the VPC of the records' addresses, the key of the address
	// lookups. Default 0.
	VPC int32
	// NoSockets turns off the local socket lookup ((proto, address, port)
	// to pid) for sides whose record carries no pid. Default false: a side
	// whose address and port are a local socket of a known process gets
	// that process's tags.
	NoSockets bool
}

// Stage is a pipeline.Stage that fills the tags of both sides of every
// record from its Tagger's current snapshot. Each side's tags come, in
// DeepFlow's lookup order, from its process (the record's pid: l7 records
// of eBPF socket events carry one; otherwise the local socket's owner),
// completed by the process's container and pod, then from the longest
// prefix of StageConfig.VPC holding its address, each filling only the
// tags still empty. Tags already on the record (a stage before this one)
// are replaced when the snapshot has a value for the key and kept
// otherwise.
//
// A side without tags gets one immutable list of the snapshot attached
// whole (tag.Set.Attach): no copy, and the same *tag.List for every record
// of an endpoint (a prefix, or a process with its prefix), which is what
// lets an encoding.Encoder find the side's tag set with one pointer
// instead of hashing its strings. A side that already has tags gets the
// values set one by one (tag.Set.Set), a copy of its own, without an
// identity.
//
// A Stage is safe for concurrent use and never drops a record. It does not
// allocate, except a list made once per (process, prefix) pair of each
// snapshot (StageStats.Merges) and a record side that already had tags
// of its own growing.
type Stage struct {
	t   *Tagger
	cfg StageConfig

	records atomic.Uint64
	_       [56]byte // keep the counters on their own cache lines
	tagged  atomic.Uint64
	merges  atomic.Uint64

	combos [comboSlots]atomic.Pointer[combo] // merged lists (merged)
}

// StageStats counts a Stage's work.
type StageStats struct {
	Records uint64 // records seen
	Tagged  uint64 // record sides that got at least one tag
	Merges  uint64 // lists made for a process side that also has address tags (one per pair, snapshot and cache miss)
}

// NewStage returns a Stage reading t's snapshots.
func (t *Tagger) NewStage(cfg StageConfig) *Stage {
	return &Stage{t: t, cfg: cfg}
}

// ProcessL4 tags a flow record; it always returns true.
func (s *Stage) ProcessL4(r *flow.Record) bool {
	snap := s.t.Snapshot()
	n := s.side(snap, &r.Tags, tag.Client, 0, r.Protocol, netip.AddrPortFrom(r.IP0, r.ClientPort))
	n += s.side(snap, &r.Tags, tag.Server, 0, r.Protocol, netip.AddrPortFrom(r.IP1, r.ServerPort))
	s.count(n)
	return true
}

// ProcessL7 tags an l7 record; it always returns true.
func (s *Stage) ProcessL7(r *l7.Record) bool {
	snap := s.t.Snapshot()
	n := s.side(snap, &r.Tags, tag.Client, r.ProcessID0, uint8(r.Transport), r.Client)
	n += s.side(snap, &r.Tags, tag.Server, r.ProcessID1, uint8(r.Transport), r.Server)
	s.count(n)
	return true
}

func (s *Stage) count(sides uint64) {
	s.records.Add(1)
	if sides > 0 {
		s.tagged.Add(sides)
	}
}

// Stats returns the Stage's counters.
func (s *Stage) Stats() StageStats {
	return StageStats{Records: s.records.Load(), Tagged: s.tagged.Load(), Merges: s.merges.Load()}
}

// side fills the tags of one side and returns 1 when it set any. An
// empty side gets one snapshot list attached whole (tag.Set.Attach): its
// process's, its address's, or the two merged (merged); a side that
// already has tags gets the values Set one by one.
func (s *Stage) side(snap *Snapshot, ts *tag.Set, side tag.Side, pid uint32, proto uint8, ap netip.AddrPort) uint64 {
	if pid == 0 && !s.cfg.NoSockets {
		pid, _ = snap.Socket(proto, ap)
	}
	var proc tagList
	if pid != 0 {
		proc = snap.procTags[pid]
	}
	addr := snap.addrTags(s.cfg.VPC, ap.Addr())
	if proc.list == nil && addr.list == nil {
		return 0
	}
	if len(ts.Side(side)) == 0 {
		l := addr.list
		if proc.list != nil {
			l = proc.list
			if addr.mask&^proc.mask != 0 {
				l = s.merged(proc, addr)
			}
		}
		ts.Attach(side, l)
		return 1
	}
	// The process's tags first; the address's fill the keys it lacks.
	for _, t := range proc.list.Tags() {
		ts.Set(side, t.Key, t.Value)
	}
	forFill(proc, addr, func(t tag.Tag) { ts.Set(side, t.Key, t.Value) })
	return 1
}

// forFill calls f for the tags of addr whose keys proc lacks. Both lists
// are in Keys order: it walks addr's set bits alongside.
func forFill(proc, addr tagList, f func(tag.Tag)) {
	mask := addr.mask
	for _, t := range addr.list.Tags() {
		low := mask & -mask // the key of t
		mask &^= low
		if proc.mask&low == 0 {
			f(t)
		}
	}
}

// comboSlots is the size of a Stage's cache of merged lists.
const comboSlots = 1024

// combo is a merged list: a process's tags, then its address's.
type combo struct {
	proc, addr, list *tag.List
}

// merged returns the list of proc's tags followed by the tags of addr
// whose keys proc lacks: made once per pair (and snapshot, whose lists are
// new), then found in the Stage's cache of comboSlots slots by the two
// lists' addresses, so that every record of a process gets the same List.
func (s *Stage) merged(proc, addr tagList) *tag.List {
	h := (uint64(uintptr(unsafe.Pointer(proc.list)))*0x9E3779B97F4A7C15 ^ uint64(uintptr(unsafe.Pointer(addr.list)))) * 0xBF58476D1CE4E5B9
	slot := &s.combos[h>>(64-10)]
	if c := slot.Load(); c != nil && c.proc == proc.list && c.addr == addr.list {
		return c.list
	}
	tags := append(make([]tag.Tag, 0, proc.list.Len()+addr.list.Len()), proc.list.Tags()...)
	forFill(proc, addr, func(t tag.Tag) { tags = append(tags, t) })
	c := &combo{proc: proc.list, addr: addr.list, list: tag.NewList(tags)}
	slot.Store(c)
	s.merges.Add(1)
	return c.list
}
