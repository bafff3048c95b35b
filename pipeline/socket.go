package pipeline

import (
	"cmp"
	"errors"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/l7"
)

// SocketConfig configures the socket-event input (Config.Sockets). The zero
// value means defaults.
type SocketConfig struct {
	// IdleTimeout closes a socket's connection (its pending requests come
	// out, then its ebpf_socket_log record) when no event of it arrived
	// for this long: sockets whose close the tracer did not see, or
	// connectionless peers of a UDP socket. Default 2 minutes; at least
	// 1 s.
	IdleTimeout time.Duration
	// Filter, when set, keeps only the events it returns true for
	// (counted in SocketStats.Filtered otherwise). Prefer the tracer's own
	// filters (capture/ebpf's Config: pids, cgroups, command names),
	// which drop events in the kernel; this one runs after the copy to
	// user space. Default none.
	Filter func(e *socket.Event) bool
	// NoSocketLog turns the ebpf_socket_log records off. Default false.
	NoSocketLog bool
	// MaxSockets bounds the connections tracked at once (a UDP socket
	// counts once per peer); events of new sockets beyond it are dropped
	// and counted in SocketStats.DroppedSockets. Default 262,144.
	MaxSockets int
	// TLSReorderWindow is how long TLS plaintext that was read waits for
	// a write of its socket that began before the read returned but was
	// reported after it (see socket_reorder.go). Default 20 ms; negative:
	// none.
	TLSReorderWindow time.Duration
}

// Defaults of SocketConfig.
const (
	DefaultSocketIdleTimeout = 2 * time.Minute
	DefaultMaxSockets        = 1 << 18
)

// SocketStats counts the socket input's work. Counters only grow, except
// OpenSockets.
type SocketStats struct {
	// Source is the source's own counters (events delivered, lost in the
	// kernel, truncated, filtered), when it has a Stats() socket.Stats
	// method.
	Source socket.Stats

	Events    uint64 // events read
	Filtered  uint64 // events SocketConfig.Filter dropped
	Data      uint64 // data events handed to the L7 engine
	DataBytes uint64 // their captured payload bytes
	// TLSSuppressed counts system-call data events dropped because their
	// socket carries TLS plaintext events (the ciphertext is not decoded
	// twice).
	TLSSuppressed uint64
	// Truncated counts data events whose payload the capture size cut
	// (Length > len(Payload)); TruncatedBytes the bytes missing, handed
	// to the engine as gaps.
	Truncated, TruncatedBytes uint64
	// SeqGaps counts holes in a direction's TCP sequence numbers (events
	// lost between two that arrived); SeqGapBytes their size.
	SeqGaps, SeqGapBytes uint64
	// Overlaps counts data events whose bytes were delivered already
	// (by sequence number) and were dropped in whole or part.
	Overlaps uint64
	// Unmatched counts close, state and retransmission events of sockets
	// the input does not track (no data nor open seen).
	Unmatched uint64
	// Invalid counts events that make no sense (unknown kind or
	// direction, negative length, no socket id); they are dropped.
	Invalid uint64
	// Reordered counts TLS reads held in the reorder window
	// (SocketConfig.TLSReorderWindow).
	Reordered uint64

	Sockets        uint64 // connections opened (a UDP socket: one per peer)
	DroppedSockets uint64 // events of new sockets dropped at MaxSockets
	OpenSockets    int    // connections open now
	Records        uint64 // ebpf_socket_log records emitted
}

// socketFlowBit marks the flow ids of socket connections. Packet flow ids
// hold slot+1 in their low 32 bits, and a table holds at most 2^28 flows
// (flow's limit), so bit 31 is never set in them.
const socketFlowBit = 1 << 31

// TCP states of socket.Event's OldState and NewState (the kernel's).
const (
	tcpClose = 7
)

// sockKey identifies a connection of the socket input: the socket, and for
// UDP the peer (an unconnected socket talks to many).
type sockKey struct {
	id   uint64
	peer netip.AddrPort
}

