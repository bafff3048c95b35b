package autotag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrRunTwice is returned by a second call of Tagger.Run.
var ErrRunTwice = errors.New("autotag: Run called twice")

// Tagger merges the entries of its sources into snapshots. Sources are
// ordered by precedence: when two sources describe the same key (the same
// VPC and prefix, pod uid, container id or pid), each field comes from the
// first source, in Updater or Run order, that sets it. Across keys the
// lookup order is DeepFlow's: a record's process (pid, then its container,
// then its pod) first, then its (VPC, IP), each filling only the fields the
// previous left empty.
//
// The zero value is not usable; call New.
type Tagger struct {
	cur atomic.Pointer[Snapshot]

	mu      sync.Mutex // guards entries, names, gen and built
	entries []*Entries // per source, in precedence order
	names   []string
	gen     uint64 // bumped by every Update
	built   uint64 // the gen of the current snapshot

	buildMu sync.Mutex // one build at a time
	ran     atomic.Bool

	updates  atomic.Uint64
	skipped  atomic.Uint64
	failures atomic.Uint64
}

// Stats counts a Tagger's work.
type Stats struct {
	Sources  int    // registered sources
	Updates  uint64 // snapshots built
	Prefixes int    // distinct (VPC, prefix) entries in the current snapshot
	Skipped  uint64 // entries with an invalid key, over all updates
	Failures uint64 // sources whose Run returned an error other than cancellation
}

// New returns a Tagger with an empty snapshot and no sources.
func New() *Tagger {
	t := &Tagger{}
	t.cur.Store(build(nil))
	return t
}

// Snapshot returns the current snapshot: one atomic load.
func (t *Tagger) Snapshot() *Snapshot { return t.cur.Load() }

// Updater registers a source named name, after (below, in precedence) the
// sources registered before, and returns the Updater it publishes through.
func (t *Tagger) Updater(name string) Updater {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries = append(t.entries, nil)
	t.names = append(t.names, name)
	return &updater{t: t, i: len(t.entries) - 1}
}

type updater struct {
	t *Tagger
	i int
}

// Update stores e, then builds and publishes a snapshot unless one that
// already includes e was published while it waited for the build lock:
// updates that arrive during a build are coalesced into the next one.
func (u *updater) Update(e *Entries) {
	t := u.t
	t.mu.Lock()
	t.entries[u.i] = e
	t.gen++
	t.mu.Unlock()

	t.buildMu.Lock()
	defer t.buildMu.Unlock()
	t.mu.Lock()
	if t.built == t.gen {
		t.mu.Unlock()
		return
	}
	g := t.gen
	srcs := slices.Clone(t.entries)
	t.mu.Unlock()

	s := build(srcs)
	t.skipped.Add(s.skipped)
	t.updates.Add(1)
	t.cur.Store(s)
	t.mu.Lock()
	t.built = g
	t.mu.Unlock()
}

// Run registers the sources in order (the first takes precedence) and runs
// each on a goroutine of its own until ctx is done, then returns: nil when
// every source returned ctx's error, or the first other error, wrapped with
// the source's position. A source that fails keeps its last entries in the
// snapshot and the others keep running. Run may be called once.
func (t *Tagger) Run(ctx context.Context, srcs ...Source) error {
	if !t.ran.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	var wg sync.WaitGroup
	errs := make([]error, len(srcs))
	for i, src := range srcs {
		u := t.Updater(fmt.Sprintf("source %d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := src.Run(ctx, u)
			if err != nil && !errors.Is(err, ctx.Err()) {
				t.failures.Add(1)
				errs[i] = fmt.Errorf("autotag: source %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Stats returns the Tagger's counters.
func (t *Tagger) Stats() Stats {
	t.mu.Lock()
	n := len(t.entries)
	t.mu.Unlock()
	return Stats{
		Sources:  n,
		Updates:  t.updates.Load(),
		Prefixes: t.cur.Load().Prefixes(),
		Skipped:  t.skipped.Load(),
		Failures: t.failures.Load(),
	}
}
