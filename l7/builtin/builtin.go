package builtin

import (
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
