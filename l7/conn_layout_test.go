package l7

import (
	"testing"
	"unsafe"
)

// TestConn_Layout keeps a Conn in Go's 512-byte size class (every flow
// with payload in flight holds one) and its cache lines as Conn's comment
// lays them out: what every packet reads in the first two, each side in
// two of its own.
func TestConn_Layout(t *testing.T) {
	var c Conn
	if n := unsafe.Sizeof(c); n > 512 {
		t.Errorf("Conn is %d bytes, want <= 512", n)
	}
	if n := unsafe.Sizeof(side{}); n != 128 {
		t.Errorf("side is %d bytes, want 128", n)
	}
	if o := unsafe.Offsetof(c.sides); o != 128 {
		t.Errorf("Conn.sides at offset %d, want 128", o)
	}
	for name, o := range map[string]uintptr{
		"id": unsafe.Offsetof(c.id), "parser": unsafe.Offsetof(c.parser), "trailer": unsafe.Offsetof(c.trailer),
		"dec": unsafe.Offsetof(c.dec), "idleTick": unsafe.Offsetof(c.idleTick), "state": unsafe.Offsetof(c.state),
		"flip": unsafe.Offsetof(c.flip), "oriented": unsafe.Offsetof(c.oriented),
	} {
		if o >= 128 {
			t.Errorf("Conn.%s at offset %d, want < 128", name, o)
		}
	}
}

// TestSide_Conn checks that a side finds its Conn from its own address.
func TestSide_Conn(t *testing.T) {
	c := &Conn{}
	c.sides[1].phys = 1
	for i := range c.sides {
		if got := c.sides[i].conn(); got != c {
			t.Errorf("sides[%d].conn() = %p, want %p", i, got, c)
		}
	}
}

// TestConn_SetParser checks that the Trailer is asserted with the parser
// and cleared with it.
func TestConn_SetParser(t *testing.T) {
	c := &Conn{}
	tp := &trailParser{}
	c.setParser(tp)
	if c.parser != Parser(tp) || c.trailer != Trailer(tp) {
		t.Fatalf("setParser(trailer): parser %v trailer %v", c.parser, c.trailer)
	}
	np := plainParser{}
	c.setParser(np)
	if c.parser != Parser(np) || c.trailer != nil {
		t.Fatalf("setParser(non-trailer): parser %v trailer %v", c.parser, c.trailer)
	}
	c.setParser(nil)
	if c.parser != nil || c.trailer != nil {
		t.Fatalf("setParser(nil): parser %v trailer %v", c.parser, c.trailer)
	}
}

type plainParser struct{}

func (plainParser) Parse([]byte, Direction, *Message) (int, bool, error) { return 0, false, nil }
func (plainParser) Gap(Direction, int)                                   {}

type trailParser struct{ plainParser }

func (*trailParser) Trailing(Direction) bool { return true }

// TestEngine_Prefetch: PrefetchSlot and PrefetchState only ask for
// memory: slots past the engine's tables, empty ones, ones with a Conn and
// ones with an offSlot entry (off, rested, parked, and naming indexes out
// of range) leave the engine's state as it was, and nothing is allocated.
func TestEngine_Prefetch(t *testing.T) {
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	e.PrefetchSlot(7) // nothing allocated yet
	e.PrefetchState(7)
	c := e.open(ConnInfo{ID: 1, Transport: TCP}, 1)
	e.bySlot = append(e.bySlot, c, nil)
	c.slot = 0
	ri, pi := e.rested.alloc(), e.parked.alloc()
	e.restedAt(ri).dec = 3
	offs := []uint64{0, 1<<32 | slotOff, 2<<32 | slotRested + uint64(ri), 3<<32 | slotParkedTCP + uint64(pi),
		4<<32 | slotRested + 7, 5<<32 | slotParkedTCP + 9} // the last two name indexes never handed out
	e.offSlot = append(e.offSlot, offs...)
	for slot := range uint32(len(offs) + 2) {
		e.PrefetchSlot(slot)
		e.PrefetchState(slot)
	}
	if e.bySlot[0] != c || e.bySlot[1] != nil || c.state != stateInfer || c.id != 1 ||
		e.restedAt(ri).dec != 3 || e.rested.inUse() != 1 || e.parked.inUse() != 1 {
		t.Errorf("prefetching changed the engine's state")
	}
	for i, o := range offs {
		if e.offSlot[i] != o {
			t.Errorf("offSlot[%d] = %#x, want %#x", i, e.offSlot[i], o)
		}
	}
	if a := testing.AllocsPerRun(100, func() {
		for _, s := range []uint32{0, 1, 2, 3, 9} {
			e.PrefetchSlot(s)
			e.PrefetchState(s)
		}
	}); a != 0 {
		t.Errorf("prefetching allocates %v", a)
	}
}

// TestPrefetchParser: asking for a parser's state reads nothing and faults
// on no parser: none, a pointer, a value.
func TestPrefetchParser(t *testing.T) {
	tp := &trailParser{}
	for _, p := range []Parser{nil, tp, plainParser{}} {
		prefetchParser(p)
	}
	if a := testing.AllocsPerRun(100, func() { prefetchParser(tp) }); a != 0 {
		t.Errorf("prefetchParser allocates %v", a)
	}
}