// sockConn is the socket input's state of one connection.
type sockConn struct {
	key       sockKey
	flowID    uint64
	conn      *l7.Conn // nil until data arrives, and with Config.NoL7
	transport socket.Transport
	local     netip.AddrPort
	remote    netip.AddrPort
	role      socket.Role
	client    netip.AddrPort // as given to Engine.Open
	server    netip.AddrPort
	egress    l7.Direction // the engine direction of the bytes the process wrote
	pid       uint32
	comm      [16]byte
	commLen   uint8
	cgroup    uint64
	start     int64
	last      int64

	next    [2]uint32 // next sequence number (or offset), by egress 0 / ingress 1
	hasNext [2]bool
	tls     bool // TLS plaintext seen: the conn decodes plaintext only

	bytes   [2]uint64 // payload bytes (Length), by egress 0 / ingress 1
	calls   [2]uint32
	states  uint32
	retrans uint32
	state   uint8 // the latest TCP state, 0 unknown
}

// sockInput reads a socket.Source and turns its events into records.
type sockInput struct {
	p    *Pipeline
	src  socket.Source
	cfg  SocketConfig
	sh   *shard // stages and sinks, counters; sh.eng decodes (nil: NoL7)
	idle int64

	// mu serialises event processing with the wall-clock ticks.
	mu       sync.Mutex
	conns    map[sockKey]*sockConn
	byFlow   map[uint64]*sockConn
	udp      map[uint64][]*sockConn // the peers of each UDP socket
	nextFlow uint64
	now      int64
	swept    int64
	stats    SocketStats
	rec      SocketRecord

	// The TLS reorder window: held reads in arrival order from heldHead,
	// heldDone of them released, buffers for reuse.
	reorder  int64
	held     []heldEvent
	heldHead int
	heldDone int
	freeBufs [][]byte

	closeOnce sync.Once
	// srcMu serialises the source's Stats and Close (a tracer's Stats
	// may read kernel maps that Close frees); srcStats is the latest
	// reading, kept after Close.
	srcMu     sync.Mutex
	srcClosed bool
	srcStats  socket.Stats

	pubMu sync.Mutex
	pub   SocketStats
}

func newSockInput(p *Pipeline, src socket.Source, cfg SocketConfig, lc l7.Config, noL7 bool) (*sockInput, error) {
	si := &sockInput{p: p, src: src, cfg: cfg,
		conns: make(map[sockKey]*sockConn), byFlow: make(map[uint64]*sockConn), udp: make(map[uint64][]*sockConn)}
	if si.cfg.IdleTimeout <= 0 {
		si.cfg.IdleTimeout = DefaultSocketIdleTimeout
	}
	si.cfg.IdleTimeout = max(si.cfg.IdleTimeout, time.Second)
	si.idle = int64(si.cfg.IdleTimeout)
	if si.cfg.MaxSockets <= 0 {
		si.cfg.MaxSockets = DefaultMaxSockets
	}
	switch {
	case si.cfg.TLSReorderWindow == 0:
		si.reorder = DefaultTLSReorderWindow
	case si.cfg.TLSReorderWindow > 0:
		si.reorder = int64(si.cfg.TLSReorderWindow)
	}
	si.sh = &shard{p: p, id: -1, sinkRecords: make([]uint64, len(p.sinks)), pubSinkRecords: make([]uint64, len(p.sinks))}
	if !noL7 {
		lc.OnRecord = si.l7
		eng, err := l7.NewEngine(lc)
		if err != nil {
			return nil, err
		}
		si.sh.eng = eng
	}
	return si, nil
}

// close closes the source once (a blocked ReadEvent returns io.EOF),
// reading its counters one last time.
func (si *sockInput) close() {
	si.closeOnce.Do(func() {
		si.srcMu.Lock()
		si.readSourceStats()
		si.srcClosed = true
		si.src.Close()
		si.srcMu.Unlock()
	})
}

// sourceStats returns the source's counters: read now while it is open,
// the last reading after Close.
func (si *sockInput) sourceStats() socket.Stats {
	si.srcMu.Lock()
	defer si.srcMu.Unlock()
	if !si.srcClosed {
		si.readSourceStats()
	}
	return si.srcStats
}

