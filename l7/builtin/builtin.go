package builtin

import (
	"fmt"
	"strings"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/dns"
	"github.com/metaflow-go/metaflow/l7/dubbo"
	"github.com/metaflow-go/metaflow/l7/http1"
	"github.com/metaflow-go/metaflow/l7/http2"
	"github.com/metaflow-go/metaflow/l7/kafka"
	"github.com/metaflow-go/metaflow/l7/mqtt"
	"github.com/metaflow-go/metaflow/l7/mysql"
	"github.com/metaflow-go/metaflow/l7/redis"
	"github.com/metaflow-go/metaflow/l7/tls"
)

// Decoders returns the built-in decoders, most specific first.
func Decoders() []l7.Decoder {
	return []l7.Decoder{
		http2.New(nil), // before http1: it takes HTTP/1.1 only with "Upgrade: h2c"
		http1.New(nil),
		dubbo.New(nil),
		tls.New(nil),
		redis.New(nil),
		dns.New(nil),
		mysql.New(nil),
		kafka.New(nil),
		mqtt.New(nil),
	}
}

// Registry returns a registry of the built-in decoders followed by extra
// (a user's own decoders, whose names must not clash with the built-in
// ones).
func Registry(extra ...l7.Decoder) (*l7.Registry, error) {
	return l7.NewRegistry(append(Decoders(), extra...)...)
}

// RegistryFirst returns a registry of first (a user's own decoders) followed
// by the built-in decoders, so that inference tries first before any
// built-in one. It is l7.NewRegistry(append(first, Decoders()...)...)
// without touching first's backing array.
func RegistryFirst(first ...l7.Decoder) (*l7.Registry, error) {
	return l7.NewRegistry(append(append([]l7.Decoder(nil), first...), Decoders()...)...)
}

// Named returns the built-in decoders with the given names (Decoder.Name,
// any case), in Decoders' order whatever the order of names: a subset of
// the built-ins, to decode only some protocols (bytes of the others stay
// unknown, and cost nothing after inference fails). An unknown name is an
// error that lists the known ones.
func Named(names ...string) ([]l7.Decoder, error) {
	all := Decoders()
	want := make([]bool, len(all))
	for _, n := range names {
		found := false
		for i, d := range all {
			if strings.EqualFold(d.Name(), n) {
				want[i], found = true, true
			}
		}
		if !found {
			known := make([]string, len(all))
			for i, d := range all {
				known[i] = d.Name()
			}
			return nil, fmt.Errorf("builtin: no decoder named %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	var out []l7.Decoder
	for i, d := range all {
		if want[i] {
			out = append(out, d)
		}
	}
	return out, nil
}
