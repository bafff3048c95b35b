package encoding

import (
	"fmt"
	"net"
	"net/netip"
)

// LocalAddrs returns an EncoderConfig.LocalAddr that knows the addresses
// of the machine's (or the network namespace's) interfaces at the time of
// the call, loopback included. Errors: the system's, wrapped.
func LocalAddrs() (func(netip.Addr) bool, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("encoding: interface addresses: %w", err)
	}
	set := make(map[netip.Addr]bool, len(as))
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			set[p.Addr().Unmap()] = true
		}
	}
	return func(a netip.Addr) bool { return set[a.Unmap()] }, nil
}
