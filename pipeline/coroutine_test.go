package pipeline_test

import (
	"context"
	"testing"

	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/pipeline"
)

// TestSockets_Goroutine checks that a record carries the goroutines of
// the socket events of its request and its response (syscall_coroutine_0
// and _1), beside their threads and syscall trace ids.
func TestSockets_Goroutine(t *testing.T) {
	req := ev(socket.KindData, socket.Egress, 1e9, 1000, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
	req.Goroutine, req.SyscallTraceID = 7001, 501
	resp := ev(socket.KindData, socket.Ingress, 2e9, 5000, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	resp.Goroutine, resp.SyscallTraceID, resp.Tid = 7002, 502, 12
	c := &sockCollect{}
	p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: []socket.Event{req, resp, {Kind: socket.KindClose, SocketID: 99, ExitNs: 3e9}}},
		Sinks: []pipeline.SinkConfig{{Sink: c}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.recs) != 1 {
		t.Fatalf("records %q", c.l7)
	}
	r := c.recs[0]
	if r.SyscallCoroutine0 != 7001 || r.SyscallCoroutine1 != 7002 || r.SyscallThread0 != 11 || r.SyscallThread1 != 12 ||
		r.SyscallTraceIDRequest != 501 || r.SyscallTraceIDResponse != 502 {
		t.Errorf("record %s: goroutines %d %d, threads %d %d, trace ids %d %d", l7Key(r), r.SyscallCoroutine0, r.SyscallCoroutine1,
			r.SyscallThread0, r.SyscallThread1, r.SyscallTraceIDRequest, r.SyscallTraceIDResponse)
	}
}
