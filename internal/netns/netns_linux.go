//go:build linux

package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Namespace is a named network namespace (as created by ip netns add).
type Namespace struct {
	Name string
}

// New creates a network namespace with a random name starting with prefix
// (for example "mf-h2-") and brings its loopback up.
func New(prefix string) (*Namespace, error) {
	name := prefix + randHex(4)
	if err := ip("netns", "add", name); err != nil {
		return nil, err
	}
	ns := &Namespace{Name: name}
	if err := ns.IP("link", "set", "lo", "up"); err != nil {
		ns.Delete()
		return nil, err
	}
	return ns, nil
}

// Delete removes the namespace; interfaces inside it go with it.
func (n *Namespace) Delete() error { return ip("netns", "del", n.Name) }

// IP runs "ip -n NAME args...".
func (n *Namespace) IP(args ...string) error {
	return ip(append([]string{"-n", n.Name}, args...)...)
}

// Command returns a command that runs inside the namespace (ip netns exec).
func (n *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Sysctl sets a sysctl inside the namespace, e.g. ("net.ipv6.conf.all.disable_ipv6", "1").
func (n *Namespace) Sysctl(key, value string) error {
	out, err := n.Command(context.Background(), "sysctl", "-q", "-w", key+"="+value).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netns: sysctl %s=%s in %s: %v: %s", key, value, n.Name, err, bytes.TrimSpace(out))
	}
	return nil
}

// Do runs fn on the calling goroutine's OS thread switched into the
// namespace. Sockets fn creates stay in the namespace after it returns, so
// a listener, dialer or capture socket opened in fn works from any
// goroutine later. If the thread cannot be switched back, it is discarded.
func (n *Namespace) Do(fn func() error) error {
	target, err := unix.Open("/run/netns/"+n.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("netns: open %s: %w", n.Name, err)
	}
	defer unix.Close(target)
	runtime.LockOSThread()
	orig, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: open current namespace: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: enter %s: %w", n.Name, err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime ends it with the goroutine.
		return fmt.Errorf("netns: leave %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Pair is two namespaces joined by a veth pair with IPv4 addresses in one
// /24, IPv6 disabled and static neighbour entries, so the link carries only
// the traffic a test makes (no ARP, no neighbour discovery, no MLD).
type Pair struct {
	A, B         *Namespace
	IfA, IfB     string     // interface names, in A and in B
	AddrA, AddrB netip.Addr // 10.201.N.1 and 10.201.N.2
}

// NewPair creates a Pair; subnet picks N in 10.201.N.0/24.
func NewPair(prefix string, subnet uint8) (p *Pair, err error) {
	p = &Pair{}
	defer func() {
		if err != nil {
			p.Delete()
		}
	}()
	if p.A, err = New(prefix + "a-"); err != nil {
		return p, err
	}
	if p.B, err = New(prefix + "b-"); err != nil {
		return p, err
	}
	tag := randHex(3)
	p.IfA, p.IfB = "mfva"+tag, "mfvb"+tag
	p.AddrA = netip.AddrFrom4([4]byte{10, 201, subnet, 1})
	p.AddrB = netip.AddrFrom4([4]byte{10, 201, subnet, 2})
	if err = ip("link", "add", p.IfA, "netns", p.A.Name, "type", "veth", "peer", "name", p.IfB, "netns", p.B.Name); err != nil {
		return p, err
	}
	macA, macB := "02:00:0a:c9:00:01", "02:00:0a:c9:00:02"
	for _, side := range []struct {
		ns         *Namespace
		ifc, mac   string
		addr, peer netip.Addr
		peerMAC    string
	}{{p.A, p.IfA, macA, p.AddrA, p.AddrB, macB}, {p.B, p.IfB, macB, p.AddrB, p.AddrA, macA}} {
		for _, key := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
			if err = side.ns.Sysctl(key, "1"); err != nil {
				return p, err
			}
		}
		steps := [][]string{
			{"link", "set", side.ifc, "address", side.mac},
			{"addr", "add", side.addr.String() + "/24", "dev", side.ifc},
			{"link", "set", side.ifc, "up"},
			{"neigh", "replace", side.peer.String(), "lladdr", side.peerMAC, "dev", side.ifc, "nud", "permanent"},
		}
		for _, s := range steps {
			if err = side.ns.IP(s...); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

// Delete removes both namespaces (and so the veth pair).
func (p *Pair) Delete() {
	if p.A != nil {
		p.A.Delete()
	}
	if p.B != nil {
		p.B.Delete()
	}
}

// NewPairT is NewPair for tests: it fails the test on error and deletes the
// namespaces at cleanup.
func NewPairT(t testing.TB, prefix string, subnet uint8) *Pair {
	t.Helper()
	p, err := NewPair(prefix, subnet)
	if err != nil {
		t.Fatalf("create namespaces: %v", err)
	}
	t.Cleanup(p.Delete)
	return p
}

// NewT is New for tests: it fails the test on error and deletes the
// namespace at cleanup.
func NewT(t testing.TB, prefix string) *Namespace {
	t.Helper()
	n, err := New(prefix)
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() { n.Delete() })
	return n
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netns: ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on Linux; fall back to the pid.
		return fmt.Sprintf("%0*x", 2*n, os.Getpid())
	}
	return hex.EncodeToString(b)
}
