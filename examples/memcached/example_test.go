package memcached_test

import (
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/examples/memcached"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
)

// A decoder of one's own registered after the built-in ones gets the flows
// none of them recognises: here a memcached conversation on a port nothing
// hints at, whose first line Redis would take for an inline command.
func Example() {
	reg, err := builtin.Registry(memcached.New(nil))
	if err != nil {
		panic(err)
	}
	eng, err := l7.NewEngine(l7.Config{
		Registry: reg,
		OnRecord: func(r *l7.Record) {
			fmt.Printf("%s %q -> %v %q\n", r.L7Protocol, r.RequestResource, r.Status, r.ResponseResult)
		},
	})
	if err != nil {
		panic(err)
	}
	c := eng.Open(l7.ConnInfo{
		ID:        1,
		Client:    netip.MustParseAddrPort("10.0.0.1:40000"),
		Server:    netip.MustParseAddrPort("10.0.0.2:17111"),
		Transport: l7.TCP,
	}, 0)
	const ms = 1e6
	c.Data(l7.ToServer, 1*ms, 0, []byte("get greeting\r\nset greeting 0 0 5\r\nhello\r\n"))
	c.Data(l7.ToClient, 2*ms, 0, []byte("END\r\nSTORED\r\n"))
	c.Close(3 * ms)
	// Output:
	// Memcached "get greeting" -> Ok "END"
	// Memcached "set greeting 0 0 5" -> Ok "STORED"
}
