package kafka

import (
	"encoding/base64"
	"sync"
)

// topicIDs maps topic ids to names for one Decoder: Metadata responses
// (v10+) fill it, requests that name topics by id (Fetch v13+, Produce
// v13+, OffsetCommit and OffsetFetch v10+) read it, whichever flows carry
// them. It holds at most max entries and evicts the oldest first. Reads
// take a shared lock and allocate nothing; an insert allocates the name
// only when the id is new or its name changed.
type topicIDs struct {
	mu   sync.RWMutex
	m    map[[16]byte]string
	ring [][16]byte // insertion order, for eviction
	next int
	max  int
}

func (t *topicIDs) len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

// put records that id names topic name (its first maxTopicLen bytes). It
// reports how many entries it evicted (0 or 1).
func (t *topicIDs) put(id, name []byte) int {
	var k [16]byte
	copy(k[:], id)
	if k == ([16]byte{}) || len(name) == 0 {
		return 0
	}
	name = name[:min(len(name), maxTopicLen)]
	t.mu.RLock()
	old, ok := t.m[k]
	t.mu.RUnlock()
	if ok && old == string(name) {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[[16]byte]string)
	}
	if _, ok := t.m[k]; ok {
		t.m[k] = string(name) // renamed: keep its place in the ring
		return 0
	}
	evicted := 0
	if len(t.ring) < t.max {
		t.ring = append(t.ring, k)
	} else {
		delete(t.m, t.ring[t.next])
		t.ring[t.next] = k
		t.next = (t.next + 1) % t.max
		evicted = 1
	}
	t.m[k] = string(name)
	return evicted
}

// get copies the name of topic id into dst (up to its capacity) and
// returns it, or returns nil when the id is unknown.
func (t *topicIDs) get(id []byte, dst []byte) []byte {
	var k [16]byte
	copy(k[:], id)
	t.mu.RLock()
	name, ok := t.m[k]
	if ok {
		dst = dst[:copy(dst[:cap(dst)], name)]
	}
	t.mu.RUnlock()
	if !ok {
		return nil
	}
	return dst
}

// idText writes id as Kafka prints topic ids (Uuid.toString: URL-safe
// base64 without padding, 22 characters) into dst.
func idText(id []byte, dst *[uuidTextLen]byte) []byte {
	base64.RawURLEncoding.Encode(dst[:], id)
	return dst[:]
}
