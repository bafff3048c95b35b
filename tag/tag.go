package tag

// Side indexes the two sides of a record.
type Side uint8

// Sides.
const (
	Client Side = 0 // ip_0: the client side, "_0" keys
	Server Side = 1 // ip_1: the server side, "_1" keys
)

// Tag is one key and value, for example {"pod", "web-7d9f"}.
type Tag struct {
	Key, Value string
}

// List is an immutable list of tags, shared by reference: a tagging stage
// makes one per endpoint it knows and attaches it to every record of that
// endpoint (Set.Attach). Its tags never change once made, so its address
// identifies its contents for as long as it is alive: a consumer may cache
// what it derives from a list keyed by the *List alone (the encoding
// package's Encoder does), provided it keeps the *List referenced while
// the cache entry exists.
//
// The zero List is empty. Lists are safe for concurrent use.
type List struct {
	tags []Tag
}

// NewList returns a List of a copy of tags (nil when tags is empty: an
// empty side needs no identity).
func NewList(tags []Tag) *List {
	if len(tags) == 0 {
		return nil
	}
	return &List{tags: append(make([]Tag, 0, len(tags)), tags...)}
}

// NewLists returns the lists tags[0:ends[0]], tags[ends[0]:ends[1]], ...
// copied into one allocation (for a snapshot of many endpoints). Each
// element's address (&lists[i]) is that list's identity. It panics if ends
// is not ascending or goes past len(tags): a programming error.
func NewLists(tags []Tag, ends []int) []List {
	all := append(make([]Tag, 0, len(tags)), tags...)
	lists := make([]List, len(ends))
	start := 0
	for i, end := range ends {
		if end < start || end > len(all) {
			panic("tag: NewLists: ends not ascending within tags")
		}
		lists[i].tags = all[start:end:end]
		start = end
	}
	return lists
}

// Tags returns the list's tags: the List's own memory, never to be
// modified. A nil *List has none.
func (l *List) Tags() []Tag {
	if l == nil {
		return nil
	}
	return l.tags
}

// Len returns the number of tags; 0 for nil.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.tags)
}

// Set is the tags of one record, per side. The zero value is empty and
// ready to use.
//
// A side holds either tags of its own (Add, Set) or a List attached
// whole (Attach), which it shares without copying; List reports which.
// Changing an attached side first copies the list (copy on write): a List
// is never modified through a Set.
type Set struct {
	sides [2][]Tag
	lists [2]*List // non-nil: sides[s] is lists[s].tags, shared, read-only
}

// Attach makes l the tags of side s, replacing what the side held,
// without copying: Side(s) returns l's tags and List(s) returns l until
// the side is changed. A nil or empty l empties the side. It does not
// allocate.
func (t *Set) Attach(s Side, l *List) {
	s &= 1
	if len(l.Tags()) == 0 {
		t.clear(s)
		return
	}
	t.sides[s] = l.tags[:len(l.tags):len(l.tags)]
	t.lists[s] = l
}

// List returns the List attached to side s (Attach), or nil when the
// side's tags are its own: built with Add or Set, or an attached list
// changed since. Two sides with the same non-nil List have the same tags.
func (t *Set) List(s Side) *List { return t.lists[s&1] }

// detach gives side s storage of its own: a copy of an attached list's
// tags (with room for one more), so that a change never writes into the
// list.
func (t *Set) detach(s Side) {
	if t.lists[s] == nil {
		return
	}
	l := t.sides[s]
	t.sides[s] = append(make([]Tag, 0, len(l)+1), l...)
	t.lists[s] = nil
}

// Add appends key=value to side s. Adding a key twice keeps both; writers
// emit them in order, so later stages should Set instead when they
// override.
func (t *Set) Add(s Side, key, value string) {
	s &= 1
	t.detach(s)
	t.sides[s] = append(t.sides[s], Tag{key, value})
}

// Set replaces the value of key on side s, or adds it.
func (t *Set) Set(s Side, key, value string) {
	s &= 1
	t.detach(s)
	l := t.sides[s]
	for i := range l {
		if l[i].Key == key {
			l[i].Value = value
			return
		}
	}
	t.sides[s] = append(l, Tag{key, value})
}

// Get returns the value of key on side s.
func (t *Set) Get(s Side, key string) (string, bool) {
	for _, g := range t.sides[s&1] {
		if g.Key == key {
			return g.Value, true
		}
	}
	return "", false
}

// Side returns the tags of side s. The slice is the Set's own (or its
// attached List's): valid until the next change, not to be modified.
func (t *Set) Side(s Side) []Tag { return t.sides[s&1] }

// Len returns the number of tags on both sides.
func (t *Set) Len() int { return len(t.sides[0]) + len(t.sides[1]) }

// Reset empties the Set, keeping the capacity of the sides that hold tags
// of their own for reuse (an attached side lets go of its List).
func (t *Set) Reset() {
	t.clear(Client)
	t.clear(Server)
}

// clear empties side s, keeping the capacity of tags of its own; an
// attached side lets go of its List.
func (t *Set) clear(s Side) {
	if t.lists[s] != nil {
		t.sides[s], t.lists[s] = nil, nil
		return
	}
	t.sides[s] = t.sides[s][:0]
}

// Clone returns a copy that shares nothing mutable with t: a side's own
// tags are copied; an attached List, immutable, stays attached.
func (t *Set) Clone() Set {
	var c Set
	for s := range t.sides {
		if t.lists[s] != nil {
			c.sides[s], c.lists[s] = t.sides[s], t.lists[s]
			continue
		}
		if len(t.sides[s]) > 0 {
			c.sides[s] = append([]Tag(nil), t.sides[s]...)
		}
	}
	return c
}
