package kafka_test

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/kafka"
)

// A Metadata v1 request for topic "orders" and its response, whose topic
// carries error 3 (UNKNOWN_TOPIC_OR_PARTITION). The response names only
// the correlation id (7); the parser pairs it with the request.
func Example() {
	req := []byte("\x00\x00\x00\x19" + // size
		"\x00\x03\x00\x01\x00\x00\x00\x07" + // Metadata v1, correlation id 7
		"\x00\x03cli" + // client id
		"\x00\x00\x00\x01\x00\x06orders") // topics: ["orders"]
	resp := []byte("\x00\x00\x00\x1f" + // size
		"\x00\x00\x00\x07" + // correlation id 7
		"\x00\x00\x00\x00" + // brokers: none
		"\xff\xff\xff\xff" + // controller id
		"\x00\x00\x00\x01\x00\x03\x00\x06orders\x00" + // topic: error 3, "orders", not internal
		"\x00\x00\x00\x00") // partitions: none
	p := kafka.New(nil).NewParser(l7.TCP)
	var m l7.Message
	if _, ok, _ := p.Parse(req, l7.ToServer, &m); ok {
		fmt.Printf("request %s v%s id %d topic %s\n", m.RequestType, m.Version, m.ID, m.RequestResource)
	}
	m.Reset()
	if _, ok, _ := p.Parse(resp, l7.ToClient, &m); ok {
		fmt.Printf("response %s id %d code %d %s\n", m.RequestType, m.ID, m.Code, m.Status)
	}
	// Output:
	// request Metadata v1 id 7 topic orders
	// response Metadata id 7 code 3 ServerError
}
