package autotag

import (
	"hash/maphash"
	"net/netip"
	"slices"

	"github.com/metaflow-go/metaflow/tag"
)

// Keys are the tag names a Stage writes, in Resource's field order
// (RECORDS.md): region, az, host, chost, l3_epc, subnet, natgw, lb,
// pod_cluster, pod_node, pod_ns, pod_group, pod, service, ingress, gprocess,
// container_id.
var Keys = [numKeys]string{
	"region", "az", "host", "chost", "l3_epc", "subnet", "natgw", "lb",
	"pod_cluster", "pod_node", "pod_ns", "pod_group", "pod", "service",
	"ingress", "gprocess", "container_id",
}

const numKeys = 17

// values is a Resource's tag values, indexed like Keys.
type values [numKeys]string

func (r *Resource) values() values {
	return values{
		r.Region, r.AZ, r.Host, r.CHost, r.L3EPC, r.Subnet, r.NATGW, r.LB,
		r.PodCluster, r.PodNode, r.PodNS, r.PodGroup, r.Pod, r.Service,
		r.Ingress, r.GProcess, r.ContainerID,
	}
}

// fillFrom sets every empty field of r from o (identity fields too).
func (r *Resource) fillFrom(o *Resource) {
	f := func(d *string, s string) {
		if *d == "" {
			*d = s
		}
	}
	f(&r.Region, o.Region)
	f(&r.AZ, o.AZ)
	f(&r.Host, o.Host)
	f(&r.CHost, o.CHost)
	f(&r.L3EPC, o.L3EPC)
	f(&r.Subnet, o.Subnet)
	f(&r.NATGW, o.NATGW)
	f(&r.LB, o.LB)
	f(&r.PodCluster, o.PodCluster)
	f(&r.PodNode, o.PodNode)
	f(&r.PodNS, o.PodNS)
	f(&r.PodGroup, o.PodGroup)
	f(&r.Pod, o.Pod)
	f(&r.Service, o.Service)
	f(&r.Ingress, o.Ingress)
	f(&r.GProcess, o.GProcess)
	f(&r.ContainerID, o.ContainerID)
	f(&r.PodUID, o.PodUID)
	if r.PID == 0 {
		r.PID = o.PID
	}
}

// Snapshot is an immutable view of every source's entries, merged. Its
// methods are safe for concurrent use and do not allocate. A *Resource it
// returns is the snapshot's own: read it, never modify it; it stays valid
// (and unchanged) as long as the caller holds it.
type Snapshot struct {
	vpcs vpcIndex
	v4   table4 // every VPC's; roots in vpcs
	v6   []table6
	res  []Resource // res[0] is the empty Resource: no match

	// The tags of res[v] for a Stage: lists[v] (nil for none), keys in
	// Keys order, masks[v] a bit per key present. Prefixes whose tags are
	// the same share one list; all are in one allocation (tag.NewLists).
	// A Stage attaches lists[v] to the records of the prefix: the list's
	// address is its identity (tag.List).
	lists []*tag.List
	masks []uint32

	pods       map[string]*Resource
	containers map[string]*Resource
	procs      map[uint32]*Resource // merged with container and pod
	procTags   map[uint32]tagList   // the tags of procs, for a Stage
	sockets    map[sockKey]uint32
	ports      *[2][1024]uint64 // per TCP/UDP: a bit per port with a socket
	labels     map[labelKey]map[string]string

	prefixes int
	skipped  uint64
}

// tagList is the tags of one resource and a bit per key present.
type tagList struct {
	list *tag.List
	mask uint32
}

// appendTags appends the non-empty tags of r to arena and returns it with
// the mask of their keys.
func appendTags(arena []tag.Tag, r *Resource) ([]tag.Tag, uint32) {
	var mask uint32
	v := r.values()
	for i := range v {
		if v[i] != "" {
			arena = append(arena, tag.Tag{Key: Keys[i], Value: v[i]})
			mask |= 1 << i
		}
	}
	return arena, mask
}

