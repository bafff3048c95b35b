package http1_test

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http1"
)

// A parser follows one connection: requests in one direction, responses in
// the other. The response to HEAD carries no body despite its
// Content-Length, and 100 Continue emits nothing.
func Example() {
	d := http1.New(nil)
	p := d.NewParser(l7.TCP)
	var m l7.Message
	feed := func(dir l7.Direction, s string) {
		b := []byte(s)
		for len(b) > 0 {
			m.Reset()
			n, ok, err := p.Parse(b, dir, &m)
			if ok {
				if m.Kind == l7.KindRequest {
					fmt.Printf("request %s %s host=%s\n", m.RequestType, m.RequestResource, m.RequestDomain)
				} else {
					fmt.Printf("response %d %s\n", m.Code, m.Status)
				}
			}
			if err != nil {
				return
			}
			b = b[n:]
		}
	}
	fmt.Println(d.Check([]byte("HEAD /x HTTP/1.1\r\n"), l7.ToServer, l7.TCP) == l7.Request)
	feed(l7.ToServer, "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nPOST /y?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
	feed(l7.ToClient, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	// Output:
	// true
	// request HEAD /x host=a
	// request POST /y?q=1 host=a
	// response 200 Ok
	// response 404 ClientError
}
