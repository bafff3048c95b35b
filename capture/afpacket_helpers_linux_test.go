//go:build linux

package capture_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/internal/netns"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// collector reads a source in a goroutine until it is closed.
type collector struct {
	src  capture.Source
	mu   sync.Mutex
	recs []rec
	err  error
	done chan struct{}
}

func collect(src capture.Source) *collector { return collectBatches(src, 0) }

// collectBatches is collect reading up to batch packets a call with
// ReadPackets (capture.BatchSource); batch 0 reads with ReadPacket.
func collectBatches(src capture.Source, batch int) *collector {
	c := &collector{src: src, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		ps := make([]capture.Packet, max(batch, 1))
		for {
			n, err := 1, error(nil)
			if batch > 0 {
				n, err = src.(capture.BatchSource).ReadPackets(ps)
				if err == nil && (n < 1 || n > batch) {
					err = fmt.Errorf("ReadPackets = %d of %d", n, batch)
				}
			} else {
				err = src.ReadPacket(&ps[0])
			}
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			c.mu.Lock()
			for _, p := range ps[:n] {
				c.recs = append(c.recs, rec{p.Timestamp, bytes.Clone(p.Data), p.Length})
			}
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

// stop closes the source and returns what was read; the reader must have
// ended with ErrClosed.
func (c *collector) stop(t *testing.T) []rec {
	t.Helper()
	if err := c.src.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
		t.Fatal("reader did not return after Close")
	}
	if !errors.Is(c.err, capture.ErrClosed) {
		t.Errorf("reader ended with %v, want ErrClosed", c.err)
	}
	return c.recs
}

// tcpdump is a tcpdump process capturing in a namespace into a file.
type tcpdump struct {
	cmd    *exec.Cmd
	file   string
	stderr bytes.Buffer  // written by the stderr reader until done closes
	done   chan struct{} // closed when tcpdump has exited and stderr is read
}

// startTcpdump runs tcpdump -i iface -w FILE [args] in ns and waits until
// it is listening.
func startTcpdump(t *testing.T, ns *netns.Namespace, iface string, args ...string) *tcpdump {
	t.Helper()
	testutil.RequireCommand(t, "tcpdump")
	td := &tcpdump{file: filepath.Join(t.TempDir(), "tcpdump.pcap"), done: make(chan struct{})}
	all := append([]string{"-i", iface, "-n", "-U", "-B", "32768", "--time-stamp-precision=nano", "-w", td.file}, args...)
	td.cmd = ns.Command(context.Background(), "tcpdump", all...)
	pr, pw := io.Pipe()
	td.cmd.Stderr = pw
	if err := td.cmd.Start(); err != nil {
		t.Fatalf("start tcpdump: %v", err)
	}
	ready := make(chan error, 1)
	go func() {
		defer close(td.done)
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			td.stderr.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "listening on") {
				ready <- nil
				signalled = true
			}
		}
		if !signalled {
			ready <- fmt.Errorf("tcpdump exited: %s", td.stderr.String())
		}
	}()
	go func() { td.cmd.Wait(); pw.Close() }()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		td.cmd.Process.Kill()
		t.Fatal("tcpdump did not start listening")
	}
	t.Cleanup(func() { td.cmd.Process.Kill() })
	return td
}

// stop ends tcpdump with SIGINT and returns its packets and its kernel drop
// count.
func (td *tcpdump) stop(t *testing.T) ([]rec, capture.LinkType, int) {
	t.Helper()
	// tcpdump stops without reading ring blocks the kernel has not yet
	// handed over; libpcap asks for them after 1 s at the latest.
	time.Sleep(1100 * time.Millisecond)
	return td.stopNow(t)
}

// stopNow is stop for a caller that has already waited a second since the
// last packet.
func (td *tcpdump) stopNow(t *testing.T) ([]rec, capture.LinkType, int) {
	t.Helper()
	td.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-td.done:
	case <-time.After(5 * time.Second):
		t.Fatal("tcpdump did not exit on SIGINT")
	}
	drops := -1
	for _, line := range strings.Split(td.stderr.String(), "\n") {
		if strings.HasSuffix(line, "packets dropped by kernel") {
			drops, _ = strconv.Atoi(strings.Fields(line)[0])
		}
	}
	recs, link := readPcap(t, td.file)
	return recs, link, drops
}

// compareRecs checks that got and want hold the same packets (bytes and
// wire length), each as often, with timestamps within a millisecond. Order
// may differ between two sockets when packets of several flows are handled
// on several CPUs at once, so it is reported, not required.
func compareRecs(t *testing.T, what string, got, want []rec) {
	t.Helper()
	var gotBytes, wantBytes int
	for _, r := range got {
		gotBytes += len(r.data)
	}
	for _, r := range want {
		wantBytes += len(r.data)
	}
	t.Logf("%s: %d packets, %d bytes; tcpdump: %d packets, %d bytes", what, len(got), gotBytes, len(want), wantBytes)
	if len(got) != len(want) || gotBytes != wantBytes {
		t.Errorf("%s: got %d packets / %d bytes, tcpdump %d / %d", what, len(got), gotBytes, len(want), wantBytes)
	}
	type key struct {
		data   string
		length int
	}
	pending := map[key][]time.Time{}
	for _, w := range want {
		k := key{string(w.data), w.length}
		pending[k] = append(pending[k], w.ts)
	}
	inOrder, exactTS := 0, 0
	for i, g := range got {
		if i < len(want) && bytes.Equal(g.data, want[i].data) {
			inOrder++
		}
		k := key{string(g.data), g.length}
		ts := pending[k]
		if len(ts) == 0 {
			t.Errorf("%s: packet %d (len %d) not in tcpdump's capture: % x", what, i, g.length, head(g.data))
			return
		}
		pending[k] = ts[1:]
		if d := g.ts.Sub(ts[0]); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s: packet %d timestamp %v, tcpdump %v", what, i, g.ts, ts[0])
		} else if d == 0 {
			exactTS++
		}
	}
	t.Logf("%s: %d packets in tcpdump's order, %d timestamps equal to the nanosecond", what, inOrder, exactTS)
}

func head(b []byte) []byte { return b[:min(len(b), 48)] }

func tcpEcho(t *testing.T, a, b *netns.Namespace, srv netip.AddrPort, conns, rounds, size int) {
	t.Helper()
	netns.TCPEcho(t, a, b, srv, conns, rounds, size)
}

func udpBlast(t testing.TB, a *netns.Namespace, dst netip.AddrPort, n, size, batch int, pause time.Duration) {
	t.Helper()
	netns.UDPBlast(t, a, dst, n, size, batch, pause)
}

func udpSink(t testing.TB, ns *netns.Namespace, at netip.AddrPort) {
	t.Helper()
	netns.UDPSink(t, ns, at)
}

// openIn opens an AF_PACKET source inside ns.
func openIn(t testing.TB, ns *netns.Namespace, cfg capture.AFPacketConfig) *capture.AFPacketSource {
	t.Helper()
	var src *capture.AFPacketSource
	if err := ns.Do(func() (err error) {
		src, err = capture.OpenAFPacket(cfg)
		return err
	}); err != nil {
		t.Fatalf("OpenAFPacket(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// settle waits long enough for partly filled ring blocks to be retired and
// for tcpdump to see the same packets.
func settle(cfg capture.AFPacketConfig) {
	d := cfg.BlockTimeout
	if d == 0 {
		d = capture.DefaultAFPacketBlockTimeout
	}
	time.Sleep(3*d + 150*time.Millisecond)
}
