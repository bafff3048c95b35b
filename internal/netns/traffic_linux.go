//go:build linux

package netns

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// TCPEcho runs conns TCP connections from ns a to a server in ns b; each
// client writes rounds messages of size bytes and reads each echo back.
func TCPEcho(t testing.TB, a, b *Namespace, srv netip.AddrPort, conns, rounds, size int) {
	t.Helper()
	var ln net.Listener
	if err := b.Do(func() (err error) {
		ln, err = net.Listen("tcp4", srv.String())
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", b.Name, err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	clients := make([]net.Conn, conns)
	for i := range clients {
		if err := a.Do(func() (err error) {
			clients[i], err = net.DialTimeout("tcp4", srv.String(), 2*time.Second)
			return err
		}); err != nil {
			t.Fatalf("dial from %s: %v", a.Name, err)
		}
	}
	var cwg sync.WaitGroup
	for i, c := range clients {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			defer c.Close()
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, size)
			buf := make([]byte, size)
			for range rounds {
				if _, err := c.Write(msg); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Errorf("read echo: %v", err)
					return
				}
			}
		}()
	}
	cwg.Wait()
	ln.Close()
	wg.Wait()
}

// UDPBlast sends n UDP datagrams of size bytes from ns a to dst, pausing
// every batch packets so the receiving backlog never overflows.
func UDPBlast(t testing.TB, a *Namespace, dst netip.AddrPort, n, size, batch int, pause time.Duration) {
	t.Helper()
	c := dialUDP(t, a, dst)
	defer c.Close()
	msg := make([]byte, size)
	for i := range n {
		binary.BigEndian.PutUint32(msg, uint32(i))
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("udp write %d: %v", i, err)
		}
		if batch > 0 && (i+1)%batch == 0 {
			time.Sleep(pause)
		}
	}
}

// dialUDP dials dst from ns a.
func dialUDP(t testing.TB, a *Namespace, dst netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	if err := a.Do(func() (err error) {
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
		return err
	}); err != nil {
		t.Fatalf("dial udp: %v", err)
	}
	return c
}

// UDPSink opens a UDP socket in ns that never reads, so datagrams to it are
// not answered with ICMP port unreachable.
func UDPSink(t testing.TB, ns *Namespace, at netip.AddrPort) {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(at))
		return err
	}); err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { c.Close() })
}

// UDPBatch sends 64-byte UDP datagrams from a namespace in batches of 64
// (sendmmsg), so that the sender, not the system call rate, sets the pace.
type UDPBatch struct {
	pc  *ipv4.PacketConn
	msg []ipv4.Message
	t   testing.TB
}

// NewUDPBatch dials dst from ns a; the socket closes at the test's end.
func NewUDPBatch(t testing.TB, a *Namespace, dst netip.AddrPort) *UDPBatch {
	t.Helper()
	c := dialUDP(t, a, dst)
	t.Cleanup(func() { c.Close() })
	s := &UDPBatch{pc: ipv4.NewPacketConn(c), msg: make([]ipv4.Message, 64), t: t}
	for i := range s.msg {
		s.msg[i].Buffers = [][]byte{make([]byte, 64)}
	}
	return s
}

// Batch is how many datagrams one Send may write at once.
func (s *UDPBatch) Batch() int { return len(s.msg) }

// Send writes n datagrams, n at most Batch.
func (s *UDPBatch) Send(n int) {
	for sent := 0; sent < n; {
		k, err := s.pc.WriteBatch(s.msg[sent:n], 0)
		if err != nil {
			s.t.Fatalf("udp send: %v", err)
		}
		sent += k
	}
}

// TcpdumpCounts reads the packets captured and dropped by the kernel from
// the closing lines tcpdump writes to stderr.
func TcpdumpCounts(stderr string) (captured, dropped uint64) {
	for _, line := range strings.Split(stderr, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		switch {
		case strings.HasSuffix(line, "packets captured"):
			captured = n
		case strings.HasSuffix(line, "packets dropped by kernel"):
			dropped = n
		}
	}
	return captured, dropped
}
