package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/pipeline"
)

// events is a socket.Source replaying a fixed list, as a tracer
// (capture/ebpf's Tracer) would deliver them live.
type events []socket.Event

func (s *events) ReadEvent(e *socket.Event) error {
	if len(*s) == 0 {
		return io.EOF
	}
	*e = (*s)[0]
	*s = (*s)[1:]
	return nil
}

func (s *events) Close() error { *s = nil; return nil }

// A process's Redis exchange, seen as socket events, gives an
// l7_flow_log record with the process and an ebpf_socket_log record.
func ExampleConfig_sockets() {
	local := netip.MustParseAddrPort("10.0.0.1:40000")
	remote := netip.MustParseAddrPort("10.0.0.2:6379")
	var comm [16]byte
	copy(comm[:], "redis-cli")
	ev := func(kind socket.Kind, dir socket.Direction, ms int64, seq uint32, b string) socket.Event {
		return socket.Event{Kind: kind, Direction: dir, Role: socket.RoleClient, Transport: socket.TCP,
			Pid: 4242, Tid: 4242, Comm: comm, SocketID: 1, Local: local, Remote: remote,
			ExitNs: 1_700_000_000e9 + ms*1e6, Length: int64(len(b)), TCPSeq: seq, HasSeq: true, Payload: []byte(b)}
	}
	src := events{
		ev(socket.KindOpen, 0, 0, 0, ""),
		ev(socket.KindData, socket.Egress, 1, 1000, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
		ev(socket.KindData, socket.Ingress, 3, 5000, "$1\r\nv\r\n"),
		ev(socket.KindClose, 0, 4, 0, ""),
	}
	p, err := pipeline.New(pipeline.Config{
		Sockets: &src,
		Sinks:   []pipeline.SinkConfig{{Sink: pipeline.NewTextSink(os.Stdout)}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// Redis 10.0.0.1:40000 > 10.0.0.2:6379 GET GET k -> Ok 2000us [redis-cli/4242 > -]
	// socket 2147483649 TCP 10.0.0.1:40000 -> 10.0.0.2:6379 Redis redis-cli/4242 Close 4000us tx 20 rx 7 retrans 0
}
