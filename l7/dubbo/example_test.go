package dubbo_test

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/dubbo"
)

// A hessian2 request and its response, paired by request id.
func Example() {
	p := dubbo.New(nil).NewParser(l7.TCP)
	var m l7.Message
	req := []byte{
		0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 26, // request 7, hessian2, 26 bytes
		5, '2', '.', '0', '.', '2', // dubbo version
		5, 'd', 'e', 'm', 'o', 'S', // service
		0,                // service version
		3, 'g', 'e', 't', // method
		1, 'I', // parameter types: int
		0x91,                     // argument: 1
		'H', 1, 'k', 1, 'v', 'Z', // attachments
	}
	resp := []byte{
		0xda, 0xbb, 0x02, 20, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 3, // response 7, OK, 3 bytes
		0x91, 0x01, 'x', // RESPONSE_VALUE "x"
	}
	if _, ok, _ := p.Parse(req, l7.ToServer, &m); ok {
		fmt.Printf("request %d: %s %s %s\n", m.ID, m.RequestType, m.RequestResource, m.Endpoint)
	}
	m.Reset()
	if _, ok, _ := p.Parse(resp, l7.ToClient, &m); ok {
		fmt.Printf("response %d: %d %s\n", m.ID, m.Code, m.Status)
	}
	// Output:
	// request 7: get demoS.get demoS/get
	// response 7: 20 Ok
}
