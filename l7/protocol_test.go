package l7_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// protoDecoder is the line protocol whose messages carrying "!" name
// their own l7_protocol, as the HTTP/2 decoder does for gRPC.
type protoDecoder struct{ lineDecoder }

func (protoDecoder) NewParser(t l7.Transport) l7.Parser { return &protoParser{} }

type protoParser struct{ lineParser }

func (p *protoParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	n, ok, err := p.lineParser.Parse(data, dir, m)
	if ok && bytes.Contains(data[:n], []byte("!")) {
		m.Protocol = "SUB"
	}
	return n, ok, err
}

func TestEngine_MessageProtocol(t *testing.T) {
	reg, err := l7.NewRegistry(protoDecoder{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {
		got = append(got, string(r.RequestResource)+string(r.ResponseResult)+":"+r.L7Protocol)
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP}, 0)
	// @1 is named by its request, @2 by its response, @3 by neither;
	// "QUIT !" is emitted at once, @4 is a lone response, @5 times out.
	c.Data(l7.ToServer, 1*ms, 1, []byte("@1 GET a!\n@2 GET b\n@3 GET c\nQUIT !\n@5 GET e!\n"))
	c.Data(l7.ToClient, 2*ms, 1, []byte("@1 +A\n@2 +B!\n@3 +C\n@4 +D!\n"))
	c.Close(3 * ms)
	want := []string{"!:SUB", "a!A:SUB", "bB!:SUB", "cC:LINE", "D!:SUB", "e!:SUB"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("records %q, want %q", got, want)
	}
}
