package encoding

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// Entry is one assignment of a dictionary: Value of tag Key has ID.
type Entry struct {
	Key, Value string
	ID         uint32
}

// Delta is the assignments of a dictionary after version From, in the
// order they were made: Entries[i] is version From+i+1. From 0 is a whole
// dictionary (a snapshot): a receiver drops what it holds and loads it.
type Delta struct {
	Epoch   uint64 // the dictionary's epoch; ids are meaningful only within it
	From    uint64 // the version the delta applies to
	Entries []Entry
}

// To returns the version a receiver has after applying d.
func (d *Delta) To() uint64 { return d.From + uint64(len(d.Entries)) }

// Names resolves dictionary ids to values. Dictionary and AgentDict
// implement it.
type Names interface {
	// Value returns the value that id stands for under key.
	Value(key string, id uint32) (string, bool)
}

// keyDict is the dictionary of one tag key: ids are 1, 2, 3, ... in order
// of assignment (0 means "no value").
type keyDict struct {
	ids    map[string]uint32
	values []string // values[id-1]
}

func (k *keyDict) lookup(v string) (uint32, bool) {
	id, ok := k.ids[v]
	return id, ok
}

// table is the state shared by the server's Dictionary and the agent's
// AgentDict: per-key dictionaries, an epoch and a version.
type table struct {
	epoch   uint64
	version uint64
	keys    map[string]*keyDict
}

func (t *table) reset(epoch uint64) {
	t.epoch, t.version = epoch, 0
	t.keys = make(map[string]*keyDict)
}

func (t *table) key(k string) *keyDict {
	kd := t.keys[k]
	if kd == nil {
		kd = &keyDict{ids: make(map[string]uint32)}
		t.keys[k] = kd
	}
	return kd
}

func (t *table) value(key string, id uint32) (string, bool) {
	kd := t.keys[key]
	if kd == nil || id == 0 || int(id) > len(kd.values) {
		return "", false
	}
	return kd.values[id-1], true
}

// apply checks d against t and applies it, all or nothing. A delta from 0
// replaces t's content; one from another epoch returns a *ResyncError; one
// that starts past t's version returns ErrGap; entries t already has (an
// overlap) are checked and skipped.
func (t *table) apply(d *Delta) error {
	if d.From != 0 {
		if d.Epoch != t.epoch {
			return &ResyncError{Epoch: t.epoch, Version: t.version, ServerEpoch: d.Epoch, ServerVersion: d.To()}
		}
		if d.From > t.version {
			return ErrGap
		}
	}
	base := t
	if d.From == 0 {
		base = &table{}
		base.reset(d.Epoch)
	}
	// Check first: each new entry must be the next id of its key, with a
	// value that key does not have yet; entries already applied must match.
	skip := base.version - d.From
	next := make(map[string]uint32)
	seen := make(map[Entry]bool)
	for i, e := range d.Entries {
		kd := base.keys[e.Key]
		if uint64(i) < skip {
			if kd == nil || int(e.ID) > len(kd.values) || e.ID == 0 || kd.values[e.ID-1] != e.Value {
				return ErrConflict
			}
			continue
		}
		n, ok := next[e.Key]
		if !ok && kd != nil {
			n = uint32(len(kd.values))
		}
		if e.ID != n+1 || seen[Entry{Key: e.Key, Value: e.Value}] {
			return ErrConflict
		}
		if kd != nil {
			if _, dup := kd.ids[e.Value]; dup {
				return ErrConflict
			}
		}
		seen[Entry{Key: e.Key, Value: e.Value}] = true
		next[e.Key] = n + 1
	}
	for _, e := range d.Entries[skip:] {
		kd := base.key(e.Key)
		kd.ids[e.Value] = e.ID
		kd.values = append(kd.values, e.Value)
	}
	base.version = d.To()
	if base != t {
		*t = *base
	}
	return nil
}

// DictConfig configures a Dictionary. The zero value (or a nil pointer)
// means defaults.
type DictConfig struct {
	// Epoch names this dictionary's id space; a restored dictionary takes
	// the epoch of its snapshot. Default: random.
	Epoch uint64
	// MaxIDs is the number of values one key may hold. Default 1<<24;
	// limit 1<<31-1 (a batch carries id<<1).
	MaxIDs uint32
	// MaxValueLen is the longest value Assign accepts, in bytes. Default
	// 4096.
	MaxValueLen int
}

