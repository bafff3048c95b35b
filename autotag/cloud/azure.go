package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
)

// Azure reads the Azure Instance Metadata Service: GET
// /metadata/instance?api-version=<APIVersion> with the Metadata: true
// header.
type Azure struct {
	// Endpoint is the service's base URL. Default http://169.254.169.254.
	Endpoint string
	// Client sends the request. Default: no proxy, 1 s connect timeout.
	Client *http.Client
	// APIVersion is the api-version asked for. Default "2021-02-01", the
	// first with compute.tagsList everywhere.
	APIVersion string
}

// Name returns "azure".
func (*Azure) Name() string { return "azure" }

const azurePath = "/metadata/instance"

type azureAddr struct {
	PrivateIPAddress string `json:"privateIpAddress"`
	PublicIPAddress  string `json:"publicIpAddress"`
}

type azureSubnet struct {
	Address string `json:"address"`
	Prefix  string `json:"prefix"`
}

// azureInstance is the part of the instance document the source reads.
type azureInstance struct {
	Compute struct {
		Location  string `json:"location"`
		Name      string `json:"name"`
		OSProfile struct {
			ComputerName string `json:"computerName"`
		} `json:"osProfile"`
		VMID     string `json:"vmId"`
		Zone     string `json:"zone"`
		TagsList []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"tagsList"`
	} `json:"compute"`
	Network struct {
		Interface []struct {
			IPv4 struct {
				IPAddress []azureAddr   `json:"ipAddress"`
				Subnet    []azureSubnet `json:"subnet"`
			} `json:"ipv4"`
			IPv6 struct {
				IPAddress []azureAddr   `json:"ipAddress"`
				Subnet    []azureSubnet `json:"subnet"`
			} `json:"ipv6"`
			MACAddress string `json:"macAddress"`
		} `json:"interface"`
	} `json:"network"`
}

// parseAzure turns an instance document into Metadata.
func parseAzure(b []byte) (*Metadata, error) {
	var in azureInstance
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	c := &in.Compute
	if c.VMID == "" || c.Location == "" {
		return nil, errors.New("instance document without vmId or location")
	}
	m := &Metadata{Provider: "azure", Region: c.Location, InstanceID: c.VMID, Hostname: c.OSProfile.ComputerName}
	if m.Hostname == "" {
		m.Hostname = c.Name
	}
	if c.Zone != "" {
		m.AZ = c.Location + "-" + c.Zone
	}
	for _, t := range c.TagsList {
		if m.Tags == nil {
			m.Tags = map[string]string{}
		}
		m.Tags[t.Name] = t.Value
	}
	for _, n := range in.Network.Interface {
		ifc := Interface{MAC: n.MACAddress}
		for _, fam := range [][]azureAddr{n.IPv4.IPAddress, n.IPv6.IPAddress} {
			for _, a := range fam {
				ifc.Addrs = addAddr(ifc.Addrs, a.PrivateIPAddress)
				ifc.Public = addAddr(ifc.Public, a.PublicIPAddress)
			}
		}
		for _, s := range append(n.IPv4.Subnet, n.IPv6.Subnet...) {
			p, err := netip.ParsePrefix(s.Address + "/" + s.Prefix)
			if err != nil {
				continue
			}
			ifc.Subnets = addPrefix(ifc.Subnets, p)
		}
		if len(ifc.Subnets) > 0 {
			ifc.Subnet = ifc.Subnets[0].String()
		}
		m.Interfaces = append(m.Interfaces, ifc)
	}
	return m, nil
}

// Fetch reads the instance document.
func (p *Azure) Fetch(ctx context.Context) (*Metadata, error) {
	base := strings.TrimRight(p.Endpoint, "/")
	if base == "" {
		base = "http://169.254.169.254"
	}
	v := p.APIVersion
	if v == "" {
		v = "2021-02-01"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+azurePath+"?api-version="+v, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Metadata", "true")
	code, h, b, err := do(clientOr(p.Client), req, "azure")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		// AWS's IMDS answers the same address with 404 for this path.
		if code == http.StatusNotFound || !strings.Contains(h.Get("Content-Type"), "json") {
			return nil, errors.Join(ErrNotDetected, &FetchError{Provider: "azure", Path: azurePath, Status: code})
		}
		return nil, &FetchError{Provider: "azure", Path: azurePath, Status: code}
	}
	m, err := parseAzure(b)
	if err != nil {
		return nil, &FetchError{Provider: "azure", Path: azurePath, Err: err}
	}
	return m, nil
}
