package l7_test

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// tlsLineDecoder is lineDecoder whose parser marks every message from the
// first "TLS" request on with Message.TLS.
type tlsLineDecoder struct{ lineDecoder }

func (tlsLineDecoder) NewParser(t l7.Transport) l7.Parser { return &tlsLineParser{} }

type tlsLineParser struct {
	lineParser
	on bool
}

func (p *tlsLineParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	n, ok, err := p.lineParser.Parse(data, dir, m)
	if ok && string(m.RequestType) == "TLS" {
		p.on = true
	}
	m.TLS = p.on && ok
	return n, ok, err
}

// TestEngine_IsTLS checks that Message.TLS marks the record it is on and
// every later record of the flow, including a request that times out at
// Close, and no record of another flow.
func TestEngine_IsTLS(t *testing.T) {
	var got []bool
	reg, err := l7.NewRegistry(tlsLineDecoder{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) { got = append(got, r.IsTLS) }})
	if err != nil {
		t.Fatal(err)
	}
	c := eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP}, 0)
	c.Data(l7.ToServer, 1*ms, 1, []byte("GET a\n"))
	c.Data(l7.ToClient, 2*ms, 1, []byte("+A\n"))
	c.Data(l7.ToServer, 3*ms, 7, []byte("TLS x\n"))
	c.Data(l7.ToClient, 4*ms, 4, []byte("+B\n"))
	c.Data(l7.ToServer, 5*ms, 13, []byte("GET c\n"))
	c.Close(6 * ms)
	c = eng.Open(l7.ConnInfo{ID: 2, Client: cli, Server: srv, Transport: l7.TCP}, 7*ms)
	c.Data(l7.ToServer, 8*ms, 1, []byte("GET d\n"))
	c.Data(l7.ToClient, 9*ms, 1, []byte("+D\n"))
	c.Close(10 * ms)
	want := []bool{false, true, true, false}
	if len(got) != len(want) {
		t.Fatalf("is_tls of records %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: is_tls %v, want %v", i, got[i], want[i])
		}
	}
}
