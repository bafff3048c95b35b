package builtin

import (
	"errors"
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
	for port, name := range PortHints() {
		if _, ok := first.Lookup(name); !ok {
			t.Errorf("hint %d names %q, not a built-in decoder", port, name)
		}
	}
	if _, err := l7.NewEngine(l7.Config{Registry: first, PortHints: PortHints()}); err != nil {
		t.Errorf("NewEngine with PortHints: %v", err)
	}
}