// addrTags returns the tags of the longest prefix of vpc holding a.
func (s *Snapshot) addrTags(vpc int32, a netip.Addr) tagList {
	v := s.lookup(vpc, a)
	if v == 0 {
		return tagList{}
	}
	return tagList{s.lists[v], s.masks[v]}
}

type sockKey struct {
	proto uint8
	ap    netip.AddrPort
}

type labelKey struct{ kind, key string }

// Lookup returns the resource of the longest prefix of VPC vpc that
// contains a, or nil. IPv4-mapped IPv6 addresses are looked up as IPv4.
func (s *Snapshot) Lookup(vpc int32, a netip.Addr) *Resource {
	if v := s.lookup(vpc, a); v != 0 {
		return &s.res[v]
	}
	return nil
}

func (s *Snapshot) lookup(vpc int32, a netip.Addr) uint32 {
	if s == nil || !a.IsValid() {
		return 0
	}
	sl := s.vpcs.find(vpc)
	if sl.idx < 0 {
		return 0
	}
	if a.Is4() || a.Is4In6() {
		b := a.As4()
		return s.v4.lookup(sl.root4, uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))
	}
	k, _ := addrKey(a)
	return s.v6[sl.idx].lookup(k)
}

// Process returns the process pid merged with its container and pod, or
// nil.
func (s *Snapshot) Process(pid uint32) *Resource {
	if s == nil {
		return nil
	}
	return s.procs[pid]
}

// Pod returns the pod with uid, or nil.
func (s *Snapshot) Pod(uid string) *Resource {
	if s == nil {
		return nil
	}
	return s.pods[uid]
}

// Container returns the container with id merged with its pod, or nil.
func (s *Snapshot) Container(id string) *Resource {
	if s == nil {
		return nil
	}
	return s.containers[id]
}

// Socket returns the pid owning the local socket (proto, ap): an exact
// match first, then a socket bound to the unspecified address of ap's
// family on the same port.
func (s *Snapshot) Socket(proto uint8, ap netip.AddrPort) (uint32, bool) {
	if s == nil || s.ports == nil {
		return 0, false
	}
	if pi := protoIndex(proto); pi < 0 || s.ports[pi][ap.Port()>>6]&(1<<(ap.Port()&63)) == 0 {
		return 0, false
	}
	a := ap.Addr().Unmap()
	if pid, ok := s.sockets[sockKey{proto, netip.AddrPortFrom(a, ap.Port())}]; ok {
		return pid, true
	}
	u := netip.IPv4Unspecified()
	if a.Is6() {
		u = netip.IPv6Unspecified()
	}
	pid, ok := s.sockets[sockKey{proto, netip.AddrPortFrom(u, ap.Port())}]
	if !ok && a.Is4() {
		// A dual-stack socket bound to [::] takes IPv4 too.
		pid, ok = s.sockets[sockKey{proto, netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())}]
	}
	return pid, ok
}

// Labels returns the labels of a resource (kind "pod" with its uid,
// "service" with "namespace/name", ...), or nil. The map is the snapshot's:
// do not modify it.
func (s *Snapshot) Labels(kind, key string) map[string]string {
	if s == nil {
		return nil
	}
	return s.labels[labelKey{kind, key}]
}

// Prefixes returns the number of distinct (VPC, prefix) entries.
func (s *Snapshot) Prefixes() int {
	if s == nil {
		return 0
	}
	return s.prefixes
}

type prefixKey struct {
	vpc int32
	p   netip.Prefix
}

