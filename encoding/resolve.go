package encoding

import (
	"slices"
	"strconv"
	"strings"

	"github.com/metaflow-go/metaflow/tag"
)

// Resolve turns every tag cell of b into a dictionary id, the server's
// step after Decode: values sent as strings are assigned (Assign), ids
// are checked. Afterwards every tag column is a ColTag column named
// "<key>_id_0" or "<key>_id_1" with IDs set and Inline empty, ready to
// store; acknowledge with Sync(b.Epoch, b.DictVersion), which carries the
// new ids back to the agent.
//
// A batch that carries ids from another epoch, or from a version the
// dictionary does not have (the server lost state), returns a
// *ResyncError: its ids cannot be read and the agent must resync. An id
// the dictionary never assigned returns an error matching ErrUnknownID.
// Assign's errors (ErrTooLarge, ErrFull) are returned as they are. On
// error b is partly resolved and should be dropped.
func (d *Dictionary) Resolve(b *Batch) error {
	hasIDs := false
	for ti := range b.Tables {
		for ci := range b.Tables[ti].Columns {
			c := &b.Tables[ti].Columns[ci]
			if c.Type == ColTagSetRef {
				for _, v := range c.Vals {
					if v != 0 && v&1 == 0 {
						hasIDs = true
						break
					}
				}
			}
			if c.Type != ColTag {
				continue
			}
			for _, id := range c.IDs {
				if id != 0 {
					hasIDs = true
					break
				}
			}
		}
	}
	if hasIDs {
		d.mu.RLock()
		ep, ver := d.t.epoch, d.t.version
		d.mu.RUnlock()
		if b.Epoch != ep || b.DictVersion > ver {
			d.resyncs.Add(1)
			return &ResyncError{Epoch: b.Epoch, Version: b.DictVersion, ServerEpoch: ep, ServerVersion: ver}
		}
	}
	assigned := make(map[uint32]uint32)
	for ti := range b.Tables {
		t := &b.Tables[ti]
		for ci := range t.Columns {
			c := &t.Columns[ci]
			if c.Type != ColTag && c.Type != ColTagString {
				continue
			}
			if hasIDs && c.Type == ColTag {
				d.mu.RLock()
				n := uint32(0)
				if kd := d.t.keys[c.Key]; kd != nil {
					n = uint32(len(kd.values))
				}
				d.mu.RUnlock()
				for row, id := range c.IDs {
					if id > n {
						return &FormatError{What: "column " + c.Name + " row " + strconv.Itoa(row), Err: ErrUnknownID}
					}
				}
			}
			if len(c.Inline) > 0 {
				clear(assigned)
				for row, idx := range c.Inline {
					if idx == 0 {
						continue
					}
					id, ok := assigned[idx]
					if !ok {
						var err error
						if id, err = d.Assign(c.Key, b.Strings[idx-1]); err != nil {
							return err
						}
						assigned[idx] = id
					}
					c.IDs[row] = id
				}
				c.Inline = c.Inline[:0]
			}
			if c.Type == ColTagString {
				c.Type = ColTag
				c.Name = c.Key + "_id_" + string('0'+byte(c.Side))
			}
		}
	}
	if b.Flags&FlagTagSetIDs != 0 {
		d.assignSets(b)
	}
	if hasIDs {
		return d.expandSets(b)
	}
	return nil
}

// assignSets gives each row of the batch's tag set table an id of
// TagSetKey (FORMAT.md), which the agent learns with the batch's
// acknowledgement and then sends instead of the set. A set the
// dictionary refuses (too long, full) keeps going as a row.
func (d *Dictionary) assignSets(b *Batch) {
	var sets *Table
	for i := range b.Tables {
		if b.Tables[i].Type == TableTagSets {
			sets = &b.Tables[i]
		}
	}
	if sets == nil {
		return
	}
	var cols []*Column
	for ci := range sets.Columns {
		c := &sets.Columns[ci]
		if c.Type == ColTag && setKeyOK(c.Key) {
			cols = append(cols, c)
		}
	}
	slices.SortFunc(cols, func(a, b *Column) int { return strings.Compare(a.Key, b.Key) })
	var buf []byte
	for row := range sets.Rows {
		buf = buf[:0]
		for _, c := range cols {
			if id := c.IDs[row]; id != 0 {
				buf = appendSetPair(buf, c.Key, id)
			}
		}
		if len(buf) > 0 {
			d.Assign(TagSetKey, string(buf))
		}
	}
}