func (si *sockInput) readSourceStats() {
	if st, ok := si.src.(interface{ Stats() socket.Stats }); ok {
		si.srcStats = st.Stats()
	}
}

// run reads events until the source ends, the pipeline stops or a read
// fails, then closes every connection. It returns the read error, nil at
// the end of input.
func (si *sockInput) run() error {
	var ev socket.Event
	var err error
	for n := 1; ; n++ {
		if si.p.stopping.Load() {
			break
		}
		if err = si.src.ReadEvent(&ev); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, capture.ErrClosed) {
				err = nil
			}
			break
		}
		si.mu.Lock()
		si.event(&ev)
		si.mu.Unlock()
		if n&255 == 0 {
			si.publish()
		}
	}
	si.mu.Lock()
	si.flush()
	si.mu.Unlock()
	si.publish()
	return err
}

// tick moves the input's clock to the wall clock (ClockWall).
func (si *sockInput) tick(now int64) {
	si.mu.Lock()
	si.advance(now)
	si.mu.Unlock()
	si.publish()
}

func (si *sockInput) advance(ts int64) {
	if ts <= si.now {
		return
	}
	si.now = ts
	if si.sh.eng != nil {
		si.sh.eng.Advance(ts)
	}
	if len(si.held) > 0 {
		si.releaseOld(false)
	}
	if si.now-si.swept >= int64(time.Second) {
		si.swept = si.now
		for _, sc := range si.conns {
			if si.now-sc.last >= si.idle {
				si.end(sc, closeTimeout)
			}
		}
	}
}

// event handles one event (si.mu held).
func (si *sockInput) event(e *socket.Event) {
	si.stats.Events++
	if si.cfg.Filter != nil && !si.cfg.Filter(e) {
		si.stats.Filtered++
		return
	}
	if e.SocketID == 0 {
		si.stats.Invalid++
		return
	}
	ts := e.ExitNs
	if ts == 0 {
		ts = e.EnterNs
	}
	si.advance(ts)
	if si.hold(e, ts) {
		return
	}
	if len(si.held) > 0 {
		si.releaseFor(e)
	}
	if e.Kind == socket.KindData {
		si.data(e, ts)
		return
	}
	si.life(e, ts)
}

// life handles the events of a socket's life: open, close, TCP state
// changes, retransmissions.
func (si *sockInput) life(e *socket.Event, ts int64) {
	switch e.Kind {
	case socket.KindOpen:
		si.conn(e, ts, true)
	case socket.KindClose:
		si.closeSocket(e.SocketID, ts)
	case socket.KindState:
		sc := si.conns[sockKey{id: e.SocketID}]
		if sc == nil {
			si.stats.Unmatched++
			return
		}
		sc.states++
		sc.state = e.NewState
		sc.last = max(sc.last, ts)
		if e.NewState == tcpClose {
			si.end(sc, closeState)
		}
	case socket.KindRetransmit:
		sc := si.conns[sockKey{id: e.SocketID}]
		if sc == nil {
			si.stats.Unmatched++
			return
		}
		sc.retrans++
		sc.last = max(sc.last, ts)
	default:
		si.stats.Invalid++
	}
}

// conn returns the connection of e, creating it; with open (a KindOpen
// event) an existing one learns its role.
func (si *sockInput) conn(e *socket.Event, ts int64, open bool) *sockConn {
	k := sockKey{id: e.SocketID}
	if e.Transport == socket.UDP {
		k.peer = e.Remote
	}
	if sc := si.conns[k]; sc != nil {
		if open && sc.conn == nil && e.Role != socket.RoleUnknown {
			sc.role = e.Role
			sc.orient()
		}
		return sc
	}
	if len(si.conns) >= si.cfg.MaxSockets {
		si.stats.DroppedSockets++
		return nil
	}
	si.nextFlow++
	n := si.nextFlow
	sc := &sockConn{key: k, transport: e.Transport, local: e.Local, remote: e.Remote, role: e.Role,
		pid: e.Pid, comm: e.Comm, cgroup: e.CgroupID, start: ts, last: ts}
	sc.flowID = (n>>31&(1<<24-1))<<32 | socketFlowBit | n&(socketFlowBit-1)
	for sc.commLen < uint8(len(sc.comm)) && sc.comm[sc.commLen] != 0 {
		sc.commLen++
	}
	if sc.transport != socket.UDP {
		sc.transport = socket.TCP
	}
	sc.orient()
	si.conns[k] = sc
	si.byFlow[sc.flowID] = sc
	if sc.transport == socket.UDP {
		si.udp[k.id] = append(si.udp[k.id], sc)
	}
	si.stats.Sockets++
	return sc
}

