package l7test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/l7"
)

// TCP flag bits of the frames a Conversation builds.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
)

// Defaults of a Conversation.
const (
	// DefaultSegmentSize is the most payload bytes one TCP segment of a
	// Conversation carries unless Segment says otherwise (an Ethernet
	// MSS without options).
	DefaultSegmentSize = 1460
	// DefaultStep is the capture time between two frames of a
	// Conversation, unless Wait adds more.
	DefaultStep = 100 * time.Microsecond
)

// DefaultStart is the capture time of a Conversation's first frame.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The largest TCP and UDP payloads of a frame: what fits the 16-bit
// length of an IPv6 payload (and of an IPv4 packet) with the headers.
const (
	maxSegment  = 65535 - 40 - 20
	maxDatagram = 65535 - 40 - 8
)

// The initial sequence numbers of a Conversation's client and server.
const (
	clientISN = 1_000_000
	serverISN = 5_000_000
)

// Conversation is a scripted exchange between a client and a server,
// rendered as captured frames: Ethernet, IPv4 or IPv6, and TCP (with a
// three-way handshake, sequence and acknowledgement numbers that follow
// the bytes sent, and a FIN exchange at the end) or UDP (one datagram per
// Send). It is the input of CheckContract, RunConversation and WritePcap,
// and a way to make capture files for tests without a network.
//
// The methods that add to the script return the Conversation, so that
// calls chain:
//
//	c := l7test.NewConversation(cli, srv, l7.TCP).
//		Request([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).
//		Response([]byte("HTTP/1.1 204 No Content\r\n\r\n"))
//
// The script is kept as given and rendered anew by each call of Frames,
// so one Conversation may be rendered several times. A Conversation is
// not safe for concurrent use while it is being scripted.
type Conversation struct {
	client, server netip.AddrPort
	transport      l7.Transport
	steps          []step
	noHandshake    bool
	noClose        bool
	snaplen        int
}

type stepKind uint8

const (
	stepSend stepKind = iota
	stepGap
	stepWait
	stepSegment
)

type step struct {
	kind stepKind
	dir  l7.Direction
	data []byte
	n    int
	d    time.Duration
}

// NewConversation returns an empty script between client and server over
// transport t (l7.TCP or l7.UDP). Both addresses must be of one family.
func NewConversation(client, server netip.AddrPort, t l7.Transport) *Conversation {
	return &Conversation{client: client, server: server, transport: t}
}

// Client returns the client's address.
func (c *Conversation) Client() netip.AddrPort { return c.client }

// Server returns the server's address.
func (c *Conversation) Server() netip.AddrPort { return c.server }

// Transport returns the conversation's transport.
func (c *Conversation) Transport() l7.Transport { return c.transport }

// Request adds bytes the client sends (l7.ToServer). b is copied.
func (c *Conversation) Request(b []byte) *Conversation { return c.Send(l7.ToServer, b) }

// Response adds bytes the server sends (l7.ToClient). b is copied.
func (c *Conversation) Response(b []byte) *Conversation { return c.Send(l7.ToClient, b) }

// Send adds bytes sent in direction dir: over TCP, as many segments as the
// segment size requires; over UDP, one datagram (cut at 65,487 bytes, the
// most an IPv6 datagram carries). b is copied; an empty b adds nothing.
func (c *Conversation) Send(dir l7.Direction, b []byte) *Conversation {
	if len(b) == 0 {
		return c
	}
	c.steps = append(c.steps, step{kind: stepSend, dir: dir & 1, data: append([]byte(nil), b...)})
	return c
}

// Segment sets the most payload bytes of each TCP segment sent from now
// on (at most 65,475, what fits an IPv6 packet); n <= 0 restores
// DefaultSegmentSize. Over UDP it has no effect.
func (c *Conversation) Segment(n int) *Conversation {
	c.steps = append(c.steps, step{kind: stepSegment, n: n})
	return c
}

// Gap makes the capture miss the next n bytes sent in direction dir over
// TCP: they are sent (sequence numbers move past them, the peer
// acknowledges them) but no frame carries them, as when the capture
// drops packets. Over UDP, or with n <= 0, it has no effect.
func (c *Conversation) Gap(dir l7.Direction, n int) *Conversation {
	if n > 0 {
		c.steps = append(c.steps, step{kind: stepGap, dir: dir & 1, n: n})
	}
	return c
}

// Wait adds d to the capture time before the next frame (for session
// timeouts, say).
func (c *Conversation) Wait(d time.Duration) *Conversation {
	if d > 0 {
		c.steps = append(c.steps, step{kind: stepWait, d: d})
	}
	return c
}