// build merges the entries of the sources, the first taking precedence:
// for one key, a field comes from the first source that sets it.
func build(srcs []*Entries) *Snapshot {
	s := &Snapshot{
		res:        []Resource{{}},
		pods:       map[string]*Resource{},
		containers: map[string]*Resource{},
		procs:      map[uint32]*Resource{},
		procTags:   map[uint32]tagList{},
		sockets:    map[sockKey]uint32{},
		labels:     map[labelKey]map[string]string{},
	}

	// Pods, then containers completed by their pod.
	for _, e := range srcs {
		if e == nil {
			continue
		}
		for i := range e.Pods {
			p := &e.Pods[i]
			if p.UID == "" {
				s.skipped++
				continue
			}
			mergeInto(s.pods, p.UID, &p.Resource)
		}
	}
	for uid, r := range s.pods {
		r.PodUID = uid
	}
	for _, e := range srcs {
		if e == nil {
			continue
		}
		for i := range e.Containers {
			c := &e.Containers[i]
			if c.ID == "" {
				s.skipped++
				continue
			}
			mergeInto(s.containers, c.ID, &c.Resource)
		}
	}
	for id, r := range s.containers {
		r.ContainerID = id
		if p := s.pods[r.PodUID]; p != nil {
			r.fillFrom(p)
		}
	}

	// Addresses: one resource per (VPC, prefix), merged across sources.
	total := 0
	for _, e := range srcs {
		if e != nil {
			total += len(e.Addrs)
		}
	}
	type keyed struct {
		k  prefixKey
		ri int32 // index in pool
	}
	index := make(map[prefixKey]int32, total)
	pool := make([]Resource, 0, total)
	order := make([]keyed, 0, total)
	for _, e := range srcs {
		if e == nil {
			continue
		}
		for i := range e.Addrs {
			a := &e.Addrs[i]
			if !a.Prefix.IsValid() {
				s.skipped++
				continue
			}
			p := a.Prefix.Masked()
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			k := prefixKey{a.VPC, p}
			if ri, ok := index[k]; ok {
				pool[ri].fillFrom(&a.Resource)
				continue
			}
			index[k] = int32(len(pool))
			order = append(order, keyed{k, int32(len(pool))})
			pool = append(pool, a.Resource)
		}
	}
	s.prefixes = len(order)
	// An address of a pod is completed by the pod, before the prefixes
	// that enclose it.
	for i := range pool {
		if uid := pool[i].PodUID; uid != "" {
			if p := s.pods[uid]; p != nil {
				pool[i].fillFrom(p)
			}
		}
	}

	// Per VPC and family, sort, inherit from enclosing prefixes, intern
	// and flatten.
	slices.SortFunc(order, func(a, b keyed) int {
		if a.k.vpc != b.k.vpc {
			if a.k.vpc < b.k.vpc {
				return -1
			}
			return 1
		}
		if a.k.p.Addr().Is4() != b.k.p.Addr().Is4() {
			if a.k.p.Addr().Is4() {
				return -1
			}
			return 1
		}
		return 0
	})
	intern := make(map[Resource]uint32, len(order)+1)
	intern[Resource{}] = 0 // an empty resource is no match
	s.res = make([]Resource, 1, len(order)+1)
	var ids []int32
	var roots []uint32
	var ps []pfx
	for i := 0; i < len(order); {
		vpc := order[i].k.vpc
		ids = append(ids, vpc)
		sp4 := []span{{}} // no IPv4 prefix: one span, no value
		var t6 table6
		for i < len(order) && order[i].k.vpc == vpc {
			is4 := order[i].k.p.Addr().Is4()
			j := i
			for j < len(order) && order[j].k.vpc == vpc && order[j].k.p.Addr().Is4() == is4 {
				j++
			}
			ps = ps[:0]
			var max u128
			for _, o := range order[i:j] {
				lo, hi, m := prefixRange(o.k.p)
				max = m
				ps = append(ps, pfx{lo: lo, hi: hi, bits: o.k.p.Bits(), val: uint32(o.ri)})
			}
			sortPrefixes(ps)
			// Inherit: the stack holds the prefixes enclosing the current one.
			var stack []pfx
			for n := range ps {
				p := &ps[n]
				for len(stack) > 0 && stack[len(stack)-1].hi.less(p.lo) {
					stack = stack[:len(stack)-1]
				}
				if len(stack) > 0 {
					pool[p.val].fillFrom(&pool[stack[len(stack)-1].val])
				}
				stack = append(stack, *p)
			}
			for n := range ps {
				r := &pool[ps[n].val]
				v, ok := intern[*r]
				if !ok {
					v = uint32(len(s.res))
					s.res = append(s.res, *r)
					intern[*r] = v
				}
				ps[n].val = v
			}
			sp := flatten(ps, max)
			if is4 {
				sp4 = sp
			} else {
				t6 = table6{spans: sp}
			}
			i = j
		}
		roots = append(roots, s.v4.add(sp4))
		s.v6 = append(s.v6, t6)
	}
	s.vpcs = newVPCIndex(ids, roots)
	s.masks = make([]uint32, len(s.res))
	s.lists = make([]*tag.List, len(s.res))
	var arena []tag.Tag
	var ends []int
	// The first resource of each hash of tag values: a resource whose
	// values equal its hash's first shares that one's list (another with
	// the same hash, a 2^-64 chance, just gets its own).
	seed := maphash.MakeSeed()
	uniq := make(map[uint64]int, len(s.res))
	idx := make([]int, len(s.res))
	for v := range s.res {
		vals := s.res[v].values()
		var h maphash.Hash
		h.SetSeed(seed)
		for _, x := range vals {
			h.WriteString(x)
			h.WriteByte(0)
		}
		sum := h.Sum64()
		first, ok := uniq[sum]
		if ok && s.res[first].values() == vals {
			idx[v] = idx[first]
		} else {
			idx[v] = len(ends)
			arena, _ = appendTags(arena, &s.res[v])
			ends = append(ends, len(arena))
			if !ok {
				uniq[sum] = v
			}
		}
		for k := range vals {
			if vals[k] != "" {
				s.masks[v] |= 1 << k
			}
		}
	}
	lists := tag.NewLists(arena, ends)
	for v, j := range idx {
		if s.masks[v] != 0 {
			s.lists[v] = &lists[j]
		}
	}

	// Processes, completed by their container and pod.
	for _, e := range srcs {
		if e == nil {
			continue
		}
		for i := range e.Processes {
			p := &e.Processes[i]
			if p.PID == 0 {
				s.skipped++
				continue
			}
			if r, ok := s.procs[p.PID]; ok {
				r.fillFrom(&p.Resource)
				continue
			}
			r := p.Resource
			s.procs[p.PID] = &r
		}
	}
	for pid, r := range s.procs {
		r.PID = pid
		if c := s.containers[r.ContainerID]; c != nil {
			r.fillFrom(c)
		}
		if p := s.pods[r.PodUID]; p != nil {
			r.fillFrom(p)
		}
		tags, mask := appendTags(nil, r)
		s.procTags[pid] = tagList{tag.NewList(tags), mask}
	}
	for _, e := range srcs {
		if e == nil {
			continue
		}
		for _, k := range e.Sockets {
			if !k.Local.IsValid() || k.PID == 0 {
				s.skipped++
				continue
			}
			key := sockKey{k.Proto, netip.AddrPortFrom(k.Local.Addr().Unmap(), k.Local.Port())}
			if _, ok := s.sockets[key]; !ok {
				s.sockets[key] = k.PID
			}
			if pi := protoIndex(k.Proto); pi >= 0 {
				if s.ports == nil {
					s.ports = new([2][1024]uint64)
				}
				s.ports[pi][k.Local.Port()>>6] |= 1 << (k.Local.Port() & 63)
			}
		}
		for _, l := range e.Labels {
			key := labelKey{l.Kind, l.Key}
			if _, ok := s.labels[key]; !ok && l.Labels != nil {
				s.labels[key] = l.Labels
			}
		}
	}
	return s
}

// protoIndex returns the index of TCP (0) and UDP (1) in Snapshot.ports, or
// -1: sockets of other protocols are never matched.
func protoIndex(p uint8) int {
	switch p {
	case 6:
		return 0
	case 17:
		return 1
	}
	return -1
}

func mergeInto[K comparable](m map[K]*Resource, k K, r *Resource) {
	if o, ok := m[k]; ok {
		o.fillFrom(r)
		return
	}
	c := *r
	m[k] = &c
}
