package autotag

import (
	"net/netip"
	"sync/atomic"

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
// A Stage is safe for concurrent use and never drops a record. It does not
// allocate once the records' tag.Set has grown to the number of tags: the
// values are the snapshot's strings.
type Stage struct {
	t   *Tagger
	cfg StageConfig

	records atomic.Uint64
	_       [56]byte // keep the counters on their own cache lines
	tagged  atomic.Uint64
}

// StageStats counts a Stage's work.
type StageStats struct {
	Records uint64 // records seen
	Tagged  uint64 // record sides that got at least one tag
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
	return StageStats{Records: s.records.Load(), Tagged: s.tagged.Load()}
}

// side fills the tags of one side and returns 1 when it set any.
func (s *Stage) side(snap *Snapshot, ts *tag.Set, side tag.Side, pid uint32, proto uint8, ap netip.AddrPort) uint64 {
	if pid == 0 && !s.cfg.NoSockets {
		pid, _ = snap.Socket(proto, ap)
	}
	var proc tagList
	if pid != 0 {
		proc = snap.procTags[pid]
	}
	addr, mask := snap.addrTags(s.cfg.VPC, ap.Addr())
	if len(proc.tags) == 0 && len(addr) == 0 {
		return 0
	}
	fresh := len(ts.Side(side)) == 0
	put := func(t tag.Tag) {
		if fresh {
			ts.Add(side, t.Key, t.Value)
		} else {
			ts.Set(side, t.Key, t.Value)
		}
	}
	if len(proc.tags) == 0 {
		for _, t := range addr {
			put(t)
		}
		return 1
	}
	// The process's tags first; the address's fill the keys it lacks.
	// Both lists are in Keys order: walk the address's set bits alongside.
	for _, t := range proc.tags {
		put(t)
	}
	for i := range addr {
		low := mask & -mask // the key of addr[i]
		mask &^= low
		if proc.mask&low == 0 {
			put(addr[i])
		}
	}
	return 1
}
