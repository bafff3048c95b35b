package builtin

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/redis"
)

// textDecoder claims every flow.
type textDecoder struct{}

func (textDecoder) Name() string                                        { return "TEXT" }
func (textDecoder) Check([]byte, l7.Direction, l7.Transport) l7.Verdict { return l7.Request }
func (textDecoder) NewParser(l7.Transport) l7.Parser                    { return nil }

func TestRegistryOrder(t *testing.T) {
	names := func(r *l7.Registry) []string {
		var s []string
		for _, d := range r.Decoders() {
			s = append(s, d.Name())
		}
		return s
	}
	n := len(Decoders())
	last, err := Registry(textDecoder{})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(last); len(got) != n+1 || got[n] != "TEXT" {
		t.Errorf("Registry: %v, want TEXT last", got)
	}
	mine := make([]l7.Decoder, 1, 4)
	mine[0] = textDecoder{}
	first, err := RegistryFirst(mine...)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(first); len(got) != n+1 || got[0] != "TEXT" {
		t.Errorf("RegistryFirst: %v, want TEXT first", got)
	}
	if mine[:2][1] != nil {
		t.Errorf("RegistryFirst wrote into the caller's backing array")
	}
	if _, err := RegistryFirst(redis.New(nil)); !errors.Is(err, l7.ErrDuplicateDecoder) {
		t.Errorf("RegistryFirst(Redis): err %v, want ErrDuplicateDecoder", err)
	}
}

// TestPortHints_RedisInline: an inline command alone (its reply not
// captured) is Redis only where a hint (Redis's own, 6379) or the endpoint
// cache says so.
func TestPortHints_RedisInline(t *testing.T) {
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	proto := func(hints map[uint16]string, port uint16, cmd string) string {
		e, err := l7.NewEngine(l7.Config{Registry: reg, PortHints: hints})
		if err != nil {
			t.Fatal(err)
		}
		c := e.Open(l7.ConnInfo{ID: 1, Transport: l7.TCP, Oriented: true,
			Client: netip.MustParseAddrPort("10.0.0.1:40000"),
			Server: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), port)}, 0)
		c.Data(l7.ToServer, 1, 0, []byte(cmd))
		return c.Protocol()
	}
	for _, tc := range []struct {
		hints map[uint16]string
		port  uint16
		cmd   string
		want  string
	}{
		{nil, 6379, "PING\r\n", redis.Name},
		{nil, 6379, "get k\r\n", redis.Name},
		{nil, 17111, "get k\r\n", ""},
		{map[uint16]string{17111: redis.Name}, 17111, "get k\r\n", redis.Name},
		// "GET k" is an HTTP/0.9 request line too: HTTP's Check takes
		// it, but the hint puts Redis first.
		{nil, 6379, "GET k\r\n", redis.Name},
		{nil, 17111, "GET k\r\n", "HTTP"},
		// A hint in the Config overrides the decoder's own.
		{map[uint16]string{6379: "HTTP"}, 6379, "GET k\r\n", "HTTP"},
	} {
		if got := proto(tc.hints, tc.port, tc.cmd); got != tc.want {
			t.Errorf("hints %v, port %d, %q: protocol %q, want %q", tc.hints, tc.port, tc.cmd, got, tc.want)
		}
	}
}
