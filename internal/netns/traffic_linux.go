//go:build linux

package netns

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
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
	var c *net.UDPConn
	if err := a.Do(func() (err error) {
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
		return err
	}); err != nil {
		t.Fatalf("dial udp: %v", err)
	}
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
