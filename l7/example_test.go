package l7_test

import (
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/l7"
)

// Records encode to JSON with the l7_flow_log keys.
func ExampleRecord_AppendJSON() {
	reg, _ := l7.NewRegistry(newExampleDecoder(nil))
	eng, _ := l7.NewEngine(l7.Config{
		Registry: reg,
		OnRecord: func(r *l7.Record) { fmt.Println(string(r.AppendJSON(nil))) },
	})
	c := eng.Open(l7.ConnInfo{
		ID:        7,
		Client:    netip.MustParseAddrPort("[fd00::1]:50000"),
		Server:    netip.MustParseAddrPort("[fd00::2]:7000"),
		Transport: l7.TCP,
		Oriented:  true,
	}, 0)
	const t0 = 1_700_000_000_000_000_000                     // unix ns
	c.Segment(l7.ToServer, t0, 100, 0, 0x02, nil, 0)         // SYN
	c.Segment(l7.ToClient, t0+100_000, 900, 0, 0x12, nil, 0) // SYN-ACK
	c.Segment(l7.ToServer, t0+200_000, 101, 0, 0x18, []byte("GET \"k\"\n"), 0)
	c.Segment(l7.ToClient, t0+450_000, 901, 0, 0x18, []byte("-ERR boom\n"), 0)
	c.Close(t0 + 1e9)
	// Output:
	// {"type":"l7_flow_log","flow_id":7,"start_time":"2023-11-14T22:13:20.000200000Z","end_time":"2023-11-14T22:13:20.000450000Z","response_duration":250,"ip_0":"fd00::1","ip_1":"fd00::2","client_port":50000,"server_port":7000,"protocol":"TCP","l7_protocol":"LINE","is_tls":false,"req_tcp_seq":101,"resp_tcp_seq":901,"request_length":8,"response_length":10,"captured_request_byte":8,"captured_response_byte":10,"request_type":"GET","request_resource":"\"k\"","response_status":"ServerError","response_exception":"ERR boom"}
}