// orient sets the client and server of sc from its role: the process is
// the client of a connection it made, the server of one it accepted; with
// neither known, the side with the higher port is the client until the
// L7 decoder says otherwise.
func (sc *sockConn) orient() {
	localClient := sc.role == socket.RoleClient ||
		sc.role == socket.RoleUnknown && sc.local.Port() >= sc.remote.Port()
	if localClient {
		sc.client, sc.server, sc.egress = sc.local, sc.remote, l7.ToServer
	} else {
		sc.client, sc.server, sc.egress = sc.remote, sc.local, l7.ToClient
	}
}

// data hands a data event's bytes to the connection's engine.
func (si *sockInput) data(e *socket.Event, ts int64) {
	var d int // 0 egress, 1 ingress
	switch e.Direction {
	case socket.Egress:
	case socket.Ingress:
		d = 1
	default:
		si.stats.Invalid++
		return
	}
	if e.Length < 0 {
		si.stats.Invalid++
		return
	}
	sc := si.conn(e, ts, false)
	if sc == nil {
		return
	}
	sc.last = max(sc.last, ts)
	tlsEv := e.TLS()
	if tlsEv && !sc.tls {
		si.toTLS(sc)
	} else if !tlsEv && sc.tls {
		si.stats.TLSSuppressed++
		return
	}
	payload := e.Payload
	length := e.Length
	if length < int64(len(payload)) {
		payload = payload[:length] // a payload longer than the call's result
	}
	sc.bytes[d] += uint64(length)
	sc.calls[d]++
	if length == 0 {
		return
	}
	eng := si.sh.eng
	if eng == nil {
		return
	}
	if sc.conn == nil {
		t := l7.TCP
		if sc.transport == socket.UDP {
			t = l7.UDP
		}
		sc.conn = eng.Open(l7.ConnInfo{ID: sc.flowID, Client: sc.client, Server: sc.server, Transport: t,
			Oriented: sc.role != socket.RoleUnknown, TLS: sc.tls}, ts)
	}
	dir := sc.egress
	if d == 1 {
		dir ^= 1
	}
	sc.conn.SetCall(dir, l7.CallMeta{TID: e.Tid, TraceID: e.SyscallTraceID, Goroutine: e.Goroutine})
	if sc.transport == socket.UDP {
		si.stats.Data++
		si.stats.DataBytes += uint64(len(payload))
		sc.conn.Data(dir, ts, 0, payload)
		return
	}
	seq := sc.next[d]
	if e.HasSeq && !tlsEv {
		seq = e.TCPSeq
		if sc.hasNext[d] {
			switch diff := int32(e.TCPSeq - sc.next[d]); {
			case diff > 0:
				// Events lost between the last one and this one.
				si.stats.SeqGaps++
				si.stats.SeqGapBytes += uint64(diff)
				sc.conn.Gap(dir, ts, int(diff))
			case diff < 0:
				// Bytes delivered already (a peek, a re-read):
				// only what is new goes on.
				si.stats.Overlaps++
				skip := int64(-diff)
				if skip >= length {
					return
				}
				seq += uint32(skip)
				length -= skip
				if skip >= int64(len(payload)) {
					payload = nil
				} else {
					payload = payload[skip:]
				}
			}
		}
	}
	sc.next[d], sc.hasNext[d] = seq+uint32(length), true
	si.stats.Data++
	si.stats.DataBytes += uint64(len(payload))
	if len(payload) > 0 {
		sc.conn.Data(dir, ts, seq, payload)
	}
	if missing := length - int64(len(payload)); missing > 0 {
		si.stats.Truncated++
		si.stats.TruncatedBytes += uint64(missing)
		sc.conn.Gap(dir, ts, int(min(missing, 1<<30)))
	}
}

