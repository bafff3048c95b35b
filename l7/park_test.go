package l7

import (
	"bytes"
	"math"
	"net/netip"
	"testing"
	"unsafe"
)

// TestParkedConn_Size keeps a parked TCP flow's state at one cache line:
// half a million parked flows are 32 MB of it (doc.go states the figure).
func TestParkedConn_Size(t *testing.T) {
	if n := unsafe.Sizeof(parkedConn{}); n > 64 {
		t.Errorf("parkedConn is %d bytes, want <= 64", n)
	}
}

// parkRig is an engine with no decoder and one TCP Conn of a flow in slot
// 0, in inference, holding bytes in each direction.
type parkRig struct {
	t *testing.T
	e *Engine
}

var (
	parkA = netip.MustParseAddrPort("10.0.0.1:40000")
	parkB = netip.MustParseAddrPort("10.0.0.2:7000")
)

func newParkRig(t *testing.T) *parkRig {
	t.Helper()
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	return &parkRig{t: t, e: e}
}

// open opens the Conn of flow id in slot 0 with client cl and server sv.
func (r *parkRig) open(id uint64, cl, sv netip.AddrPort) *Conn {
	c := r.e.open(ConnInfo{ID: id, Client: cl, Server: sv, Transport: TCP}, 1)
	for len(r.e.bySlot) < 1 {
		r.e.bySlot = append(r.e.bySlot, nil)
	}
	r.e.bySlot[0], c.slot = c, 0
	return c
}

// hold puts b in engine direction d of c as held bytes, as Conn.hold
// does, and sets the side's other parked fields from seed.
func (r *parkRig) hold(c *Conn, d Direction, b string, seed uint32) {
	s := &c.sides[uint8(d)^c.flip]
	if b != "" {
		s.buf = append(r.e.pool.get(len(b)), b...)
	}
	s.bufTs, s.bufSeq = int64(seed)*1000, seed
	s.r.started, s.r.next = true, seed+uint32(len(b))
	s.ack, s.hasAck, s.ackSeen = seed^0xffff, seed%2 == 0, true
}

