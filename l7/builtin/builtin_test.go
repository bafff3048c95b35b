package builtin

import (
	"strings"
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

func TestNamed(t *testing.T) {
	got, err := Named("mysql", "HTTP", "dns")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range got {
		names = append(names, d.Name())
	}
	if len(names) != 3 || names[0] != "HTTP" || names[1] != "DNS" || names[2] != "MySQL" {
		t.Errorf("Named(mysql, HTTP, dns) = %v, want [HTTP DNS MySQL] (Decoders' order)", names)
	}
	if _, err := Named("HTTP", "gopher"); err == nil || !strings.Contains(err.Error(), `"gopher"`) || !strings.Contains(err.Error(), "Kafka") {
		t.Errorf("Named(gopher) error = %v, want one naming it and the known decoders", err)
	}
	if got, err := Named(); err != nil || len(got) != 0 {
		t.Errorf("Named() = %v, %v; want none", got, err)
	}
}
