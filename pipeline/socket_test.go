package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
)

// replay is a socket.Source that replays events, then returns io.EOF.
type replay struct {
	mu     sync.Mutex
	events []socket.Event
	i      int
	closed bool
}

func (r *replay) ReadEvent(e *socket.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.i >= len(r.events) {
		return io.EOF
	}
	*e = r.events[r.i]
	r.i++
	return nil
}

func (r *replay) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

func (r *replay) Stats() socket.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return socket.Stats{Events: uint64(r.i), Lost: 3}
}

func comm(s string) (c [16]byte) {
	copy(c[:], s)
	return c
}

// view says from which end of the captured connections pcapEvents makes
// socket events.
type view int

const (
	clientView view = iota
	serverView
)

// pcapEvents turns the TCP and UDP payloads of a capture into the socket
// events a tracer would report at one end of each connection: one data
// event per segment (TCP sequence numbers as on the wire, retransmitted
// segments repeated), an open event where the handshake shows the client,
// and a close at the end.
func pcapEvents(t *testing.T, name string, v view) []socket.Event {
	t.Helper()
	src, err := capture.OpenFile(testutil.Testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := decode.NewDecoder(decode.Config{})
	type key struct{ a, b netip.AddrPort }
	type conn struct {
		id             uint64
		client, server netip.AddrPort
		role           socket.Role
	}
	conns := map[key]*conn{}
	var evs []socket.Event
	var pkt capture.Packet
	var m decode.Meta
	for {
		if err := src.ReadPacket(&pkt); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if dec.Decode(&pkt, &m) != nil || !m.L4Decoded || (m.Proto != decode.ProtoTCP && m.Proto != decode.ProtoUDP) {
			continue
		}
		s, d := netip.AddrPortFrom(m.Src, m.SrcPort), netip.AddrPortFrom(m.Dst, m.DstPort)
		k := key{s, d}
		if d.Addr().Less(s.Addr()) || d.Addr() == s.Addr() && d.Port() < s.Port() {
			k = key{d, s}
		}
		c := conns[k]
		if c == nil {
			// The sender of the first packet is the client unless it is
			// a SYN-ACK or comes from the lower port without a SYN.
			c = &conn{id: uint64(len(conns) + 1), client: s, server: d}
			switch {
			case m.Proto == decode.ProtoTCP && m.TCPFlags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn:
				c.role = socket.RoleClient
			case m.Proto == decode.ProtoTCP && m.TCPFlags&decode.TCPSyn != 0:
				c.client, c.server, c.role = d, s, socket.RoleClient
			case s.Port() < d.Port():
				c.client, c.server = d, s
			}
			if v == serverView && c.role == socket.RoleClient {
				c.role = socket.RoleServer
			}
			conns[k] = c
			e := socket.Event{Kind: socket.KindOpen, Role: c.role, SocketID: c.id, ExitNs: m.Timestamp}
			if c.role != socket.RoleUnknown {
				evs = append(evs, fill(e, c.client, c.server, v, m.Proto))
			}
		}
		if len(m.Payload) == 0 {
			continue
		}
		e := socket.Event{Kind: socket.KindData, SocketID: c.id, Role: c.role, ExitNs: m.Timestamp, EnterNs: m.Timestamp - 1000,
			Length: int64(len(m.Payload)), Payload: append([]byte(nil), m.Payload...), Tid: 7}
		fromClient := s == c.client
		if fromClient == (v == clientView) {
			e.Direction = socket.Egress
		} else {
			e.Direction = socket.Ingress
		}
		if m.Proto == decode.ProtoTCP {
			e.TCPSeq, e.HasSeq = m.Seq, true
		}
		evs = append(evs, fill(e, c.client, c.server, v, m.Proto))
	}
	ids := make([]*conn, 0, len(conns))
	for _, c := range conns {
		ids = append(ids, c)
	}
	slices.SortFunc(ids, func(a, b *conn) int { return int(a.id) - int(b.id) })
	var last int64
	if len(evs) > 0 {
		last = evs[len(evs)-1].ExitNs
	}
	for _, c := range ids {
		evs = append(evs, socket.Event{Kind: socket.KindClose, SocketID: c.id, ExitNs: last})
	}
	return evs
}

// fill sets the addresses and process of e as seen from view v.
func fill(e socket.Event, client, server netip.AddrPort, v view, proto uint8) socket.Event {
	e.Transport = socket.Transport(proto)
	e.Fd = 3
	if v == clientView {
		e.Local, e.Remote, e.Pid, e.Comm = client, server, 100, comm("client")
	} else {
		e.Local, e.Remote, e.Pid, e.Comm = server, client, 200, comm("server")
	}
	return e
}

// l7Key is what must agree between the records of packets and of socket
// events of the same bytes.
func l7Key(r *l7.Record) string {
	return fmt.Sprintf("%s %s %s|%s %s|%s %d|req %v %d|resp %v %d|%d/%d", r.L7Protocol, r.Client, r.Server, r.RequestType,
		r.RequestResource, r.Status, r.ResponseCode, r.HasRequest, r.ReqTCPSeq, r.HasResponse, r.RespTCPSeq,
		r.CapturedRequestByte, r.CapturedResponseByte)
}

// sockCollect is a synchronous sink keeping the l7 keys and the socket records.
type sockCollect struct {
	l7   []string
	recs []*l7.Record
	l4   int
	sock []pipeline.SocketRecord
}

func (c *sockCollect) WriteL4(*flow.Record) error { c.l4++; return nil }
func (c *sockCollect) WriteL7(r *l7.Record) error {
	c.l7 = append(c.l7, l7Key(r))
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (c *sockCollect) WriteSocket(r *pipeline.SocketRecord) error {
	s := *r
	s.Comm = append([]byte(nil), r.Comm...)
	c.sock = append(c.sock, s)
	return nil
}

func runSockets(t *testing.T, cfg pipeline.Config) *sockCollect {
	t.Helper()
	c := &sockCollect{}
	cfg.Sinks = append(cfg.Sinks, pipeline.SinkConfig{Sink: c})
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSockets_SameRecordsAsPackets feeds the payloads of real captures as
// socket events, from the client's end and from the server's, and checks
// that the records equal those of the packets: protocol, orientation,
// request and response fields, TCP sequence numbers, captured bytes.
func TestSockets_SameRecordsAsPackets(t *testing.T) {
	for _, name := range []string{"l7/redis.pcap", "l7/http-nginx.pcap", "l7/mysql.pcap", "l7/dns.pcap"} {
		for _, v := range []view{clientView, serverView} {
			t.Run(fmt.Sprintf("%s/%d", name, v), func(t *testing.T) {
				pk := runSockets(t, pipeline.Config{Source: openT(t, name)})
				evs := pcapEvents(t, name, v)
				so := runSockets(t, pipeline.Config{Sockets: &replay{events: evs}})
				slices.Sort(pk.l7)
				slices.Sort(so.l7)
				if len(pk.l7) == 0 {
					t.Fatal("no records from the packets")
				}
				if strings.Join(pk.l7, "\n") != strings.Join(so.l7, "\n") {
					t.Errorf("socket records differ from packet records\npackets:\n%s\nsockets:\n%s",
						strings.Join(pk.l7, "\n"), strings.Join(so.l7, "\n"))
				}
				for _, r := range so.recs {
					pid, kname := r.ProcessID0, string(r.ProcessKName0)
					other := r.ProcessID1
					if v == serverView {
						pid, kname, other = r.ProcessID1, string(r.ProcessKName1), r.ProcessID0
					}
					if want := map[view]uint32{clientView: 100, serverView: 200}[v]; pid != want || other != 0 ||
						kname != map[view]string{clientView: "client", serverView: "server"}[v] {
						t.Errorf("record %s: process %d %q (other side %d)", l7Key(r), pid, kname, other)
					}
					if r.FlowID&(1<<31) == 0 {
						t.Errorf("socket flow id %#x lacks bit 31", r.FlowID)
					}
					if r.SyscallThread0 != 7 && r.HasRequest {
						t.Errorf("record %s: syscall_thread_0 %d, want 7", l7Key(r), r.SyscallThread0)
					}
				}
				if so.l4 != 0 {
					t.Errorf("%d l4 records from socket events", so.l4)
				}
				if len(so.sock) == 0 {
					t.Errorf("no socket records")
				}
			})
		}
	}
}

// TestSockets_BesidePackets runs packets and socket events in one pipeline:
// both record sets come out, flow ids do not collide, Stats counts both.
func TestSockets_BesidePackets(t *testing.T) {
	evs := pcapEvents(t, "l7/redis.pcap", clientView)
	var out bytes.Buffer
	c := &sockCollect{}
	p, err := pipeline.New(pipeline.Config{
		Source:  openT(t, "l7/redis.pcap"),
		Sockets: &replay{events: evs},
		Shards:  2,
		Sinks:   []pipeline.SinkConfig{{Sink: c}, {Sink: pipeline.NewJSONSink(&out), Queue: 8}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var socketRecs, packetRecs int
	ids := map[uint64]bool{}
	for _, r := range c.recs {
		if r.ProcessID0 != 0 {
			socketRecs++
		} else {
			packetRecs++
		}
		ids[r.FlowID] = true
	}
	if socketRecs == 0 || socketRecs != packetRecs {
		t.Errorf("%d records from sockets, %d from packets: want the same nonzero number", socketRecs, packetRecs)
	}
	if c.l4 == 0 || len(c.sock) == 0 {
		t.Errorf("%d l4 records, %d socket records", c.l4, len(c.sock))
	}
	var st pipeline.Stats
	p.Stats(&st)
	if st.Socket.Events != uint64(len(evs)) || st.Socket.Source.Lost != 3 || st.Socket.Records != uint64(len(c.sock)) {
		t.Errorf("socket stats %+v: want %d events, 3 lost, %d records", st.Socket, len(evs), len(c.sock))
	}
	if st.L7.Records != uint64(len(c.recs)) {
		t.Errorf("Stats.L7.Records %d, want %d (packets and sockets)", st.L7.Records, len(c.recs))
	}
	want := uint64(len(c.recs) + c.l4 + len(c.sock))
	if st.Sinks[0].Records != want || st.Sinks[1].Records != want {
		t.Errorf("sinks got %d and %d records, want %d", st.Sinks[0].Records, st.Sinks[1].Records, want)
	}
	// The queued JSON sink got every record, socket records included.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if uint64(len(lines)) != want {
		t.Errorf("%d JSON lines, want %d", len(lines), want)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad JSON %q: %v", l, err)
		}
	}
	if !strings.Contains(out.String(), `"type":"ebpf_socket_log"`) || !strings.Contains(out.String(), `"process_kname_0":"client"`) {
		t.Errorf("JSON lacks socket records or process names:\n%s", out.String())
	}
}

var (
	cliAP = netip.MustParseAddrPort("10.1.0.1:41000")
	srvAP = netip.MustParseAddrPort("10.1.0.2:6379")
)

func ev(kind socket.Kind, dir socket.Direction, ts int64, seq uint32, payload string) socket.Event {
	return socket.Event{Kind: kind, Direction: dir, Transport: socket.TCP, Role: socket.RoleClient, Pid: 10, Tid: 11,
		Comm: comm("redis-cli"), SocketID: 99, Local: cliAP, Remote: srvAP, ExitNs: ts, Length: int64(len(payload)),
		TCPSeq: seq, HasSeq: true, Payload: []byte(payload)}
}

// TestSockets_Truncated checks that a call cut by the capture size gives
// the engine a gap: the record of the cut message says how much of it was
// captured, and the next message decodes.
func TestSockets_Truncated(t *testing.T) {
	big := "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n" + strings.Repeat("v", 300)
	cut := ev(socket.KindData, socket.Egress, 1e9, 1000, big[:80])
	cut.Length = int64(len(big))
	next := "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	evs := []socket.Event{
		cut,
		ev(socket.KindData, socket.Ingress, 2e9, 5000, ok),
		ev(socket.KindData, socket.Egress, 3e9, 1000+uint32(len(big)), next),
		ev(socket.KindData, socket.Ingress, 4e9, 5000+uint32(len(ok)), ok),
		{Kind: socket.KindClose, SocketID: 99, ExitNs: 5e9},
	}
	var st pipeline.Stats
	c := &sockCollect{}
	p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: evs}, Sinks: []pipeline.SinkConfig{{Sink: c}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Stats(&st)
	if len(c.recs) != 2 {
		t.Fatalf("records %q, want POST and GET", c.l7)
	}
	post, get := c.recs[0], c.recs[1]
	// HTTP's request_length is the body's; the body's cut is a hole in
	// bytes the parser skips.
	if string(post.RequestType) != "POST" || post.RequestLength != 300 || post.ResponseCode != 200 {
		t.Errorf("POST record %s length %d: want a 300-byte body, 200", l7Key(post), post.RequestLength)
	}
	if string(get.RequestResource) != "/next" || get.ReqTCPSeq != 1000+uint32(len(big)) || get.RespTCPSeq != 5000+uint32(len(ok)) {
		t.Errorf("GET record %s", l7Key(get))
	}
	if string(post.ProcessKName0) != "redis-cli" || post.ProcessID0 != 10 || post.SyscallThread0 != 11 || post.SyscallThread1 != 11 {
		t.Errorf("POST record process %d %q threads %d %d", post.ProcessID0, post.ProcessKName0, post.SyscallThread0, post.SyscallThread1)
	}
	if st.Socket.Truncated != 1 || st.Socket.TruncatedBytes != uint64(len(big)-80) {
		t.Errorf("stats %+v: want 1 truncated event, %d bytes", st.Socket, len(big)-80)
	}
}

// TestSockets_SeqGapAndOverlap checks that a hole in sequence numbers
// (lost events) is a gap and that bytes seen twice are decoded once.
func TestSockets_SeqGapAndOverlap(t *testing.T) {
	get := "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
	evs := []socket.Event{
		ev(socket.KindData, socket.Egress, 1e9, 100, get),
		ev(socket.KindData, socket.Egress, 1e9, 100, get), // the same bytes again (a peek)
		ev(socket.KindData, socket.Ingress, 2e9, 900, "$1\r\nv\r\n"),
		// Events lost: 30 bytes of requests and their replies.
		ev(socket.KindData, socket.Egress, 3e9, 100+uint32(len(get))+30, get),
		ev(socket.KindData, socket.Ingress, 4e9, 907+20, "$1\r\nw\r\n"),
	}
	var st pipeline.Stats
	c := &sockCollect{}
	p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: evs}, Sinks: []pipeline.SinkConfig{{Sink: c}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Stats(&st)
	if st.Socket.Overlaps != 1 || st.Socket.SeqGaps != 2 || st.Socket.SeqGapBytes != 50 {
		t.Errorf("stats %+v: want 1 overlap, 2 gaps of 50 bytes", st.Socket)
	}
	if len(c.recs) != 2 || c.recs[0].ReqTCPSeq != 100 || c.recs[1].ReqTCPSeq != 100+uint32(len(get))+30 ||
		string(c.recs[1].ResponseResult) == "" && c.recs[1].Status != l7.StatusOk {
		t.Errorf("records %q", c.l7)
	}
}

// TestSockets_TLSPlaintext checks the per-socket suppression: a socket's
// ciphertext is decoded until TLS plaintext events appear (its handshake
// gives a TLS record), then only the plaintext is, with is_tls, under the
// same flow id; later system-call data is dropped and counted.
func TestSockets_TLSPlaintext(t *testing.T) {
	hello := tlsClientHello("example.com")
	req := "GET /secret HTTP/1.1\r\nHost: example.com\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
	tlsEv := func(dir socket.Direction, ts int64, s string) socket.Event {
		e := ev(socket.KindData, dir, ts, 0, s)
		e.Origin, e.HasSeq = socket.OriginOpenSSL, false
		return e
	}
	evs := []socket.Event{
		{Kind: socket.KindOpen, Role: socket.RoleClient, Transport: socket.TCP, SocketID: 99, Local: cliAP, Remote: srvAP, Pid: 10, Comm: comm("curl"), ExitNs: 1},
		ev(socket.KindData, socket.Egress, 1e9, 100, string(hello)),
		tlsEv(socket.Egress, 2e9, req),
		ev(socket.KindData, socket.Egress, 2e9, 100+uint32(len(hello)), "\x17\x03\x03\x00\x10xxxxxxxxxxxxxxxx"),
		ev(socket.KindData, socket.Ingress, 3e9, 700, "\x17\x03\x03\x00\x10yyyyyyyyyyyyyyyy"),
		tlsEv(socket.Ingress, 3e9, resp),
		{Kind: socket.KindClose, SocketID: 99, ExitNs: 4e9},
	}
	c := &sockCollect{}
	p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: evs}, Sinks: []pipeline.SinkConfig{{Sink: c}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var httpRec, tlsRec *l7.Record
	for _, r := range c.recs {
		switch r.L7Protocol {
		case "HTTP":
			httpRec = r
		case "TLS":
			tlsRec = r
		}
	}
	if httpRec == nil || !httpRec.IsTLS || string(httpRec.RequestResource) != "/secret" || httpRec.ResponseCode != 200 {
		t.Fatalf("records %q: want an is_tls HTTP record of /secret with 200", c.l7)
	}
	if tlsRec == nil || string(tlsRec.RequestDomain) != "example.com" || tlsRec.FlowID != httpRec.FlowID {
		t.Errorf("records %q: want the handshake's TLS record with SNI example.com, same flow id", c.l7)
	}
	var st pipeline.Stats
	p.Stats(&st)
	if st.Socket.TLSSuppressed != 2 {
		t.Errorf("TLSSuppressed %d, want 2", st.Socket.TLSSuppressed)
	}
	if len(c.sock) != 1 || !c.sock[0].IsTLS || c.sock[0].L7.L7Protocol != "HTTP" || c.sock[0].L7.Requests != 1 {
		t.Errorf("socket records %+v", c.sock)
	}
}

// tlsClientHello builds a minimal TLS 1.2 ClientHello with an SNI.
func tlsClientHello(sni string) []byte {
	var ext []byte
	name := []byte(sni)
	sn := []byte{0}
	sn = append(sn, byte(len(name)>>8), byte(len(name)))
	sn = append(sn, name...)
	list := append([]byte{byte(len(sn) >> 8), byte(len(sn))}, sn...)
	ext = append(ext, 0, 0, byte(len(list)>>8), byte(len(list)))
	ext = append(ext, list...)
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x13, 0x01)    // cipher suites
	body = append(body, 1, 0)                // compression
	body = append(body, byte(len(ext)>>8), byte(len(ext)))
	body = append(body, ext...)
	hs := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{0x16, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

// TestSockets_SocketLog checks the ebpf_socket_log record: states,
// retransmissions, bytes per direction, the close by the kernel's CLOSE,
// and events of untracked sockets.
func TestSockets_SocketLog(t *testing.T) {
	st := func(ts int64, old, new uint8) socket.Event {
		return socket.Event{Kind: socket.KindState, SocketID: 99, ExitNs: ts, OldState: old, NewState: new}
	}
	evs := []socket.Event{
		{Kind: socket.KindOpen, Role: socket.RoleServer, Transport: socket.TCP, SocketID: 99, Local: srvAP, Remote: cliAP,
			Pid: 20, Comm: comm("redis-server"), CgroupID: 5, ExitNs: 1e9},
		ev(socket.KindData, socket.Ingress, 2e9, 100, "*1\r\n$4\r\nPING\r\n"),
		ev(socket.KindData, socket.Egress, 2e9+5e5, 900, "+PONG\r\n"),
		{Kind: socket.KindRetransmit, SocketID: 99, ExitNs: 3e9, TCPSeq: 900},
		{Kind: socket.KindRetransmit, SocketID: 12345, ExitNs: 3e9},
		st(4e9, 1, 8), st(4e9, 8, 9), st(5e9, 9, 7),
		{Kind: socket.KindClose, SocketID: 99, ExitNs: 6e9}, // after CLOSE: untracked
	}
	for i := range evs[1:3] {
		evs[1+i].Local, evs[1+i].Remote, evs[1+i].Role, evs[1+i].Pid, evs[1+i].Comm = srvAP, cliAP, socket.RoleServer, 20, comm("redis-server")
	}
	var out bytes.Buffer
	c := &sockCollect{}
	p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: evs},
		Sinks: []pipeline.SinkConfig{{Sink: c}, {Sink: pipeline.NewJSONSink(&out)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.sock) != 1 {
		t.Fatalf("%d socket records, want 1", len(c.sock))
	}
	r := c.sock[0]
	if r.CloseType != "TcpClose" || r.StateChanges != 3 || r.RetransRx != 1 || r.RetransTx != 0 || r.ByteTx != 14 ||
		r.ByteRx != 7 || r.Client != cliAP || r.Server != srvAP || r.Duration() != 4e6 || r.L7.L7Protocol != "Redis" ||
		r.L7.Requests != 1 || r.ProcessIsClient {
		t.Errorf("socket record %+v", r)
	}
	var st2 pipeline.Stats
	p.Stats(&st2)
	if st2.Socket.Unmatched != 2 {
		t.Errorf("Unmatched %d, want 2 (a retransmission and a close of untracked sockets)", st2.Socket.Unmatched)
	}
	var js map[string]any
	line := ""
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "ebpf_socket_log") {
			line = l
		}
	}
	if err := json.Unmarshal([]byte(line), &js); err != nil {
		t.Fatalf("%v: %q", err, line)
	}
	for k, want := range map[string]any{"tap_side": "s-p", "process_kname_1": "redis-server", "process_id_1": 20.0,
		"tcp_state": "CLOSE", "retrans_rx": 1.0, "l7_protocol": "Redis", "duration": 4e6, "cgroup_id": 5.0, "ip_0": "10.1.0.1"} {
		if js[k] != want {
			t.Errorf("%s = %v, want %v in %s", k, js[k], want, line)
		}
	}
	if !strings.Contains(out.String(), `"process_id_1":20`) {
		t.Errorf("l7 record lacks process_id_1:\n%s", out.String())
	}
}

// TestSockets_IdleAndFilter checks the idle timeout (a socket whose close
// was not seen) and SocketConfig.Filter.
func TestSockets_IdleAndFilter(t *testing.T) {
	a := ev(socket.KindData, socket.Egress, 1e9, 1, "*1\r\n$4\r\nPING\r\n")
	b := ev(socket.KindData, socket.Egress, 100e9, 1, "*1\r\n$4\r\nPING\r\n")
	b.SocketID = 100
	skip := b
	skip.SocketID, skip.Pid = 101, 666
	c := runSockets(t, pipeline.Config{Sockets: &replay{events: []socket.Event{a, b, skip}},
		Socket: pipeline.SocketConfig{IdleTimeout: 30e9, Filter: func(e *socket.Event) bool { return e.Pid != 666 }}})
	if len(c.sock) != 2 || c.sock[0].CloseType != "Timeout" || c.sock[1].CloseType != "ForcedReport" {
		t.Errorf("socket records %+v: want a Timeout then a ForcedReport", c.sock)
	}
}

// TestSockets_Invalid checks that nonsense events are counted, not fatal.
func TestSockets_Invalid(t *testing.T) {
	bad := []socket.Event{
		{Kind: 77, SocketID: 1},
		{Kind: socket.KindData, SocketID: 0},
		{Kind: socket.KindData, SocketID: 2, Direction: 9},
		{Kind: socket.KindData, SocketID: 3, Direction: socket.Egress, Length: -11},
		{Kind: socket.KindData, SocketID: 4, Direction: socket.Egress, Length: 2, Payload: []byte("GET / HTTP/1.1\r\n")},
	}
	var st pipeline.Stats
	p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: bad}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Stats(&st)
	if st.Socket.Invalid != 4 || st.Socket.Events != 5 {
		t.Errorf("stats %+v: want 4 invalid of 5", st.Socket)
	}
}

func TestNew_NoSource(t *testing.T) {
	if _, err := pipeline.New(pipeline.Config{}); !errors.Is(err, pipeline.ErrNoSource) {
		t.Errorf("err %v, want ErrNoSource", err)
	}
}

// FuzzSockets feeds event streams built from fuzz input through the
// socket input: no panic, every event counted.
func FuzzSockets(f *testing.F) {
	f.Add([]byte("\x01\x01\x05*1\r\n$4\r\nPING\r\n\x01\x02\x00+PONG\r\n"))
	f.Add([]byte("\x01\x01\x80GET / HTTP/1.1\r\nHost: a\r\n\r\n\x04\x00\x01\x03\x00\x07"))
	f.Add([]byte("\x01\x41\x10\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00\x01\x81\x00HTTP/1.1 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var evs []socket.Event
		var seq [2]uint32
		for len(data) >= 3 && len(evs) < 64 {
			kind, flags, n := data[0], data[1], int(data[2])
			data = data[3:]
			n = min(n&0x3f, len(data))
			e := socket.Event{Kind: socket.Kind(kind%6 + 1), Direction: socket.Direction(flags&1 + 1),
				Transport: socket.TCP, Role: socket.Role(flags >> 1 & 3 % 3), SocketID: uint64(flags>>3&1 + 1),
				Local: cliAP, Remote: srvAP, ExitNs: int64(len(evs)) * 1e8, Payload: data[:n], Length: int64(n)}
			if flags&0x10 != 0 {
				e.Transport = socket.UDP
			}
			if flags&0x20 != 0 && n > 0 {
				e.Length += int64(data[n-1]) // cut by the capture size
			}
			if flags&0x40 != 0 {
				e.Origin = socket.OriginOpenSSL
			}
			if flags&0x80 == 0 {
				d := e.Direction & 1
				e.TCPSeq, e.HasSeq = seq[d]-uint32(n&3), true
				seq[d] += uint32(e.Length)
			}
			e.NewState = uint8(n % 13)
			data = data[n:]
			evs = append(evs, e)
		}
		var st pipeline.Stats
		p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: evs}, Sinks: []pipeline.SinkConfig{{Sink: &sockCollect{}}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		p.Stats(&st)
		if st.Socket.Events != uint64(len(evs)) || st.Socket.OpenSockets != 0 {
			t.Fatalf("stats %+v for %d events", st.Socket, len(evs))
		}
	})
}

// TestSockets_TLSReorder checks the TLS reorder window: a request written
// on one thread but reported after the response read on another (its call
// began first) still pairs with it, and a response read before the next
// request began goes before that request.
func TestSockets_TLSReorder(t *testing.T) {
	tlsEv := func(dir socket.Direction, enter, exit int64, s string) socket.Event {
		e := ev(socket.KindData, dir, exit, 0, s)
		e.Origin, e.HasSeq, e.EnterNs = socket.OriginGoTLS, false, enter
		return e
	}
	const ms = int64(1e6)
	req := func(i int) string { return fmt.Sprintf("GET /r%d HTTP/1.1\r\nHost: a\r\n\r\n", i) }
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	evs := []socket.Event{
		// r0's write began at 1 ms but returned (and was reported)
		// after the response's read at 2 ms.
		tlsEv(socket.Ingress, 1*ms+100, 2*ms, resp),
		tlsEv(socket.Egress, 1*ms, 2*ms+500, req(0)),
		// r1 in order; its response is held, and r2's write, begun
		// after that read returned, lets it go first.
		tlsEv(socket.Egress, 3*ms, 3*ms+10, req(1)),
		tlsEv(socket.Ingress, 3*ms+50, 4*ms, resp),
		tlsEv(socket.Egress, 5*ms, 5*ms+10, req(2)),
		tlsEv(socket.Ingress, 5*ms+50, 6*ms, resp),
		// r3: the socket's close and state change are reported before
		// the response's write, which began before them (a server).
		tlsEv(socket.Ingress, 7*ms, 7*ms+10, req(3)),
		{Kind: socket.KindState, SocketID: 99, OldState: 1, NewState: 8, ExitNs: 8 * ms},
		{Kind: socket.KindClose, SocketID: 99, ExitNs: 9 * ms},
		tlsEv(socket.Egress, 7*ms+500, 10*ms, resp),
		// Released by the window (time moves on with another socket).
		{Kind: socket.KindOpen, SocketID: 5, Transport: socket.TCP, Local: cliAP, Remote: srvAP, ExitNs: 100 * ms},
	}
	for _, window := range []time.Duration{0, -1} {
		c := &sockCollect{}
		p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: evs},
			Socket: pipeline.SocketConfig{TLSReorderWindow: window}, Sinks: []pipeline.SinkConfig{{Sink: c}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		paired := 0
		for _, r := range c.recs {
			if r.HasRequest && r.HasResponse && r.ResponseCode == 200 {
				paired++
			}
		}
		var st pipeline.Stats
		p.Stats(&st)
		if window == 0 && (paired != 4 || len(c.recs) != 4 || st.Socket.Reordered != 6 || len(c.sock) != 2 || c.sock[0].CloseType != "Close" || c.sock[0].L7.Requests != 4) {
			t.Errorf("with the window: %d records, %d paired, %d held, socket records %+v; want 4, 4, 6, socket 99 closed with 4 requests:\n%s",
				len(c.recs), paired, st.Socket.Reordered, c.sock, strings.Join(c.l7, "\n"))
		}
		if window < 0 && paired != 2 {
			// Without the window the first response finds no request,
			// and the last comes after the socket's end.
			t.Errorf("without the window: %d paired, want 2:\n%s", paired, strings.Join(c.l7, "\n"))
		}
	}
}

// TestSockets_MaxSockets checks the cap on tracked connections.
func TestSockets_MaxSockets(t *testing.T) {
	var evs []socket.Event
	for i := 1; i <= 3; i++ {
		e := ev(socket.KindData, socket.Egress, int64(i)*1e6, 1, "*1\r\n$4\r\nPING\r\n")
		e.SocketID = uint64(i)
		evs = append(evs, e)
	}
	var st pipeline.Stats
	c := &sockCollect{}
	p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: evs}, Socket: pipeline.SocketConfig{MaxSockets: 2},
		Sinks: []pipeline.SinkConfig{{Sink: c}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Stats(&st)
	if st.Socket.Sockets != 2 || st.Socket.DroppedSockets != 1 || len(c.sock) != 2 {
		t.Errorf("stats %+v, %d socket records: want 2 sockets, 1 dropped", st.Socket, len(c.sock))
	}
}