// TestEngine_ParkUnpark: a parked Conn's state comes back whole to the
// Conn its flow opens next, on the sides of the same endpoints, also when
// the flow was re-oriented while parked (its client and server swapped)
// and whatever the Conns' flip.
func TestEngine_ParkUnpark(t *testing.T) {
	for _, tc := range []struct {
		name        string
		flip, flip2 uint8
		reorient    bool
		cli, srv    string // held bytes of the first Conn's client and server
	}{
		{name: "same orientation", cli: "abcdefghij", srv: "0123456789abcdefghijklmnopqrstuvwxyz"},
		{name: "re-oriented", reorient: true, cli: "abcdefghij", srv: "0123456789abcdefghijklmnopqrstuvwxyz"},
		{name: "flipped at park", flip: 1, cli: "abcdefghijklmnopq", srv: ""},
		{name: "flipped at unpark, re-oriented", flip2: 1, reorient: true, cli: "", srv: "xy"},
		{name: "nothing held", flip: 1, flip2: 1},
		{name: "max held", cli: string(bytes.Repeat([]byte{'c'}, maxHeld)), srv: string(bytes.Repeat([]byte{'s'}, maxHeld-1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newParkRig(t)
			e := r.e
			cl, sv := parkA, parkB
			if tc.reorient {
				// The server sorts first: re-orientation changes the
				// order as well as the other way round.
				cl, sv = parkB, parkA
			}
			c := r.open(1<<32|1, cl, sv)
			c.flip, c.tries = tc.flip, 5
			r.hold(c, ToServer, tc.cli, 1000)
			r.hold(c, ToClient, tc.srv, 5001)
			want := [2]side{c.sides[tc.flip], c.sides[1^tc.flip]} // by direction from cl
			want[0].buf, want[1].buf = bytes.Clone(want[0].buf), bytes.Clone(want[1].buf)
			inUse := e.pool.inUse
			if !c.parkable() {
				t.Fatal("a Conn in inference holding bytes is not parkable")
			}
			e.park(c, 0)
			o := e.offSlot[0]
			if o>>32 != 1 || o&0xffffffff < slotParkedTCP {
				t.Fatalf("offSlot entry %#x, want flow 1 parked", o)
			}
			if e.nconns != 0 || e.pool.inUse != inUse {
				t.Fatalf("open conns %d, pool in use %d after park; want 0 and %d", e.nconns, e.pool.inUse, inUse)
			}
			c2cl, c2sv := cl, sv
			if tc.reorient {
				c2cl, c2sv = sv, cl
			}
			c2 := r.open(1<<32|1, c2cl, c2sv)
			c2.flip = tc.flip2
			e.unpark(c2, int(o&0xffffffff-slotParkedTCP))
			if c2.tries != 5 {
				t.Errorf("tries %d, want 5", c2.tries)
			}
			for d := range 2 {
				// want[d] is the side of direction d from cl: from c2's
				// client, direction d^1 when re-oriented.
				k := uint8(d)
				if tc.reorient {
					k ^= 1
				}
				got, w := &c2.sides[k^c2.flip], &want[d]
				if !bytes.Equal(got.buf, w.buf) || (got.buf == nil) != (w.buf == nil) {
					t.Errorf("direction %d from the client: held %q, want %q", d, got.buf, w.buf)
				}
				if got.buf != nil && cap(got.buf) != classSize(len(w.buf)) {
					t.Errorf("direction %d: held bytes' capacity %d, want %d", d, cap(got.buf), classSize(len(w.buf)))
				}
				if got.bufTs != w.bufTs || got.bufSeq != w.bufSeq || got.r.next != w.r.next || got.r.started != w.r.started ||
					got.ack != w.ack || got.hasAck != w.hasAck || got.ackSeen != w.ackSeen {
					t.Errorf("direction %d: bufTs %d bufSeq %d next %d started %v ack %d hasAck %v seen %v; want %d %d %d %v %d %v %v",
						d, got.bufTs, got.bufSeq, got.r.next, got.r.started, got.ack, got.hasAck, got.ackSeen,
						w.bufTs, w.bufSeq, w.r.next, w.r.started, w.ack, w.hasAck, w.ackSeen)
				}
			}
			if *e.parkedAt(0) != (parkedConn{}) || len(e.parked.free) != 1 {
				t.Errorf("parked state not cleared and freed after unpark")
			}
			c2.Close(2)
			if e.pool.inUse != 0 {
				t.Errorf("pool holds %d bytes after the Conn closed, want 0", e.pool.inUse)
			}
		})
	}
}

// TestEngine_UnparkDrop: a flow that ends parked gives its held bytes
// back to the pool and counts them as uninferred; its index is reused.
func TestEngine_UnparkDrop(t *testing.T) {
	r := newParkRig(t)
	e := r.e
	c := r.open(1<<32|1, parkA, parkB)
	r.hold(c, ToServer, "abcdefghij", 1000)
	r.hold(c, ToClient, "0123456789abcdefghij", 5001)
	e.park(c, 0)
	e.dropSlot(0)
	if st := e.Stats(); st.UninferredBytes != 30 || st.BufferedBytes != 0 {
		t.Errorf("uninferred %d, buffered %d after the parked flow ended; want 30 and 0", st.UninferredBytes, st.BufferedBytes)
	}
	c = r.open(2<<32|1, parkA, parkB)
	e.park(c, 0)
	if o := e.offSlot[0] & 0xffffffff; o != slotParkedTCP || e.parked.n != 1 {
		t.Errorf("second parked flow at index %d of %d, want 0 of 1 (reused)", o-slotParkedTCP, e.parked.n)
	}
}

// TestConn_Parkable: a Conn whose state parkedConn's fields cannot hold
// stays open.
func TestConn_Parkable(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(r *parkRig, c *Conn)
		want bool
	}{
		{name: "held bytes", set: func(r *parkRig, c *Conn) { r.hold(c, ToServer, "abc", 1) }, want: true},
		{name: "tries at the limit", set: func(r *parkRig, c *Conn) { c.tries = math.MaxUint16 }, want: true},
		{name: "tries past the limit", set: func(r *parkRig, c *Conn) { c.tries = math.MaxUint16 + 1 }},
		{name: "buffer larger than the class", set: func(r *parkRig, c *Conn) {
			c.sides[0].buf = append(r.e.pool.get(100), "abc"...)
		}},
		{name: "message in progress", set: func(r *parkRig, c *Conn) { c.sides[1].msgLen = 3 }},
		{name: "decoder found", set: func(r *parkRig, c *Conn) { c.state = stateParse }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newParkRig(t)
			c := r.open(1<<32|1, parkA, parkB)
			tc.set(r, c)
			if got := c.parkable(); got != tc.want {
				t.Errorf("parkable %v, want %v", got, tc.want)
			}
		})
	}
}
