package tls_test

import (
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/tls"
)

// An engine with the TLS decoder turns a handshake into one record; the
// encrypted records after it are counted, not decoded.
func Example() {
	reg, err := l7.NewRegistry(tls.New(nil))
	if err != nil {
		panic(err)
	}
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {
		fmt.Printf("%s\nis_tls=%v version=%s\n", r.AppendText(nil), r.IsTLS, r.Version)
	}})
	if err != nil {
		panic(err)
	}
	c := eng.Open(l7.ConnInfo{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:40000"),
		Server: netip.MustParseAddrPort("10.0.0.2:443"), Transport: l7.TCP}, 0)
	// A ClientHello with server_name "example.com" and ALPN h2, http/1.1.
	ch := []byte{
		22, 3, 1, 0, 85, // handshake record, 85 bytes
		1, 0, 0, 81, 3, 3, // ClientHello, 81 bytes, legacy_version 1.2
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // random
		0,             // no session id
		0, 2, 0x13, 1, // cipher suites: TLS_AES_128_GCM_SHA256
		1, 0, // compression: null
		0, 38, // extensions: server_name, ALPN
		0, 0, 0, 16, 0, 14, 0, 0, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
		0, 16, 0, 14, 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1',
	}
	// A ServerHello choosing TLS 1.3 and TLS_AES_128_GCM_SHA256, then
	// application data.
	sh := []byte{
		22, 3, 3, 0, 50, // handshake record, 50 bytes
		2, 0, 0, 46, 3, 3, // ServerHello, 46 bytes
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // random
		0,          // no session id
		0x13, 1, 0, // cipher suite, compression
		0, 6, 0, 43, 0, 2, 3, 4, // supported_versions: 1.3
		23, 3, 3, 0, 3, 1, 2, 3, // application data
	}
	c.Data(l7.ToServer, 1_000_000, 1, ch)
	c.Data(l7.ToClient, 3_000_000, 1, sh)
	c.Close(4_000_000)
	fmt.Println("parse errors:", eng.Stats().ParseErrors)
	// Output:
	// TLS 10.0.0.1:40000 > 10.0.0.2:443 ClientHello example.com h2,http/1.1 -> Ok TLS_AES_128_GCM_SHA256 2000us
	// is_tls=true version=1.3
	// parse errors: 0
}
