package encoding

import (
	"encoding/binary"
	"hash/crc32"
	"maps"
	"slices"
	"sort"
	"sync"
)

// Kind says what a label set belongs to.
type Kind uint8

// Kinds of labelled objects, keyed by their dictionary id (pod_id,
// service_id).
const (
	KindPod     Kind = 1
	KindService Kind = 2
)

// LabelUpdate is the labels of one object after a change; nil Labels means
// the object was deleted.
type LabelUpdate struct {
	Kind   Kind
	ID     uint32
	Labels map[string]string
}

// LabelDelta is the changes of a Labels store after version From, up to
// version To, one update per object changed (its labels as they are at
// To). From 0 is the whole store.
type LabelDelta struct {
	Epoch    uint64
	From, To uint64
	Updates  []LabelUpdate
}

type labelKey struct {
	kind Kind
	id   uint32
}

type labelEnt struct {
	labels  map[string]string // nil: deleted (a tombstone, kept for deltas)
	version uint64
}

// Labels holds Kubernetes labels apart from the records, keyed by (kind,
// id): a record carries pod_id and service_id, and a label filter becomes
// "pod_id IN Match(...)". Every change is a new version; copies elsewhere
// follow with deltas, as dictionaries do (an epoch, ErrResync, ErrGap).
//
// Labels is safe for concurrent use. Maps passed in are copied; maps
// returned are copies.
type Labels struct {
	mu      sync.RWMutex
	epoch   uint64
	version uint64
	m       map[labelKey]*labelEnt
}

// NewLabels returns an empty store of the given epoch (0: random). An
// agent's copy starts with NewLabels and applies the server's deltas,
// which set its epoch.
func NewLabels(epoch uint64) *Labels {
	if epoch == 0 {
		epoch = randomEpoch()
	}
	return &Labels{epoch: epoch, m: make(map[labelKey]*labelEnt)}
}

// Epoch returns the store's epoch.
func (l *Labels) Epoch() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epoch
}

// Version returns the number of changes made (or applied) so far.
func (l *Labels) Version() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.version
}

