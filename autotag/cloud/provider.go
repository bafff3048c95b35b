package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// ErrNotDetected means the provider's metadata service did not answer as
// that provider's service: this is not (or not reachably) such an instance.
var ErrNotDetected = errors.New("cloud: provider not detected")

// FetchError is a bad answer from a metadata service that is there: an
// unexpected status or a document that does not parse.
type FetchError struct {
	Provider string // "aws", "gcp", "azure"
	Path     string // the request's path
	Status   int    // the HTTP status, 0 when the body was the problem
	Err      error  // the cause, when there is one
}

func (e *FetchError) Error() string {
	s := "cloud: " + e.Provider + " " + e.Path
	if e.Status != 0 {
		s += fmt.Sprintf(": status %d", e.Status)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FetchError) Unwrap() error { return e.Err }

// Metadata is what a provider's metadata service says about this instance.
type Metadata struct {
	Provider   string            // "aws", "gcp", "azure"
	Region     string            // us-east-1, us-central1, westeurope
	AZ         string            // us-east-1f, us-central1-a, westeurope-2 (Azure: location-zone)
	InstanceID string            // i-0123..., the GCE numeric id, the Azure vmId
	Hostname   string            // the instance's own (private DNS) name
	Interfaces []Interface       // in the provider's order; the primary first
	Tags       map[string]string // cloud tags, when the service exposes them
}

// Interface is one network interface of the instance.
type Interface struct {
	MAC     string
	VPC     string         // vpc-..., the GCE network name; empty on Azure
	Subnet  string         // subnet-..., or the subnet prefix where no name is given
	Addrs   []netip.Addr   // private addresses, IPv4 then IPv6
	Public  []netip.Addr   // public addresses mapped to the interface
	Subnets []netip.Prefix // the subnet's prefixes
	VPCs    []netip.Prefix // the VPC's prefixes (AWS only)
}

// Provider reads one cloud's instance metadata.
//
// Fetch returns the instance's metadata, ErrNotDetected (wrapped) when the
// service is not there, or a *FetchError. It honours ctx's deadline and is
// safe for concurrent use.
type Provider interface {
	Name() string
	Fetch(ctx context.Context) (*Metadata, error)
}

// maxBody bounds every document read from a metadata service.
const maxBody = 1 << 20

// defaultClient talks to link-local metadata services: no proxy (the
// providers ask clients to bypass proxies), short connect timeout.
var defaultClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: time.Second}).DialContext,
		ResponseHeaderTimeout: 2 * time.Second,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func clientOr(c *http.Client) *http.Client {
	if c == nil {
		return defaultClient
	}
	return c
}

// do sends req and returns the status, headers and (bounded) body. A
// transport failure is ErrNotDetected: nothing answered.
func do(c *http.Client, req *http.Request, provider string) (int, http.Header, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %s: %w", ErrNotDetected, provider, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, &FetchError{Provider: provider, Path: req.URL.Path, Err: err}
	}
	if len(b) > maxBody {
		return resp.StatusCode, resp.Header, nil, &FetchError{Provider: provider, Path: req.URL.Path, Err: errors.New("document over 1 MiB")}
	}
	return resp.StatusCode, resp.Header, b, nil
}

// addrs appends the valid addresses of list, skipping duplicates.
func addAddr(l []netip.Addr, s string) []netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return l
	}
	a = a.Unmap()
	for _, x := range l {
		if x == a {
			return l
		}
	}
	return append(l, a)
}

func addPrefix(l []netip.Prefix, p netip.Prefix) []netip.Prefix {
	if !p.IsValid() {
		return l
	}
	p = p.Masked()
	for _, x := range l {
		if x == p {
			return l
		}
	}
	return append(l, p)
}
