//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/capture/socket"
)

// record builds a ring buffer record as bpf/common.h lays it out.
func record(kind, dir byte, family byte, payload []byte) []byte {
	b := make([]byte, hdrSize+len(payload))
	le := binary.LittleEndian
	b[0], b[2], b[3], b[4], b[5] = kind, dir, 1, 6, family
	le.PutUint32(b[offPid:], 42)
	le.PutUint32(b[offTid:], 43)
	le.PutUint32(b[offFd:], 7)
	le.PutUint32(b[offFlags:], flagHasSeq|flagHasAddr)
	copy(b[offComm:], "redis-cli")
	le.PutUint64(b[offSocketID:], 99)
	le.PutUint64(b[offEnter:], 1000)
	le.PutUint64(b[offExit:], 2000)
	le.PutUint64(b[offLength:], uint64(len(payload)))
	le.PutUint64(b[offTraceID:], 5)
	le.PutUint32(b[offSeq:], 123456)
	le.PutUint16(b[offLport:], 40000)
	le.PutUint16(b[offRport:], 6379)
	copy(b[offLaddr:], []byte{127, 0, 0, 1})
	copy(b[offRaddr:], []byte{127, 0, 0, 2})
	le.PutUint32(b[offPayloadLen:], uint32(len(payload)))
	copy(b[hdrSize:], payload)
	return b
}

func TestTracer_decode(t *testing.T) {
	tr := &Tracer{monoToUnix: 1_000_000}
	var e socket.Event
	if !tr.decode(&e, record(1, 1, afInet, []byte("PING\r\n"))) {
		t.Fatal("decode refused a well-formed record")
	}
	if e.Kind != socket.KindData || e.Direction != socket.Egress || e.Role != socket.RoleClient ||
		e.Transport != socket.TCP || e.Pid != 42 || e.Tid != 43 || e.Fd != 7 || e.CommString() != "redis-cli" ||
		e.SocketID != 99 || e.EnterNs != 1_001_000 || e.ExitNs != 1_002_000 || e.Length != 6 ||
		e.SyscallTraceID != 5 || !e.HasSeq || e.TCPSeq != 123456 || string(e.Payload) != "PING\r\n" ||
		e.Local != netip.MustParseAddrPort("127.0.0.1:40000") || e.Remote != netip.MustParseAddrPort("127.0.0.2:6379") {
		t.Errorf("decoded %+v", e)
	}
	if !tr.decode(&e, record(1, 2, afInet6, nil)) || !e.Local.Addr().Is6() {
		t.Errorf("v6 record: %+v", e)
	}
	short := record(1, 1, afInet, []byte("abc"))
	for _, b := range [][]byte{nil, short[:hdrSize-1], short[:hdrSize+2]} {
		if tr.decode(&e, b) {
			t.Errorf("decode accepted a %d-byte record", len(b))
		}
	}
	if n := testing.AllocsPerRun(100, func() { tr.decode(&e, short) }); n != 0 {
		t.Errorf("decode allocates %v times", n)
	}
}

// FuzzDecode: any bytes from the ring buffer decode or are refused, never
// panic, and a payload stays inside the record.
func FuzzDecode(f *testing.F) {
	f.Add(record(1, 1, afInet, []byte("GET k\r\n")))
	f.Add(record(4, 0, afInet6, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := &Tracer{}
		var e socket.Event
		if tr.decode(&e, b) && len(e.Payload) > len(b)-hdrSize {
			t.Fatalf("payload of %d bytes from a %d-byte record", len(e.Payload), len(b))
		}
	})
}

func BenchmarkTracer_decode(b *testing.B) {
	tr := &Tracer{}
	var e socket.Event
	for _, n := range []int{0, 1024, 16384} {
		rec := record(1, 1, afInet, make([]byte, n))
		b.Run(fmt.Sprintf("payload_%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if !tr.decode(&e, rec) {
					b.Fatal("refused")
				}
			}
		})
	}
}
