package encoding

import "strconv"

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
	return nil
}
