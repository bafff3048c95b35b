package l7

import (
	"strconv"
	"testing"
	"unsafe"
)

// TestRestedConn_Size keeps a rested flow's state at one cache line: most
// flows of a busy link wait as restedConns until they time out (375K of
// them at the end of the mixed benchmark file).
func TestRestedConn_Size(t *testing.T) {
	if n := unsafe.Sizeof(restedConn{}); n > 64 {
		t.Errorf("restedConn is %d bytes, want <= 64", n)
	}
	if n := unsafe.Sizeof(restedPending{}); n > 184 {
		t.Errorf("restedPending is %d bytes, want <= 184", n)
	}
}

// restRig opens the Conn of flow id in slot 0 in stateParse with decoder
// 0, as a flow whose decoder is known.
func restConn(t *testing.T, r *parkRig, id uint64) *Conn {
	t.Helper()
	c := r.open(id, parkA, parkB)
	c.dec, c.state = 0, stateParse
	return c
}

// TestEngine_RestUnrest: what a rested Conn keeps comes back whole to the
// Conn its flow opens next, for both flips and with a re-orientation of the
// flow while it rested.
func TestEngine_RestUnrest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flip     uint8
		reorient bool
	}{
		{name: "plain"},
		{name: "flipped", flip: 1},
		{name: "re-oriented", reorient: true},
		{name: "flipped, re-oriented", flip: 1, reorient: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newParkRig(t)
			e := r.e
			c := restConn(t, r, 1<<32|1)
			c.flip, c.tls, c.msgProto = tc.flip, true, "gRPC"
			c.requests, c.responses, c.clientErrors, c.serverErrors, c.timeouts = 7, 6, 5, 4, 3
			c.reported = connCounts{1, 2, 3, 4, 5}
			for i := range c.sides {
				s := &c.sides[i]
				s.r.started, s.r.next = true, 1000+uint32(i)
				s.ack, s.hasAck, s.ackSeen = 7000+uint32(i), i == 0, true
				s.errs, s.decoded = int32(200+i), i == 1
			}
			want := *c
			if !c.restable() {
				t.Fatal("a parsing Conn with nothing in flight is not restable")
			}
			e.rest(c)
			if e.bySlot[0] != nil || e.restedIndex(0, 1<<32|1) < 0 || e.rested.inUse() != 1 {
				t.Fatalf("after rest: bySlot %p, rested index %d, in use %d", e.bySlot[0], e.restedIndex(0, 1<<32|1), e.rested.inUse())
			}
			cl, sv := parkA, parkB
			if tc.reorient {
				cl, sv = parkB, parkA
			}
			c2 := r.open(1<<32|1, cl, sv)
			e.unrest(c2, e.restedIndex(0, 1<<32|1))
			flip := want.flip
			if tc.reorient {
				flip ^= 1
			}
			if c2.flip != flip || c2.tls != want.tls || c2.msgProto != want.msgProto || c2.dec != want.dec || c2.state != stateParse {
				t.Errorf("flip %d tls %v proto %q dec %d state %d; want %d %v %q %d %d", c2.flip, c2.tls, c2.msgProto, c2.dec, c2.state,
					flip, want.tls, want.msgProto, want.dec, stateParse)
			}
			got := connCounts{c2.requests, c2.responses, c2.clientErrors, c2.serverErrors, c2.timeouts}
			if w := (connCounts{7, 6, 5, 4, 3}); got != w || c2.reported != want.reported {
				t.Errorf("counts %+v reported %+v; want %+v %+v", got, c2.reported, w, want.reported)
			}
			for i := range c2.sides {
				g, w := &c2.sides[i], &want.sides[i]
				if g.r.started != w.r.started || g.r.next != w.r.next || g.ack != w.ack || g.hasAck != w.hasAck ||
					g.ackSeen != w.ackSeen || g.errs != w.errs || g.decoded != w.decoded {
					t.Errorf("side %d: %+v, want %+v", i, g, w)
				}
			}
			if e.rested.inUse() != 0 {
				t.Errorf("%d rested after unrest, want 0", e.rested.inUse())
			}
		})
	}
}

// TestConn_RestableNarrow: a Conn whose state does not fit a restedConn's
// narrower fields stays a Conn, and a Message.Protocol past the 255 the
// engine names keeps its Conn.
func TestConn_RestableNarrow(t *testing.T) {
	r := newParkRig(t)
	for _, tc := range []struct {
		name string
		set  func(c *Conn)
	}{
		{"avoid", func(c *Conn) { c.avoid = 1 }},
		{"errs", func(c *Conn) { c.sides[1].errs = 256 }},
		{"dec", func(c *Conn) { c.dec = 256 }},
	} {
		c := restConn(t, r, 1<<32|1)
		tc.set(c)
		if c.restable() {
			t.Errorf("%s: restable, want not", tc.name)
		}
		c.state = stateClosed
	}
	e := r.e
	for i := range 255 {
		if got := e.restProto("p" + strconv.Itoa(i)); got != i+1 {
			t.Fatalf("restProto(p%d) = %d, want %d", i, got, i+1)
		}
	}
	if got := e.restProto("p7"); got != 8 {
		t.Errorf("restProto(p7) again = %d, want 8", got)
	}
	c := restConn(t, r, 2<<32|1)
	c.msgProto = "one more"
	e.rest(c)
	if e.bySlot[0] != c || e.rested.inUse() != 0 {
		t.Errorf("a Conn with a 256th protocol name rested")
	}
}

// TestSession_Size keeps a waiting request in Go's 256-byte size class
// (session.rest took padding).
func TestSession_Size(t *testing.T) {
	if n := unsafe.Sizeof(session{}); n > sessionCost {
		t.Errorf("session is %d bytes, want <= %d", n, sessionCost)
	}
}
