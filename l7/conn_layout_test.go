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
