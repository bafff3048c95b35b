package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metaflow-go/metaflow/autotag"
)

// ErrRunTwice is returned by a second call of Source.Run.
var ErrRunTwice = errors.New("cloud: Run called twice")

// Config configures a Source. The zero value asks AWS, Google Cloud and
// Azure at their standard addresses.
type Config struct {
	// Providers are asked at once; the first in this order that answers
	// wins. Default: AWS, GCP, Azure with their default endpoints.
	Providers []Provider
	// Timeout bounds detection and each refresh. Default 2 s; at most 1 min.
	Timeout time.Duration
	// Refresh is how often the metadata is read again. Default 10 min;
	// at least 1 s.
	Refresh time.Duration
	// VPC is the VPC of the published prefixes (autotag.AddrEntry.VPC).
	// Default 0, the default VPC.
	VPC int32
	// Logger receives the source's rare notices. Default: discard.
	Logger *slog.Logger
}

// Stats are a Source's counters.
type Stats struct {
	Provider  string // the detected provider, "" before detection
	Fetches   uint64 // successful reads of the metadata
	Failures  uint64 // failed reads after detection
	Publishes uint64 // entry sets sent to the Updater
}

// Source publishes the local instance's cloud entries. Create it with New.
type Source struct {
	cfg Config
	log *slog.Logger
	ran atomic.Bool

	mu                           sync.Mutex
	provider                     string
	fetches, failures, publishes atomic.Uint64
}

// New checks cfg. It does not contact any service.
func New(cfg Config) (*Source, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	cfg.Timeout = min(cfg.Timeout, time.Minute)
	if cfg.Refresh <= 0 {
		cfg.Refresh = 10 * time.Minute
	}
	cfg.Refresh = max(cfg.Refresh, time.Second)
	if cfg.Providers == nil {
		cfg.Providers = []Provider{&AWS{}, &GCP{}, &Azure{}}
	}
	for i, p := range cfg.Providers {
		if p == nil {
			return nil, fmt.Errorf("cloud: provider %d is nil", i)
		}
	}
	if len(cfg.Providers) == 0 {
		return nil, errors.New("cloud: no providers")
	}
	s := &Source{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Stats returns the counters. Safe for concurrent use.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	p := s.provider
	s.mu.Unlock()
	return Stats{Provider: p, Fetches: s.fetches.Load(), Failures: s.failures.Load(), Publishes: s.publishes.Load()}
}

// Detect asks every provider at once, each bounded by timeout, and returns
// the first in order that answered with its metadata. When none answers it
// returns ErrNotDetected joined with each provider's error.
func Detect(ctx context.Context, providers []Provider, timeout time.Duration) (Provider, *Metadata, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		m   *Metadata
		err error
	}
	res := make([]result, len(providers))
	done := make([]chan struct{}, len(providers))
	for i, p := range providers {
		done[i] = make(chan struct{})
		go func() {
			defer close(done[i])
			m, err := p.Fetch(ctx)
			res[i] = result{m, err}
		}()
	}
	var errs []error
	for i, p := range providers {
		<-done[i] // in order: a later provider never beats an earlier one that answers
		if res[i].err == nil {
			return p, res[i].m, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", p.Name(), res[i].err))
	}
	return nil, nil, errors.Join(append([]error{ErrNotDetected}, errs...)...)
}

// Run detects the provider, publishes its entries, then reads the metadata
// again every Config.Refresh and publishes when it changed, until ctx is
// done; it returns ctx.Err() then. It returns an error matching
// ErrNotDetected when no provider answers, ErrRunTwice on a second call.
func (s *Source) Run(ctx context.Context, u autotag.Updater) error {
	if !s.ran.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	p, m, err := Detect(ctx, s.cfg.Providers, s.cfg.Timeout)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	s.mu.Lock()
	s.provider = p.Name()
	s.mu.Unlock()
	s.fetches.Add(1)
	u.Update(Entries(m, s.cfg.VPC))
	s.publishes.Add(1)

	t := time.NewTicker(s.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		fctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		n, err := p.Fetch(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.failures.Add(1)
			s.log.Warn("cloud metadata refresh failed", "provider", p.Name(), "err", err)
			continue
		}
		s.fetches.Add(1)
		if reflect.DeepEqual(n, m) {
			continue
		}
		m = n
		u.Update(Entries(m, s.cfg.VPC))
		s.publishes.Add(1)
	}
}

// Entries returns the entries of an instance's metadata in VPC vpc (see
// the package documentation). It never fails: invalid addresses were
// dropped when the metadata was read.
func Entries(m *Metadata, vpc int32) *autotag.Entries {
	e := &autotag.Entries{}
	if m == nil {
		return e
	}
	add := func(p netip.Prefix, r autotag.Resource) {
		for _, a := range e.Addrs {
			if a.Prefix == p {
				return // the first interface's view of a shared prefix wins
			}
		}
		e.Addrs = append(e.Addrs, autotag.AddrEntry{VPC: vpc, Prefix: p, Resource: r})
	}
	for _, ifc := range m.Interfaces {
		// A subnet as large as its VPC keeps the subnet's fuller view.
		for _, p := range ifc.Subnets {
			add(p, autotag.Resource{Region: m.Region, AZ: m.AZ, L3EPC: ifc.VPC, Subnet: ifc.Subnet})
		}
		for _, p := range ifc.VPCs {
			add(p, autotag.Resource{Region: m.Region, L3EPC: ifc.VPC})
		}
		host := autotag.Resource{
			Region: m.Region, AZ: m.AZ, CHost: m.InstanceID, Host: m.Hostname,
			L3EPC: ifc.VPC, Subnet: ifc.Subnet,
		}
		for _, a := range append(append([]netip.Addr(nil), ifc.Addrs...), ifc.Public...) {
			add(netip.PrefixFrom(a, a.BitLen()), host)
		}
	}
	if len(m.Tags) > 0 && m.InstanceID != "" {
		e.Labels = []autotag.LabelEntry{{Kind: "chost", Key: m.InstanceID, Labels: maps.Clone(m.Tags)}}
	}
	return e
}

var _ autotag.Source = (*Source)(nil)
