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

// Set is the tags of one record, per side. The zero value is empty and
// ready to use.
type Set struct {
	sides [2][]Tag
}

// Add appends key=value to side s. Adding a key twice keeps both; writers
// emit them in order, so later stages should Set instead when they
// override.
func (t *Set) Add(s Side, key, value string) {
	t.sides[s&1] = append(t.sides[s&1], Tag{key, value})
}

// Set replaces the value of key on side s, or adds it.
func (t *Set) Set(s Side, key, value string) {
	l := t.sides[s&1]
	for i := range l {
		if l[i].Key == key {
			l[i].Value = value
			return
		}
	}
	t.sides[s&1] = append(l, Tag{key, value})
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

// Side returns the tags of side s. The slice is the Set's own: valid until
// the next change, not to be modified.
func (t *Set) Side(s Side) []Tag { return t.sides[s&1] }

// Len returns the number of tags on both sides.
func (t *Set) Len() int { return len(t.sides[0]) + len(t.sides[1]) }

// Reset empties the Set, keeping its capacity for reuse.
func (t *Set) Reset() {
	t.sides[0] = t.sides[0][:0]
	t.sides[1] = t.sides[1][:0]
}

// Clone returns a copy that shares nothing with t.
func (t *Set) Clone() Set {
	var c Set
	for s := range t.sides {
		if len(t.sides[s]) > 0 {
			c.sides[s] = append([]Tag(nil), t.sides[s]...)
		}
	}
	return c
}