// toTLS switches sc to TLS plaintext: from now on the socket's plaintext
// is decoded, its syscall ciphertext not. The connection decoded so far
// (the TLS handshake's record) ends, and a fresh one of the same flow id
// starts on plaintext, its offsets counted from 0.
func (si *sockInput) toTLS(sc *sockConn) {
	sc.tls = true
	si.closeConn(sc)
	sc.next, sc.hasNext = [2]uint32{}, [2]bool{}
}

// closeConn closes sc's L7 connection, if any, keeping its counters.
func (si *sockInput) closeConn(sc *sockConn) l7.ConnSummary {
	if sc.conn == nil {
		return l7.ConnSummary{}
	}
	c := sc.conn
	sc.conn = nil
	// Inference may have reversed an unknown orientation: keep its
	// judgement for the socket record and a later connection.
	if cl := c.Client(); cl != sc.client {
		sc.client, sc.server, sc.egress = cl, c.Server(), sc.egress^1
	}
	return c.Close(si.now)
}

// closeSocket ends every connection of socket id, closed at ts.
func (si *sockInput) closeSocket(id uint64, ts int64) {
	if sc := si.conns[sockKey{id: id}]; sc != nil {
		sc.last = max(sc.last, ts)
		si.end(sc, closeClosed)
		return
	}
	peers, ok := si.udp[id]
	if !ok {
		si.stats.Unmatched++
		return
	}
	for _, sc := range append([]*sockConn(nil), peers...) {
		sc.last = max(sc.last, ts)
		si.end(sc, closeClosed)
	}
}

// end closes sc: its pending requests come out, then its socket record.
func (si *sockInput) end(sc *sockConn, how closeType) {
	if si.conns[sc.key] != sc {
		return
	}
	sum := si.closeConn(sc)
	// The flow id stays known until the engine's records are out.
	delete(si.conns, sc.key)
	delete(si.byFlow, sc.flowID)
	if sc.transport == socket.UDP {
		peers := si.udp[sc.key.id]
		for i, x := range peers {
			if x == sc {
				peers = append(peers[:i], peers[i+1:]...)
				break
			}
		}
		if len(peers) == 0 {
			delete(si.udp, sc.key.id)
		} else {
			si.udp[sc.key.id] = peers
		}
	}
	if si.cfg.NoSocketLog {
		return
	}
	si.stats.Records++
	r := &si.rec
	sc.fill(r, sum, how)
	si.sh.socket(r)
}

// flush ends every connection (end of input), oldest first.
func (si *sockInput) flush() {
	si.releaseOld(true)
	all := make([]*sockConn, 0, len(si.conns))
	for _, sc := range si.conns {
		all = append(all, sc)
	}
	slices.SortFunc(all, func(a, b *sockConn) int { return cmp.Compare(a.flowID, b.flowID) })
	for _, sc := range all {
		si.end(sc, closeForced)
	}
}

// l7 adds the process of the socket to a record of the socket engine and
// passes it on: the process is on the server side when the record's
// server is the socket's local address, else on the client side.
func (si *sockInput) l7(r *l7.Record) {
	if sc := si.byFlow[r.FlowID]; sc != nil {
		if r.Server == sc.local && r.Client != sc.local {
			r.ProcessID1, r.ProcessKName1 = sc.pid, sc.comm[:sc.commLen]
		} else {
			r.ProcessID0, r.ProcessKName0 = sc.pid, sc.comm[:sc.commLen]
		}
	}
	si.sh.l7(r)
}

// publish copies the counters for Stats.
func (si *sockInput) publish() {
	src := si.sourceStats()
	si.mu.Lock()
	s := si.stats
	s.OpenSockets = len(si.conns)
	s.Source = src
	si.sh.publish()
	si.mu.Unlock()
	si.pubMu.Lock()
	si.pub = s
	si.pubMu.Unlock()
}
