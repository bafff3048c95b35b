package encoding

import (
	"bytes"

	"github.com/metaflow-go/metaflow/l7"
)

// Tap sides of l7 rows (tap_side), by their slot in pointCache.
var tapSides = [...]string{"", "c-p", "s-p", "local", "c", "s", "rest"}

const agentSlot = len(tapSides) // pointCache slot of EncoderConfig.AgentID

// pointCache keeps, for one batch, the string indexes of the tap sides and
// the agent id (a few constants) and of each side's last process name, so
// that an l7 row's capture-point columns cost no map lookup.
type pointCache struct {
	batch uint32
	idx   [agentSlot + 1]uint32
	kname [2]struct {
		b     []byte
		i     uint32
		batch uint32
	}
}

// pointStr returns the string index of the constant of slot i (a tap
// side, or agentSlot) in the batch being built.
func (e *Encoder) pointStr(i int) uint32 {
	p := &e.pt
	if p.batch != e.batch {
		p.batch = e.batch
		clear(p.idx[:])
	}
	if p.idx[i] == 0 {
		s := e.cfg.AgentID
		if i < agentSlot {
			s = tapSides[i]
		}
		p.idx[i] = e.str(s)
	}
	return p.idx[i]
}

// knameStr is bstr for process_kname_<side>: a process's rows come in
// runs.
func (e *Encoder) knameStr(side int, b []byte) uint32 {
	k := &e.pt.kname[side]
	if len(b) == 0 {
		return 0
	}
	if k.batch == e.batch && bytes.Equal(k.b, b) {
		return k.i
	}
	k.b, k.i, k.batch = append(k.b[:0], b...), e.bstr(b), e.batch
	return k.i
}

// tapSide returns the pointCache slot of r's tap_side
// (EncoderConfig.LocalAddr).
func (e *Encoder) tapSide(r *l7.Record) int {
	switch {
	case r.ProcessID0 != 0 && r.ProcessID1 == 0:
		return 1 // c-p
	case r.ProcessID1 != 0 && r.ProcessID0 == 0:
		return 2 // s-p
	case e.cfg.LocalAddr == nil:
		return 0
	}
	c, s := e.cfg.LocalAddr(r.Client.Addr()), e.cfg.LocalAddr(r.Server.Addr())
	switch {
	case c && s:
		return 3 // local
	case c:
		return 4 // c
	case s:
		return 5 // s
	}
	return 6 // rest
}
