package file

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metaflow-go/metaflow/autotag"
)

// Config configures a Source.
type Config struct {
	// Path is the file to read. Required.
	Path string
	// Interval is how often Run checks the file's size and modification
	// time. Default 1s; negative: never (Reload only).
	Interval time.Duration
}

// Source is an autotag.Source reading a file (see the package
// documentation for its format).
type Source struct {
	cfg Config

	mu   sync.Mutex // serialises loads
	u    autotag.Updater
	last fileStamp
	err  error

	loads, failures atomic.Uint64
}

// Stats counts a Source's loads.
type Stats struct {
	Loads    uint64 // successful loads published
	Failures uint64 // loads that failed (the last good entries stay)
	LastErr  error  // the last load's error, nil after a good load
}

type fileStamp struct {
	size int64
	mod  time.Time
}

// New returns a Source for cfg.
func New(cfg Config) *Source {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	return &Source{cfg: cfg}
}

// Run loads the file and publishes it through u, then reloads it whenever
// its size or modification time changes, until ctx is done, and returns
// ctx.Err(). It returns the first load's error at once (a missing or
// invalid file at start is a configuration error); later failures are
// counted and keep the last good entries.
func (s *Source) Run(ctx context.Context, u autotag.Updater) error {
	s.mu.Lock()
	s.u = u
	s.mu.Unlock()
	if err := s.Reload(); err != nil {
		return err
	}
	if s.cfg.Interval < 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			var now fileStamp
			if st, err := os.Stat(s.cfg.Path); err == nil {
				now = fileStamp{st.Size(), st.ModTime()}
			}
			s.mu.Lock()
			changed := now.size != s.last.size || !now.mod.Equal(s.last.mod)
			s.mu.Unlock()
			if changed {
				s.Reload()
			}
		}
	}
}

// Reload loads the file now and, when it parses and Run has started,
// publishes its entries. It returns the load's error (a *Error).
func (s *Source) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := os.Stat(s.cfg.Path)
	if err == nil {
		s.last = fileStamp{st.Size(), st.ModTime()}
	} else {
		s.last = fileStamp{}
	}
	e, err := Load(s.cfg.Path)
	s.err = err
	if err != nil {
		s.failures.Add(1)
		return err
	}
	if s.u != nil {
		s.u.Update(e)
	}
	s.loads.Add(1)
	return nil
}

// Stats returns the Source's counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	return Stats{Loads: s.loads.Load(), Failures: s.failures.Load(), LastErr: err}
}