// Dictionary limits.
const (
	DefaultMaxIDs      = 1 << 24
	MaxIDs             = 1<<31 - 1
	DefaultMaxValueLen = 4096
)

// DictStats counts a Dictionary's work.
type DictStats struct {
	Keys     int    // tag keys
	Values   uint64 // assignments (the version)
	Rejected uint64 // Assign calls refused (too long, dictionary full)
	Resyncs  uint64 // Delta/Sync calls from an agent of another epoch or ahead
}

// Dictionary is the server's authoritative dictionary of tag values: per tag
// key, value <-> uint32 id. Every assignment gets the next version number;
// agents follow it with deltas (Delta, Sync). Ids are never reused or
// reassigned: a dictionary restored from its snapshot and journal (WriteTo,
// AppendDelta, ReadFrom) gives every value the id it had. A server that
// lost its state starts a new epoch, and agents of the old one are told to
// resync (ErrResync).
//
// A Dictionary is safe for concurrent use.
type Dictionary struct {
	mu       sync.RWMutex
	t        table
	log      []Entry // log[v-1] is the assignment of version v
	maxIDs   uint32
	maxLen   int
	rejected atomic.Uint64
	resyncs  atomic.Uint64
}

// NewDictionary returns an empty dictionary.
func NewDictionary(cfg *DictConfig) *Dictionary {
	var c DictConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Epoch == 0 {
		c.Epoch = randomEpoch()
	}
	if c.MaxIDs == 0 {
		c.MaxIDs = DefaultMaxIDs
	}
	c.MaxIDs = min(c.MaxIDs, MaxIDs)
	if c.MaxValueLen <= 0 {
		c.MaxValueLen = DefaultMaxValueLen
	}
	d := &Dictionary{maxIDs: c.MaxIDs, maxLen: c.MaxValueLen}
	d.t.reset(c.Epoch)
	return d
}

func randomEpoch() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if e := binary.LittleEndian.Uint64(b[:]); e != 0 {
			return e
		}
	}
}

// Epoch returns the dictionary's epoch.
func (d *Dictionary) Epoch() uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.t.epoch
}

// Version returns the number of assignments made so far.
func (d *Dictionary) Version() uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.t.version
}

// Lookup returns the id of value under key.
func (d *Dictionary) Lookup(key, value string) (uint32, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if kd := d.t.keys[key]; kd != nil {
		return kd.lookup(value)
	}
	return 0, false
}

// Value returns the value that id stands for under key.
func (d *Dictionary) Value(key string, id uint32) (string, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.t.value(key, id)
}

