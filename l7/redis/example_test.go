package redis_test

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/redis"
)

// Commands are parsed in the client's direction and replies in the
// server's; they pair in order.
func Example() {
	p := redis.New(nil).NewParser(l7.TCP)
	var m l7.Message
	feed := func(dir l7.Direction, s string) {
		b := []byte(s)
		for len(b) > 0 {
			m.Reset()
			n, ok, err := p.Parse(b, dir, &m)
			if ok && m.Kind == l7.KindRequest {
				fmt.Printf("command %s: %q\n", m.RequestType, m.RequestResource)
			} else if ok {
				fmt.Printf("reply %s %q streaming=%v\n", m.Status, m.Exception, m.Streaming)
			}
			if err != nil {
				return
			}
			b = b[n:]
		}
	}
	feed(l7.ToServer, "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$5\r\nhello\r\nINCR k\r\n")
	feed(l7.ToClient, "+OK\r\n-ERR value is not an integer or out of range\r\n")
	// Output:
	// command SET: "set k hello"
	// command INCR: "INCR k"
	// reply Ok "" streaming=false
	// reply ServerError "ERR value is not an integer or out of range" streaming=false
}