// Snaplen cuts every frame to its first n bytes, as a capture with that
// snapshot length does (the original length is kept). n <= 0 means no
// cut.
func (c *Conversation) Snaplen(n int) *Conversation {
	c.snaplen = max(n, 0)
	return c
}

// NoHandshake leaves the TCP handshake out, as when a capture starts in
// the middle of a connection.
func (c *Conversation) NoHandshake() *Conversation {
	c.noHandshake = true
	return c
}

// NoClose leaves the FIN exchange out, as when a capture ends before the
// connection does.
func (c *Conversation) NoClose() *Conversation {
	c.noClose = true
	return c
}

// Chunks returns the bytes each Send added, in order, as the stream a
// parser fed directly would see (Feed). Gaps, waits and segment sizes are
// left out.
func (c *Conversation) Chunks() []Chunk {
	var out []Chunk
	for _, s := range c.steps {
		if s.kind == stepSend {
			out = append(out, Chunk{Dir: s.dir, Data: string(s.data)})
		}
	}
	return out
}

// Frame is one captured Ethernet frame.
type Frame struct {
	Time   time.Time
	Data   []byte // the captured bytes, possibly cut by the snaplen
	Length int    // the frame's length on the wire
}

// Packet returns f as a capture.Packet of link type Ethernet. Its Data
// aliases f's.
func (f *Frame) Packet() capture.Packet {
	return capture.Packet{Timestamp: f.Time, Data: f.Data, Length: f.Length, LinkType: capture.LinkEthernet}
}

// segment is one TCP segment or UDP datagram before it becomes a frame.
type segment struct {
	dir   l7.Direction // ToServer: from the client
	flags uint8        // TCP flags
	seq   uint32
	ack   uint32
	data  []byte
	t     time.Time
	chunk int // index of the Send step it carries bytes of; -1 for none
}

// segments renders the script as segments in capture order.
func (c *Conversation) segments() []segment {
	var out []segment
	t := DefaultStart
	next := [2]uint32{clientISN, serverISN}
	size := DefaultSegmentSize
	add := func(s segment) {
		s.t = t
		t = t.Add(DefaultStep)
		out = append(out, s)
	}
	tcp := c.transport != l7.UDP
	if tcp && !c.noHandshake {
		add(segment{dir: l7.ToServer, flags: flagSYN, seq: next[0] - 1, chunk: -1})
		add(segment{dir: l7.ToClient, flags: flagSYN | flagACK, seq: next[1] - 1, ack: next[0], chunk: -1})
		add(segment{dir: l7.ToServer, flags: flagACK, seq: next[0], ack: next[1], chunk: -1})
	}
	for i, s := range c.steps {
		switch s.kind {
		case stepSegment:
			size = min(s.n, maxSegment)
			if size <= 0 {
				size = DefaultSegmentSize
			}
		case stepWait:
			t = t.Add(s.d)
		case stepGap:
			if tcp {
				next[s.dir] += uint32(s.n)
			}
		case stepSend:
			if !tcp {
				add(segment{dir: s.dir, data: s.data[:min(len(s.data), maxDatagram)], chunk: i})
				continue
			}
			for b := s.data; len(b) > 0; {
				k := min(len(b), size)
				add(segment{dir: s.dir, flags: flagPSH | flagACK, seq: next[s.dir], ack: next[s.dir^1], data: b[:k], chunk: i})
				next[s.dir] += uint32(k)
				b = b[k:]
			}
		}
	}
	if tcp && !c.noClose {
		add(segment{dir: l7.ToServer, flags: flagFIN | flagACK, seq: next[0], ack: next[1], chunk: -1})
		add(segment{dir: l7.ToClient, flags: flagFIN | flagACK, seq: next[1], ack: next[0] + 1, chunk: -1})
		add(segment{dir: l7.ToServer, flags: flagACK, seq: next[0] + 1, ack: next[1] + 1, chunk: -1})
	}
	return out
}

// Frames renders the script as captured frames, in capture order.
func (c *Conversation) Frames() []Frame {
	return c.render(c.segments(), c.snaplen)
}

// render turns segments into frames cut at snaplen (0: no cut).
func (c *Conversation) render(segs []segment, snaplen int) []Frame {
	out := make([]Frame, 0, len(segs))
	var ipid [2]uint16
	for _, s := range segs {
		src, dst := c.client, c.server
		if s.dir == l7.ToClient {
			src, dst = c.server, c.client
		}
		ipid[s.dir]++
		b := buildFrame(src, dst, c.transport, &s, ipid[s.dir])
		f := Frame{Time: s.t, Data: b, Length: len(b)}
		if snaplen > 0 && len(b) > snaplen {
			f.Data = b[:snaplen]
		}
		out = append(out, f)
	}
	return out
}

