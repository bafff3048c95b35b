package mqtt_test

import (
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/mqtt"
)

// A subscriber's connection: its CONNECT, and a PUBLISH the broker sends
// it at QoS 1, which it acknowledges. Both records have the subscriber as
// the client.
func Example() {
	reg, err := l7.NewRegistry(mqtt.New(nil))
	if err != nil {
		panic(err)
	}
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {
		fmt.Printf("client %v: %s %q %q id=%d -> %s %s\n", r.Client, r.RequestType, r.RequestDomain,
			r.RequestResource, r.RequestID, r.ResponseResult, r.Status)
	}})
	if err != nil {
		panic(err)
	}
	c := eng.Open(l7.ConnInfo{
		ID:        1,
		Client:    netip.MustParseAddrPort("10.0.0.1:40000"),
		Server:    netip.MustParseAddrPort("10.0.0.2:1883"),
		Transport: l7.TCP,
		Oriented:  true,
	}, 0)
	connect := []byte("\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03sub")
	connack := []byte("\x20\x02\x00\x00")
	publish := []byte("\x32\x0a\x00\x04news\x00\x07hi") // QoS 1, packet id 7
	puback := []byte("\x40\x02\x00\x07")
	c.Data(l7.ToServer, 1e6, 1, connect)
	c.Data(l7.ToClient, 2e6, 1, connack)
	c.Data(l7.ToClient, 3e6, 5, publish)
	c.Data(l7.ToServer, 4e6, 18, puback)
	c.Close(5e6)
	// Output:
	// client 10.0.0.1:40000: CONNECT "sub" "" id=0 -> CONNACK Ok
	// client 10.0.0.1:40000: PUBLISH "" "news" id=7 -> PUBACK Ok
}
