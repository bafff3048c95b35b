package mysql_test

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/mysql"
)

// A query and its result set (one column, two rows, EOF-terminated), then
// a query that fails. Each Parse call returns at most one message; the
// result set's packets are consumed as they come.
func Example() {
	packet := func(seq byte, body ...byte) []byte {
		return append([]byte{byte(len(body)), 0, 0, seq}, body...)
	}
	query := func(sql string) []byte { return packet(0, append([]byte{mysql.ComQuery}, sql...)...) }
	col := []byte{3, 'd', 'e', 'f', 0, 0, 0, 1, 'a', 0, 0x0c, 33, 0, 0, 1, 0, 0, 0xfd, 0, 0, 0, 0, 0}
	var result []byte
	for _, p := range [][]byte{
		packet(1, 1), packet(2, col...), packet(3, 0xfe, 0, 0, 2, 0),
		packet(4, 1, 'x'), packet(5, 1, 'y'), packet(6, 0xfe, 0, 0, 2, 0),
	} {
		result = append(result, p...)
	}
	failure := packet(1, append([]byte{0xff, 0x7a, 0x04, '#', '4', '2', 'S', '0', '2'}, "Table 'shop.t' doesn't exist"...)...)

	p := mysql.New(nil).NewParser(l7.TCP)
	var m l7.Message
	feed := func(dir l7.Direction, b []byte) {
		for len(b) > 0 {
			m.Reset()
			n, ok, err := p.Parse(b, dir, &m)
			if ok && m.Kind == l7.KindRequest {
				fmt.Printf("request %s %q\n", m.RequestType, m.RequestResource)
			} else if ok && m.HasCode {
				fmt.Printf("response %s code=%d %s\n", m.Status, m.Code, m.Exception)
			} else if ok {
				fmt.Printf("response %s %s\n", m.Status, m.Result)
			}
			if err != nil {
				return
			}
			b = b[n:]
		}
	}
	feed(l7.ToServer, query("select a from t"))
	feed(l7.ToClient, result)
	feed(l7.ToServer, query("select * from shop.t"))
	feed(l7.ToClient, failure)
	// Output:
	// request COM_QUERY "select a from t"
	// response Ok rows=2
	// request COM_QUERY "select * from shop.t"
	// response ServerError code=1146 Table 'shop.t' doesn't exist
}
