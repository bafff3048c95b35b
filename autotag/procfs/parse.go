package procfs

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// ParseCgroup reads the contents of /proc/<pid>/cgroup (v2 "0::/path"
// and v1 "N:controllers:/path" lines) and returns the container id and pod
// uid found in its paths, "" for none. The innermost match wins; an id
// under a runtime monitor ("conmon") is not a container.
func ParseCgroup(data []byte) (containerID, podUID string) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		// hierarchy-id:controllers:path; the path may hold colons.
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		j := bytes.IndexByte(line[i+1:], ':')
		if j < 0 {
			continue
		}
		c, p := parseCgroupPath(string(line[i+1+j+1:]))
		if c != "" && containerID == "" {
			containerID = c
		}
		if p != "" && podUID == "" {
			podUID = p
		}
	}
	return containerID, podUID
}

// parseCgroupPath returns the container id and pod uid in one cgroup path.
func parseCgroupPath(path string) (containerID, podUID string) {
	for path != "" {
		var comp string
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			comp, path = path[i+1:], path[:i]
		} else {
			comp, path = path, ""
		}
		if containerID == "" && podUID == "" {
			if id, ok := containerComponent(comp); ok {
				containerID = id
				continue
			}
		}
		if podUID == "" {
			if uid, ok := podComponent(comp); ok {
				podUID = uid
			}
		}
	}
	return containerID, podUID
}

// containerComponent recognises a path component naming a container:
// "<id>", "<runtime>-<id>.scope", with runtime docker, cri-containerd,
// crio, libpod, containerd, nerdctl (not their conmon monitors).
func containerComponent(c string) (string, bool) {
	c = strings.TrimSuffix(c, ".scope")
	if strings.Contains(c, "conmon") {
		return "", false
	}
	if i := strings.LastIndexByte(c, '-'); i >= 0 {
		switch c[:i] {
		case "docker", "cri-containerd", "crio", "libpod", "containerd", "nerdctl", "cri-dockerd":
			c = c[i+1:]
		default:
			return "", false
		}
	}
	if !isHexID(c) {
		return "", false
	}
	return c, true
}

func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < '0' || b > '9') && (b < 'a' || b > 'f') {
			return false
		}
	}
	return true
}

// podComponent recognises "pod<uid>" (cgroupfs driver) and
// "kubepods[-<qos>]-pod<uid_with_underscores>.slice" (systemd driver) and
// returns the uid with dashes.
func podComponent(c string) (string, bool) {
	if s, ok := strings.CutSuffix(c, ".slice"); ok {
		i := strings.LastIndex(s, "-pod")
		if i < 0 || !strings.HasPrefix(s, "kubepods") {
			return "", false
		}
		c = "pod" + strings.ReplaceAll(s[i+4:], "_", "-")
	}
	uid, ok := strings.CutPrefix(c, "pod")
	if !ok || !isUID(uid) {
		return "", false
	}
	return uid, true
}

// isUID reports whether s is a UUID in its 8-4-4-4-12 form.
func isUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if b != '-' {
				return false
			}
			continue
		}
		if (b < '0' || b > '9') && (b < 'a' || b > 'f') {
			return false
		}
	}
	return true
}

// ErrFormat is wrapped by a *ParseError.
var ErrFormat = errors.New("procfs: malformed socket table")

// ParseError is a malformed line of a socket table.
type ParseError struct {
	Line   int    // 1-based; the header is line 1
	Reason string // what is wrong
}

func (e *ParseError) Error() string {
	return ErrFormat.Error() + ": line " + strconv.Itoa(e.Line) + ": " + e.Reason
}

func (e *ParseError) Unwrap() error { return ErrFormat }

// Socket is one entry of a socket table.
type Socket struct {
	Local, Remote netip.AddrPort
	State         uint8 // TCP state (0x0A: listening); UDP: 0x07 unconnected
	Inode         uint64
}

// ParseNet reads a socket table (/proc/net/tcp, tcp6, udp, udp6, the
// header line first) and calls fn for each socket. Addresses are in the
// kernel's format: hex words in host (little-endian) order.
func ParseNet(data []byte, fn func(Socket)) error {
	n := 0
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		n++
		if n == 1 {
			if !bytes.Contains(line, []byte("local_address")) {
				return &ParseError{n, "no header"}
			}
			continue
		}
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 10 {
			return &ParseError{n, "fewer than 10 fields"}
		}
		var s Socket
		var ok bool
		if s.Local, ok = parseHexAddrPort(f[1]); !ok {
			return &ParseError{n, "bad local address"}
		}
		if s.Remote, ok = parseHexAddrPort(f[2]); !ok {
			return &ParseError{n, "bad remote address"}
		}
		st, err := strconv.ParseUint(string(f[3]), 16, 8)
		if err != nil {
			return &ParseError{n, "bad state"}
		}
		s.State = uint8(st)
		if s.Inode, err = strconv.ParseUint(string(f[9]), 10, 64); err != nil {
			return &ParseError{n, "bad inode"}
		}
		fn(s)
	}
	if n == 0 {
		return &ParseError{1, "empty"}
	}
	return nil
}

// parseHexAddrPort reads "0100007F:1F90" (IPv4) or 32 hex digits and a
// port (IPv6): each 32-bit word of the address is in host byte order.
func parseHexAddrPort(b []byte) (netip.AddrPort, bool) {
	i := bytes.IndexByte(b, ':')
	if i < 0 || len(b)-i-1 != 4 {
		return netip.AddrPort{}, false
	}
	port, ok := hexUint(b[i+1:])
	if !ok {
		return netip.AddrPort{}, false
	}
	h := b[:i]
	var a netip.Addr
	switch len(h) {
	case 8:
		w, ok := hexUint(h)
		if !ok {
			return netip.AddrPort{}, false
		}
		a = netip.AddrFrom4([4]byte{byte(w), byte(w >> 8), byte(w >> 16), byte(w >> 24)})
	case 32:
		var x [16]byte
		for k := 0; k < 4; k++ {
			w, ok := hexUint(h[8*k : 8*k+8])
			if !ok {
				return netip.AddrPort{}, false
			}
			x[4*k], x[4*k+1], x[4*k+2], x[4*k+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
		}
		a = netip.AddrFrom16(x).Unmap()
	default:
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

func hexUint(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	var v uint32
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint32(c-'0')
		case c >= 'A' && c <= 'F':
			v = v<<4 | uint32(c-'A'+10)
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint32(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
