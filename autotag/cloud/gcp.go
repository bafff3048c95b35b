package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// GCP reads the Google Cloud metadata server: one recursive GET of
// /computeMetadata/v1/instance/ with the Metadata-Flavor: Google header.
// A response without that header back is not the metadata server.
type GCP struct {
	// Endpoint is the server's base URL. Default
	// http://metadata.google.internal.
	Endpoint string
	// Client sends the request. Default: no proxy, 1 s connect timeout.
	Client *http.Client
}

// Name returns "gcp".
func (*GCP) Name() string { return "gcp" }

const gcpPath = "/computeMetadata/v1/instance/"

// gcpInstance is the part of the recursive instance document the source
// reads.
type gcpInstance struct {
	ID                json.Number `json:"id"`
	Name              string      `json:"name"`
	Hostname          string      `json:"hostname"`
	Zone              string      `json:"zone"` // projects/<number>/zones/<zone>
	NetworkInterfaces []struct {
		IP            string   `json:"ip"`
		IPv6s         []string `json:"ipv6s"`
		MAC           string   `json:"mac"`
		Network       string   `json:"network"` // projects/<number>/networks/<name>
		Subnetmask    string   `json:"subnetmask"`
		AccessConfigs []struct {
			ExternalIP string `json:"externalIp"`
		} `json:"accessConfigs"`
	} `json:"networkInterfaces"`
}

// parseGCP turns a recursive instance document into Metadata.
func parseGCP(b []byte) (*Metadata, error) {
	var in gcpInstance
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	if in.ID == "" || in.Zone == "" {
		return nil, errors.New("instance document without id or zone")
	}
	m := &Metadata{Provider: "gcp", InstanceID: in.ID.String(), Hostname: in.Hostname}
	m.AZ = lastSegment(in.Zone)
	if i := strings.LastIndexByte(m.AZ, '-'); i > 0 {
		m.Region = m.AZ[:i]
	}
	if m.Hostname == "" {
		m.Hostname = in.Name
	}
	for _, n := range in.NetworkInterfaces {
		ifc := Interface{MAC: n.MAC, VPC: lastSegment(n.Network)}
		ifc.Addrs = addAddr(ifc.Addrs, n.IP)
		for _, a := range n.IPv6s {
			ifc.Addrs = addAddr(ifc.Addrs, a)
		}
		for _, ac := range n.AccessConfigs {
			ifc.Public = addAddr(ifc.Public, ac.ExternalIP)
		}
		if p, ok := maskPrefix(n.IP, n.Subnetmask); ok {
			ifc.Subnets = addPrefix(nil, p)
			ifc.Subnet = p.String()
		}
		m.Interfaces = append(m.Interfaces, ifc)
	}
	return m, nil
}

// maskPrefix returns the prefix of ip under a dotted IPv4 netmask.
func maskPrefix(ip, mask string) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, false
	}
	mk, err := netip.ParseAddr(mask)
	if err != nil || !mk.Is4() {
		return netip.Prefix{}, false
	}
	m := mk.As4()
	v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	bits := 0
	for v&(1<<31) != 0 {
		bits++
		v <<= 1
	}
	if v != 0 { // not a contiguous mask
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, bits).Masked(), true
}

func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Fetch reads the recursive instance document.
func (p *GCP) Fetch(ctx context.Context) (*Metadata, error) {
	base := strings.TrimRight(p.Endpoint, "/")
	if base == "" {
		base = "http://metadata.google.internal"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+gcpPath+"?recursive=true", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Metadata-Flavor", "Google")
	code, h, b, err := do(clientOr(p.Client), req, "gcp")
	if err != nil {
		return nil, err
	}
	if h.Get("Metadata-Flavor") != "Google" {
		return nil, fmt.Errorf("%w: gcp: no Metadata-Flavor: Google in the answer (status %s)", ErrNotDetected, strconv.Itoa(code))
	}
	if code != http.StatusOK {
		return nil, &FetchError{Provider: "gcp", Path: gcpPath, Status: code}
	}
	m, err := parseGCP(b)
	if err != nil {
		return nil, &FetchError{Provider: "gcp", Path: gcpPath, Err: err}
	}
	return m, nil
}
