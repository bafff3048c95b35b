package flow

import (
	"unsafe"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/internal/prefetch"
)

// prefetchGroup is how many packets Packets looks up ahead: enough
// misses in flight to cover a memory access, few enough that their lines
// stay in the first-level cache until used.
const prefetchGroup = 16

// Packets counts each packet of ms, in order, exactly as Packet would.
// Packet waits for each packet's flow lookup in turn; on a table much
// larger than the CPU's caches those waits are most of its cost. Packets
// asks for the index positions and flow entries of a group of packets
// first, so that the cache misses overlap, then updates the flows.
func (t *Table) Packets(ms []decode.Meta) {
	var ks [prefetchGroup]keyed
	var use [prefetchGroup]bool // ks[i] holds g[i]'s key
	for len(ms) > 0 {
		g := ms[:min(len(ms), prefetchGroup)]
		ms = ms[len(g):]
		for i := range g {
			m := &g[i]
			use[i] = m.L4Decoded && (m.IPVersion == 4 || m.IPVersion == 6)
			if !use[i] {
				continue
			}
			kd := &ks[i]
			kd.setKey(m, t.hseed)
			prefetch.Line(uintptr(unsafe.Pointer(&t.index[uint64(kd.h)&t.mask])))
		}
		for i := range g {
			if slot, ok := t.homeSlot(use[i], ks[i].h); ok {
				prefetch.Lines(unsafe.Pointer(t.flow(slot)), unsafe.Sizeof(Flow{}))
				prefetch.Line(uintptr(unsafe.Pointer(t.link(slot))))
				if t.pf != nil {
					t.pf.PrefetchSlot(slot)
				}
			}
		}
		for i := range g {
			if slot, ok := t.homeSlot(use[i], ks[i].h); ok {
				t.prefetchLinks(slot)
				t.prefetchTCP(t.flow(slot))
			}
		}
		for i := range g {
			if use[i] {
				t.packet(&g[i], &ks[i])
			} else {
				t.packet(&g[i], nil)
			}
		}
	}
}

// homeSlot returns, when use is set, the slot of the flow at hash h's home
// position in the index if that flow has h's tag: most likely the flow h
// was computed for.
func (t *Table) homeSlot(use bool, h uint32) (uint32, bool) {
	if !use {
		return 0, false
	}
	e := t.index[uint64(h)&t.mask]
	if e == 0 || e&^0xffffffff != uint64(h)<<32 {
		return 0, false
	}
	return uint32(e) - 1, true
}

// setKey fills kd with the key of m's flow, endpoints in order, whether
// m's source is the key's side b, and the key's hash. It writes the key in
// place: a key returned by value went through a temporary on the stack
// and a 48-byte copy at every packet.
func (kd *keyed) setKey(m *decode.Meta, seed uint64) {
	k := &kd.k
	k.proto = m.Proto
	k.vlan = m.VLAN
	k.tun = m.Tunnel.Type
	k.tunID = m.Tunnel.ID
	sp, dp := m.SrcPort, m.DstPort
	k.a, k.b = m.Src.As16(), m.Dst.As16()
	k.pa, k.pb = sp, dp
	kd.fromB = cmpEnd(k.a, sp, k.b, dp) > 0
	if kd.fromB {
		k.a, k.b = k.b, k.a
		k.pa, k.pb = dp, sp
	}
	kd.h = k.hash(seed)
}
