package pipeline

import (
	"encoding/binary"
	"math/bits"

	"github.com/metaflow-go/metaflow/capture/decode"
)

// Hash returns a hash of the packet's inner (post-tunnel) source and
// destination addresses and IP protocol that is the same for both
// directions. Every packet a flow.Table would count to one flow (both
// directions, IP fragments without ports, directions tagged with
// different VLANs or tunnel keys) has the same Hash, so Hash(m) % shards
// chooses a shard that sees the whole flow. It does not allocate.
func Hash(m *decode.Meta) uint64 {
	a, b := m.Src.As16(), m.Dst.As16()
	return hashAddrs(&a, &b, m.Proto)
}

// hashAddrs is Hash of addresses in 16-byte form (decode.Decoder.PeekAddrs).
func hashAddrs(a, b *[16]byte, proto uint8) uint64 {
	a0, a1 := binary.LittleEndian.Uint64(a[:8]), binary.LittleEndian.Uint64(a[8:])
	b0, b1 := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
	if a0 > b0 || a0 == b0 && a1 > b1 {
		a0, a1, b0, b1 = b0, b1, a0, a1
	}
	// Each word times its own odd constant (independent multiplications,
	// not a chain of four finalisers), then one finaliser.
	h := uint64(proto) + 0x9E3779B97F4A7C15
	h ^= a0 * 0xBF58476D1CE4E5B9
	h ^= a1 * 0x94D049BB133111EB
	h ^= b0 * 0xD6E8FEB86659FD93
	h ^= b1 * 0xFF51AFD7ED558CCD
	return mix(h)
}

// mix is a 64-bit finaliser (splitmix64's).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

// shardOf maps a hash to one of n shards without a division.
func shardOf(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}
