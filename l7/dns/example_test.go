package dns_test

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/dns"
)

// One UDP query for www.example.com and its answer: a CNAME and an A
// record, the CNAME target compressed against the question.
func Example() {
	query := []byte{
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, // id, RD, 1 question
		3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0, 1, 0, 1, // A, IN
	}
	answer := append([]byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0}, query[12:]...)
	answer = append(answer,
		0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, 'c', 'd', 'n', 0xc0, 16, // CNAME cdn.example.com.
		0xc0, 45, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34, // A
	)
	d := dns.New(nil)
	fmt.Println(d.Check(query, l7.ToServer, l7.UDP) == l7.Request)
	p := d.NewParser(l7.UDP)
	var m l7.Message
	p.Parse(query, l7.ToServer, &m)
	fmt.Printf("request id=%d %s %s\n", m.ID, m.RequestType, m.RequestResource)
	m.Reset()
	p.Parse(answer, l7.ToClient, &m)
	fmt.Printf("response id=%d rcode=%d %s: %s\n", m.ID, m.Code, m.Status, m.Result)
	// Output:
	// true
	// request id=4660 A www.example.com
	// response id=4660 rcode=0 Ok: CNAME cdn.example.com.;A 93.184.216.34
}