// WritePcap writes the frames of the script to w as a pcap file (link type
// Ethernet, nanosecond timestamps) that tcpdump, Wireshark and
// capture.OpenFile read.
func (c *Conversation) WritePcap(w io.Writer) error {
	return WritePcap(w, c.Frames(), c.snaplen)
}

// WritePcap writes frames to w as a pcap file of link type Ethernet whose
// header announces snaplen (0 means 262144).
func WritePcap(w io.Writer, frames []Frame, snaplen int) error {
	bw := bufio.NewWriter(w)
	pw, err := capture.NewPcapWriter(bw, capture.LinkEthernet, snaplen)
	if err != nil {
		return err
	}
	for i := range frames {
		p := frames[i].Packet()
		if err := pw.WritePacket(&p); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Ethernet addresses of the client and the server (locally administered).
var (
	clientMAC = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	serverMAC = [6]byte{0x02, 0, 0, 0, 0, 0x02}
)

// buildFrame returns one Ethernet frame carrying s from src to dst, with
// valid IP and transport checksums.
func buildFrame(src, dst netip.AddrPort, t l7.Transport, s *segment, ipid uint16) []byte {
	v6 := src.Addr().Is6() && !src.Addr().Is4In6()
	l4len := 20 + len(s.data)
	if t == l7.UDP {
		l4len = 8 + len(s.data)
	}
	iplen := 20
	if v6 {
		iplen = 40
	}
	b := make([]byte, 14+iplen+l4len)
	smac, dmac := clientMAC, serverMAC
	if s.dir == l7.ToClient {
		smac, dmac = serverMAC, clientMAC
	}
	copy(b[0:6], dmac[:])
	copy(b[6:12], smac[:])
	proto := byte(6)
	if t == l7.UDP {
		proto = 17
	}
	ip := b[14 : 14+iplen]
	l4 := b[14+iplen:]
	var pseudo uint32
	if v6 {
		binary.BigEndian.PutUint16(b[12:], 0x86dd)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(l4len))
		ip[6] = proto
		ip[7] = 64
		s16, d16 := src.Addr().As16(), dst.Addr().As16()
		copy(ip[8:24], s16[:])
		copy(ip[24:40], d16[:])
		pseudo = sum16(0, ip[8:40])
	} else {
		binary.BigEndian.PutUint16(b[12:], 0x0800)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(iplen+l4len))
		binary.BigEndian.PutUint16(ip[4:], ipid)
		ip[6] = 0x40 // DF
		ip[8] = 64
		ip[9] = proto
		s4, d4 := src.Addr().Unmap().As4(), dst.Addr().Unmap().As4()
		copy(ip[12:16], s4[:])
		copy(ip[16:20], d4[:])
		binary.BigEndian.PutUint16(ip[10:], ^fold(sum16(0, ip)))
		pseudo = sum16(0, ip[12:20])
	}
	pseudo += uint32(proto) + uint32(l4len)
	binary.BigEndian.PutUint16(l4[0:], src.Port())
	binary.BigEndian.PutUint16(l4[2:], dst.Port())
	if t == l7.UDP {
		binary.BigEndian.PutUint16(l4[4:], uint16(l4len))
		copy(l4[8:], s.data)
		ck := ^fold(sum16(pseudo, l4))
		if ck == 0 {
			ck = 0xffff
		}
		binary.BigEndian.PutUint16(l4[6:], ck)
		return b
	}
	binary.BigEndian.PutUint32(l4[4:], s.seq)
	if s.flags&flagACK != 0 {
		binary.BigEndian.PutUint32(l4[8:], s.ack)
	}
	l4[12] = 5 << 4
	l4[13] = s.flags
	binary.BigEndian.PutUint16(l4[14:], 65535)
	copy(l4[20:], s.data)
	binary.BigEndian.PutUint16(l4[16:], ^fold(sum16(pseudo, l4)))
	return b
}

// sum16 adds b as big-endian 16-bit words to acc (one's complement sum,
// not folded).
func sum16(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// String describes the script briefly, for test messages.
func (c *Conversation) String() string {
	sends, bytes := 0, 0
	for _, s := range c.steps {
		if s.kind == stepSend {
			sends++
			bytes += len(s.data)
		}
	}
	return fmt.Sprintf("%v %s > %s, %d sends, %d bytes", transportName(c.transport), c.client, c.server, sends, bytes)
}

func transportName(t l7.Transport) string {
	if t == l7.UDP {
		return "UDP"
	}
	return "TCP"
}
