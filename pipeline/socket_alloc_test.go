package pipeline

import (
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
)

// TestSockInput_EventAllocs checks that the data events of a known socket,
// requests and their replies decoded into records, allocate nothing.
func TestSockInput_EventAllocs(t *testing.T) {
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{}
	si, err := newSockInput(p, nil, SocketConfig{}, l7.Config{Registry: reg}, false)
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	si.sh.p.cfg.Stages = []Stage{countStage{&records}}
	req, resp := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), []byte("$1\r\nv\r\n")
	e := socket.Event{Kind: socket.KindData, Transport: socket.TCP, Role: socket.RoleClient, Pid: 1, Tid: 2,
		SocketID: 7, Local: netip.MustParseAddrPort("10.0.0.1:40000"), Remote: netip.MustParseAddrPort("10.0.0.2:6379"),
		HasSeq: true}
	var ts int64 = 1e9
	var seq [2]uint32
	step := func() {
		for d, b := range [][]byte{req, resp} {
			e.Direction = socket.Egress + socket.Direction(d)
			e.ExitNs, e.TCPSeq, e.Length, e.Payload = ts, seq[d], int64(len(b)), b
			si.event(&e)
			seq[d] += uint32(len(b))
			ts += 1000
		}
	}
	step() // opens the connection
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per request and reply, want 0", n)
	}
	if records < 1000 {
		t.Errorf("%d records, want one per request", records)
	}
}

type countStage struct{ n *int }

func (c countStage) ProcessL4(*flow.Record) bool { return true }
func (c countStage) ProcessL7(*l7.Record) bool   { *c.n++; return true }