// setKeyOK reports whether a tag key may be part of a TagSetKey value.
func setKeyOK(k string) bool {
	return k != "" && k != TagSetKey && !strings.ContainsAny(k, ",=")
}

// appendSetPair appends one "key=id" of a TagSetKey value to buf, after
// a comma when buf is not empty.
func appendSetPair(buf []byte, key string, id uint32) []byte {
	if len(buf) > 0 {
		buf = append(buf, ',')
	}
	buf = append(buf, key...)
	buf = append(buf, '=')
	return strconv.AppendUint(buf, uint64(id), 10)
}

// setPair is one tag of a TagSetKey value.
type setPair struct {
	key string
	id  uint32
}

// expandSets writes the tags of the tag set ids of b's ColTagSetRef
// columns into the ColTag columns "<key>_id_<side>", adding those that
// are missing. An id the dictionary does not have, or a value of it that
// is not a tag set of known ids, is ErrUnknownID.
func (d *Dictionary) expandSets(b *Batch) error {
	parsed := make(map[uint32][]setPair)
	for ti := range b.Tables {
		t := &b.Tables[ti]
		if t.Type == TableTagSets {
			continue
		}
		for ci := 0; ci < len(t.Columns); ci++ {
			if t.Columns[ci].Type != ColTagSetRef {
				continue
			}
			name := t.Columns[ci].Name
			side := t.Columns[ci].Side
			index := make(map[string]int) // key -> column index
			var last uint32
			var lastCells []uint64
			packed := make(map[uint32][]uint64) // set id -> its cells: column index<<32 | value id
			for row := range t.Rows {
				v := t.Columns[ci].Vals[row]
				if v == 0 || v&1 == 1 {
					continue
				}
				id := uint32(v >> 1)
				pc := lastCells
				if id != last || pc == nil {
					var ok bool
					if pc, ok = packed[id]; !ok {
						pairs, ok := parsed[id]
						if !ok {
							var err error
							if pairs, err = d.parseSet(id); err != nil {
								return &FormatError{What: "column " + name + " row " + strconv.Itoa(row), Err: err}
							}
							parsed[id] = pairs
						}
						var err error
						if pc, err = setCells(t, side, pairs, index); err != nil {
							return err
						}
						packed[id] = pc
					}
					last, lastCells = id, pc
				}
				for _, x := range pc {
					t.Columns[x>>32].IDs[row] = uint32(x)
				}
			}
		}
	}
	return nil
}

// setCells returns the cells of a tag set's pairs in table t as column
// index<<32 | value id, adding the ColTag columns "<key>_id_<side>" that
// t lacks; index caches key -> column index.
func setCells(t *Table, side tag.Side, pairs []setPair, index map[string]int) ([]uint64, error) {
	pc := make([]uint64, 0, len(pairs))
	for _, p := range pairs {
		j, ok := index[p.key]
		if !ok {
			cname := p.key + "_id_" + string('0'+byte(side))
			j = slices.IndexFunc(t.Columns, func(c Column) bool { return c.Name == cname })
			if j < 0 {
				t.Columns = append(t.Columns, Column{Name: cname, Type: ColTag, Key: p.key, Side: side, IDs: make([]uint32, t.Rows)})
				j = len(t.Columns) - 1
			} else if c := &t.Columns[j]; c.Type != ColTag || len(c.IDs) != t.Rows {
				return nil, &FormatError{What: "column " + cname, Err: ErrCorrupt}
			}
			index[p.key] = j
		}
		pc = append(pc, uint64(j)<<32|uint64(p.id))
	}
	return pc, nil
}

// parseSet returns the tags of tag set id.
func (d *Dictionary) parseSet(id uint32) ([]setPair, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	v, ok := d.t.value(TagSetKey, id)
	if !ok {
		return nil, ErrUnknownID
	}
	var pairs []setPair
	for len(v) > 0 {
		var pair string
		pair, v, _ = strings.Cut(v, ",")
		k, n, ok := strings.Cut(pair, "=")
		x, err := strconv.ParseUint(n, 10, 32)
		if !ok || err != nil || !setKeyOK(k) {
			return nil, ErrUnknownID
		}
		if kd := d.t.keys[k]; kd == nil || x == 0 || x > uint64(len(kd.values)) {
			return nil, ErrUnknownID
		}
		pairs = append(pairs, setPair{key: k, id: uint32(x)})
	}
	return pairs, nil
}
