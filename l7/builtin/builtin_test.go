package builtin

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

func TestRegistry(t *testing.T) {
	reg, err := Registry()
	if err != nil {
		t.Fatalf("Registry: %v", err)
	}
	if got, want := reg.Len(), len(Decoders()); got != want {
		t.Fatalf("registry has %d decoders, want %d", got, want)
	}
	for _, d := range Decoders() {
		if d.Name() == "" {
			t.Errorf("decoder %T has an empty name", d)
		}
		if d.NewParser(l7.TCP) == nil {
			t.Errorf("decoder %s: NewParser(TCP) returned nil", d.Name())
		}
	}
}