// Assign returns the id of value under key, assigning the next one when
// the value is new. It returns ErrTooLarge for a value longer than
// DictConfig.MaxValueLen and ErrFull when the key holds MaxIDs values.
func (d *Dictionary) Assign(key, value string) (uint32, error) {
	if id, ok := d.Lookup(key, value); ok {
		return id, nil
	}
	if len(value) > d.maxLen || len(key) > d.maxLen {
		d.rejected.Add(1)
		return 0, ErrTooLarge
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	kd := d.t.key(key)
	if id, ok := kd.ids[value]; ok {
		return id, nil
	}
	if uint32(len(kd.values)) >= d.maxIDs {
		d.rejected.Add(1)
		return 0, ErrFull
	}
	// Own copies: the caller's strings may alias a decoded frame.
	key, value = clone(key), clone(value)
	id := uint32(len(kd.values)) + 1
	kd.values = append(kd.values, value)
	kd.ids[value] = id
	d.log = append(d.log, Entry{Key: key, Value: value, ID: id})
	d.t.version++
	return id, nil
}

func clone(s string) string { return string(append([]byte(nil), s...)) }

// Delta returns the assignments after version since, for an agent of epoch
// epoch. An agent of another epoch (with since > 0), or one ahead of the
// dictionary (the server lost assignments it had handed out), gets a
// *ResyncError: it must drop its dictionary and ask from 0. The entries
// are shared with the dictionary and must not be modified.
func (d *Dictionary) Delta(epoch, since uint64) (*Delta, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if since > 0 && (epoch != d.t.epoch || since > d.t.version) {
		d.resyncs.Add(1)
		return nil, &ResyncError{Epoch: epoch, Version: since, ServerEpoch: d.t.epoch, ServerVersion: d.t.version}
	}
	n := len(d.log)
	return &Delta{Epoch: d.t.epoch, From: since, Entries: d.log[since:n:n]}, nil
}

// Sync is Delta for an acknowledgement: where Delta would ask for a
// resync, it returns the whole dictionary (From 0), which makes an agent
// replace its own.
func (d *Dictionary) Sync(epoch, since uint64) *Delta {
	delta, err := d.Delta(epoch, since)
	if err != nil {
		delta, _ = d.Delta(0, 0)
	}
	return delta
}

// Apply loads a delta read back from storage: From 0 replaces the whole
// dictionary (epoch included), later ones must follow its version. It is
// the restore half of WriteTo and AppendDelta.
func (d *Dictionary) Apply(delta *Delta) error {
	for _, e := range delta.Entries {
		if len(e.Value) > d.maxLen || len(e.Key) > d.maxLen {
			return ErrTooLarge
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.t.apply(delta); err != nil {
		return err
	}
	if delta.From == 0 {
		d.log = d.log[:0:0]
	}
	d.log = append(d.log, delta.Entries[uint64(len(d.log))-delta.From:]...)
	return nil
}

// Rebase gives the dictionary a new random epoch and returns it, keeping
// every value's id. Every agent then resyncs from 0 and batches with ids of
// the old epoch are refused. Call it after restoring from a store that may
// have lost assignments (a journal written after acknowledging, a lost
// journal): an agent that has not talked to the server since could hold
// ids that the server would otherwise assign again to other values.
func (d *Dictionary) Rebase() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := randomEpoch()
	for e == d.t.epoch {
		e = randomEpoch()
	}
	d.t.epoch = e
	return e
}

// Stats returns the dictionary's counters.
func (d *Dictionary) Stats() DictStats {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return DictStats{Keys: len(d.t.keys), Values: d.t.version, Rejected: d.rejected.Load(), Resyncs: d.resyncs.Load()}
}

// AgentDict is an agent's copy of the server's dictionary, learnt from the
// deltas the server sends back (Apply). An Encoder sends the ids it finds
// here and the values it does not as strings, which the server assigns.
//
// An AgentDict is safe for concurrent use: encoders on several goroutines
// may share one while Apply runs.
type AgentDict struct {
	mu  sync.RWMutex
	t   table
	gen atomic.Uint64 // bumped when the epoch changes (a resync)
}

// NewAgentDict returns an empty dictionary (epoch 0, version 0): its first
// delta must be a whole dictionary.
func NewAgentDict() *AgentDict {
	a := &AgentDict{}
	a.t.reset(0)
	return a
}

// Version returns the epoch and version to send to the server.
func (a *AgentDict) Version() (epoch, version uint64) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.t.epoch, a.t.version
}

// Lookup returns the id of value under key, if the agent learnt it.
func (a *AgentDict) Lookup(key, value string) (uint32, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if kd := a.t.keys[key]; kd != nil {
		return kd.lookup(value)
	}
	return 0, false
}

// lookup is Lookup that also returns the epoch the id belongs to.
func (a *AgentDict) lookup(key, value string) (uint32, uint64, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if kd := a.t.keys[key]; kd != nil {
		id, ok := kd.lookup(value)
		return id, a.t.epoch, ok
	}
	return 0, a.t.epoch, false
}

// Value returns the value that id stands for under key.
func (a *AgentDict) Value(key string, id uint32) (string, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.t.value(key, id)
}

// Apply applies a delta from the server. From 0 replaces the dictionary
// (the first sync, or a resync). Otherwise the delta must have the agent's
// epoch (else a *ResyncError: ask again from 0) and start at or before its
// version (else ErrGap); overlapping entries are skipped. A delta whose
// entries contradict the dictionary returns ErrConflict. On error the
// dictionary is unchanged.
func (a *AgentDict) Apply(d *Delta) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.t.epoch
	if err := a.t.apply(d); err != nil {
		return err
	}
	if d.From == 0 || a.t.epoch != old {
		a.gen.Add(1)
	}
	return nil
}

// Reset drops everything: the next delta must be from 0.
func (a *AgentDict) Reset() {
	a.mu.Lock()
	a.t.reset(0)
	a.mu.Unlock()
	a.gen.Add(1)
}