// Set replaces the labels of (kind, id) and reports whether they changed
// (a change is a new version).
func (l *Labels) Set(kind Kind, id uint32, labels map[string]string) bool {
	if labels == nil {
		labels = map[string]string{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := labelKey{kind, id}
	if e := l.m[k]; e != nil && e.labels != nil && maps.Equal(e.labels, labels) {
		return false
	}
	l.version++
	l.m[k] = &labelEnt{labels: maps.Clone(labels), version: l.version}
	return true
}

// Delete removes the labels of (kind, id) and reports whether there were
// any.
func (l *Labels) Delete(kind Kind, id uint32) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := labelKey{kind, id}
	e := l.m[k]
	if e == nil || e.labels == nil {
		return false
	}
	l.version++
	l.m[k] = &labelEnt{version: l.version}
	return true
}

// Get returns a copy of the labels of (kind, id).
func (l *Labels) Get(kind Kind, id uint32) (map[string]string, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	e := l.m[labelKey{kind, id}]
	if e == nil || e.labels == nil {
		return nil, false
	}
	return maps.Clone(e.labels), true
}

// Match returns, sorted, the ids of kind whose label key is value.
func (l *Labels) Match(kind Kind, key, value string) []uint32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var ids []uint32
	for k, e := range l.m {
		if k.kind == kind && e.labels != nil {
			if v, ok := e.labels[key]; ok && v == value {
				ids = append(ids, k.id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// Delta returns the changes after version since for a copy of epoch
// epoch, oldest first; a copy of another epoch (since > 0) or one ahead of
// the store gets a *ResyncError and must ask from 0. A delta from 0 holds
// the live objects only.
func (l *Labels) Delta(epoch, since uint64) (*LabelDelta, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if since > 0 && (epoch != l.epoch || since > l.version) {
		return nil, &ResyncError{Epoch: epoch, Version: since, ServerEpoch: l.epoch, ServerVersion: l.version}
	}
	d := &LabelDelta{Epoch: l.epoch, From: since, To: l.version}
	var vers []uint64
	for k, e := range l.m {
		if e.version > since && (since > 0 || e.labels != nil) {
			d.Updates = append(d.Updates, LabelUpdate{Kind: k.kind, ID: k.id, Labels: maps.Clone(e.labels)})
			vers = append(vers, e.version)
		}
	}
	sort.Sort(byVersion{d.Updates, vers})
	return d, nil
}

type byVersion struct {
	u []LabelUpdate
	v []uint64
}

func (s byVersion) Len() int           { return len(s.u) }
func (s byVersion) Less(i, j int) bool { return s.v[i] < s.v[j] }
func (s byVersion) Swap(i, j int) {
	s.u[i], s.u[j] = s.u[j], s.u[i]
	s.v[i], s.v[j] = s.v[j], s.v[i]
}

// Apply applies a delta from the server (or from storage): From 0
// replaces the store, epoch included; otherwise the delta must be of the
// store's epoch (else *ResyncError) and start at or before its version
// (else ErrGap). A delta that ends before the store's version changes
// nothing.
func (l *Labels) Apply(d *LabelDelta) error {
	if d.To < d.From {
		return ErrCorrupt
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if d.From == 0 {
		l.epoch, l.version, l.m = d.Epoch, 0, make(map[labelKey]*labelEnt)
	} else {
		if d.Epoch != l.epoch {
			return &ResyncError{Epoch: l.epoch, Version: l.version, ServerEpoch: d.Epoch, ServerVersion: d.To}
		}
		if d.From > l.version {
			return ErrGap
		}
		if d.To <= l.version {
			return nil
		}
	}
	for _, u := range d.Updates {
		var labels map[string]string
		if u.Labels != nil {
			labels = maps.Clone(u.Labels)
		}
		l.m[labelKey{u.Kind, u.ID}] = &labelEnt{labels: labels, version: d.To}
	}
	l.version = d.To
	return nil
}

var labelMagic = [4]byte{'M', 'F', 'L', 1}

// AppendBinary appends d's encoding: "MFL\x01", the body length (uint32
// little endian), the body (uvarints epoch, from, to, count; per update a
// kind byte, the id, the label count+1 or 0 for a deletion, then key and
// value strings sorted by key) and a CRC32C of all that precedes it.
func (d *LabelDelta) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, labelMagic[:]...)
	b = append(b, 0, 0, 0, 0)
	body := len(b)
	b = binary.AppendUvarint(b, d.Epoch)
	b = binary.AppendUvarint(b, d.From)
	b = binary.AppendUvarint(b, d.To)
	b = binary.AppendUvarint(b, uint64(len(d.Updates)))
	for _, u := range d.Updates {
		b = append(b, byte(u.Kind))
		b = binary.AppendUvarint(b, uint64(u.ID))
		if u.Labels == nil {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(u.Labels))+1)
		for _, k := range slices.Sorted(maps.Keys(u.Labels)) {
			b = appendString(b, k)
			b = appendString(b, u.Labels[k])
		}
	}
	n := len(b) - body
	if n > MaxDeltaSize {
		return b[:start], ErrTooLarge
	}
	binary.LittleEndian.PutUint32(b[body-4:], uint32(n))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

// ParseLabelDelta decodes one label delta from the start of b into d and
// returns the bytes it used, with the errors of ParseDelta.
func ParseLabelDelta(b []byte, d *LabelDelta) (int, error) {
	if len(b) >= 4 && [4]byte(b[:4]) != labelMagic {
		return 0, ErrMagic
	}
	if len(b) < 8 {
		return 0, &FormatError{Offset: len(b), What: "label delta header", Err: ErrTruncated}
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n > MaxDeltaSize {
		return 0, ErrTooLarge
	}
	total := 8 + int(n) + 4
	if len(b) < total {
		return 0, &FormatError{Offset: len(b), What: "label delta body", Err: ErrTruncated}
	}
	if crc32.Checksum(b[:total-4], castagnoli) != binary.LittleEndian.Uint32(b[total-4:]) {
		return 0, ErrChecksum
	}
	r := reader{b: b[8 : total-4], base: 8}
	d.Epoch = r.uvarint("epoch")
	d.From = r.uvarint("from")
	d.To = r.uvarint("to")
	count := r.uvarint("count")
	if r.err == nil && d.To < d.From {
		r.fail("to", ErrCorrupt)
	}
	if r.err == nil && count > uint64(len(r.b)-r.off)/3 { // an update is at least 3 bytes
		r.fail("count", ErrCorrupt)
	}
	d.Updates = d.Updates[:0]
	for i := uint64(0); i < count && r.err == nil; i++ {
		u := LabelUpdate{Kind: Kind(r.byte("kind"))}
		id := r.uvarint("id")
		if id > 1<<32-1 {
			r.fail("id", ErrCorrupt)
		}
		u.ID = uint32(id)
		nl := r.uvarint("label count")
		if r.err == nil && nl > 0 {
			if nl-1 > uint64(len(r.b)-r.off)/2 { // a label is at least 2 bytes
				r.fail("label count", ErrCorrupt)
				break
			}
			u.Labels = make(map[string]string, nl-1)
			for j := uint64(1); j < nl && r.err == nil; j++ {
				k := r.bytes("label key")
				v := r.bytes("label value")
				u.Labels[string(k)] = string(v)
			}
		}
		d.Updates = append(d.Updates, u)
	}
	if r.err == nil && r.off != len(r.b) {
		r.fail("label delta end", ErrCorrupt)
	}
	if r.err != nil {
		d.Updates = d.Updates[:0]
		return 0, r.err
	}
	return total, nil
}
