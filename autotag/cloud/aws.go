package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// AWS reads the EC2 instance metadata service with IMDSv2: a session token
// from PUT /latest/api/token, sent with every GET. When the token request
// is not supported (404, 405: IMDSv1 only) it reads without a token.
type AWS struct {
	// Endpoint is the service's base URL. Default http://169.254.169.254.
	Endpoint string
	// Client sends the requests. Default: no proxy, 1 s connect timeout.
	Client *http.Client
	// TokenTTL is the lifetime asked for the session token. Default 6 h,
	// the service's maximum.
	TokenTTL time.Duration
}

// Name returns "aws".
func (*AWS) Name() string { return "aws" }

// awsIdentity is the part of /latest/dynamic/instance-identity/document
// the source reads.
type awsIdentity struct {
	Region           string `json:"region"`
	AvailabilityZone string `json:"availabilityZone"`
	InstanceID       string `json:"instanceId"`
	PrivateIP        string `json:"privateIp"`
}

// parseAWSIdentity parses an instance identity document.
func parseAWSIdentity(b []byte) (*awsIdentity, error) {
	var id awsIdentity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, err
	}
	if id.InstanceID == "" || id.Region == "" {
		return nil, errors.New("identity document without instanceId or region")
	}
	return &id, nil
}

// lines splits a metadata listing: one value a line, directories with a
// trailing slash.
func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

type awsSession struct {
	p     *AWS
	c     *http.Client
	base  string
	token string
}

// get returns the body of path, ok=false on 404 (an absent optional key).
func (s *awsSession) get(ctx context.Context, path string) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return nil, false, err
	}
	if s.token != "" {
		req.Header.Set("X-aws-ec2-metadata-token", s.token)
	}
	code, _, b, err := do(s.c, req, "aws")
	switch {
	case err != nil:
		return nil, false, err
	case code == http.StatusNotFound:
		return nil, false, nil
	case code != http.StatusOK:
		return nil, false, &FetchError{Provider: "aws", Path: path, Status: code}
	}
	return b, true, nil
}

// Fetch reads the identity document, the hostname, every interface's VPC,
// subnet and addresses, and the instance tags when they are exposed.
func (p *AWS) Fetch(ctx context.Context) (*Metadata, error) {
	s := &awsSession{p: p, c: clientOr(p.Client), base: strings.TrimRight(p.Endpoint, "/")}
	if s.base == "" {
		s.base = "http://169.254.169.254"
	}
	ttl := p.TokenTTL
	if ttl <= 0 || ttl > 6*time.Hour {
		ttl = 6 * time.Hour
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.base+"/latest/api/token", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(int(ttl/time.Second)))
	code, _, b, err := do(s.c, req, "aws")
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusOK:
		s.token = strings.TrimSpace(string(b))
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		// IMDSv1 only: read without a token.
	default:
		return nil, &FetchError{Provider: "aws", Path: "/latest/api/token", Status: code}
	}

	const idPath = "/latest/dynamic/instance-identity/document"
	b, ok, err := s.get(ctx, idPath)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &FetchError{Provider: "aws", Path: idPath, Status: http.StatusNotFound}
	}
	id, err := parseAWSIdentity(b)
	if err != nil {
		return nil, &FetchError{Provider: "aws", Path: idPath, Err: err}
	}
	m := &Metadata{Provider: "aws", Region: id.Region, AZ: id.AvailabilityZone, InstanceID: id.InstanceID}
	if b, ok, err := s.get(ctx, "/latest/meta-data/local-hostname"); err != nil {
		return nil, err
	} else if ok {
		m.Hostname = strings.TrimSpace(string(b))
	}

	const macsPath = "/latest/meta-data/network/interfaces/macs/"
	var macs []string
	if b, ok, err := s.get(ctx, macsPath); err != nil {
		return nil, err
	} else if ok {
		for _, l := range lines(b) {
			macs = append(macs, strings.TrimSuffix(l, "/"))
		}
	}
	if len(macs) == 0 { // no listing: the primary interface only
		b, ok, err := s.get(ctx, "/latest/meta-data/mac")
		if err != nil {
			return nil, err
		}
		if ok {
			macs = lines(b)
		}
	}
	for _, mac := range macs {
		if strings.ContainsAny(mac, "/?#") {
			continue
		}
		ifc, err := s.iface(ctx, macsPath+mac+"/")
		if err != nil {
			return nil, err
		}
		ifc.MAC = mac
		m.Interfaces = append(m.Interfaces, ifc)
	}
	if len(m.Interfaces) == 0 && id.PrivateIP != "" {
		m.Interfaces = []Interface{{Addrs: addAddr(nil, id.PrivateIP)}}
	}
	m.Tags, err = s.tags(ctx)
	return m, err
}

func (s *awsSession) iface(ctx context.Context, dir string) (Interface, error) {
	var ifc Interface
	read := func(key string) ([]string, error) {
		b, _, err := s.get(ctx, dir+key)
		return lines(b), err
	}
	one := func(key string) (string, error) {
		l, err := read(key)
		if len(l) == 0 {
			return "", err
		}
		return l[0], err
	}
	var err error
	if ifc.VPC, err = one("vpc-id"); err != nil {
		return ifc, err
	}
	if ifc.Subnet, err = one("subnet-id"); err != nil {
		return ifc, err
	}
	for _, k := range []string{"local-ipv4s", "ipv6s", "public-ipv4s"} {
		l, err := read(k)
		if err != nil {
			return ifc, err
		}
		for _, a := range l {
			if k == "public-ipv4s" {
				ifc.Public = addAddr(ifc.Public, a)
			} else {
				ifc.Addrs = addAddr(ifc.Addrs, a)
			}
		}
	}
	for _, k := range []string{"subnet-ipv4-cidr-block", "subnet-ipv6-cidr-blocks", "vpc-ipv4-cidr-blocks", "vpc-ipv6-cidr-blocks"} {
		l, err := read(k)
		if err != nil {
			return ifc, err
		}
		for _, c := range l {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				continue
			}
			if strings.HasPrefix(k, "subnet") {
				ifc.Subnets = addPrefix(ifc.Subnets, p)
			} else {
				ifc.VPCs = addPrefix(ifc.VPCs, p)
			}
		}
	}
	return ifc, nil
}

// tags reads /latest/meta-data/tags/instance: absent (404) unless the
// instance allows tags in its metadata.
func (s *awsSession) tags(ctx context.Context) (map[string]string, error) {
	const dir = "/latest/meta-data/tags/instance/"
	b, ok, err := s.get(ctx, dir)
	if err != nil || !ok {
		return nil, err
	}
	var tags map[string]string
	for _, k := range lines(b) {
		if strings.ContainsAny(k, "/?#") {
			continue
		}
		v, ok, err := s.get(ctx, dir+k)
		if err != nil {
			return nil, err
		}
		if ok {
			if tags == nil {
				tags = map[string]string{}
			}
			tags[k] = string(v)
		}
	}
	return tags, nil
}
