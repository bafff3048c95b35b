package procfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metaflow-go/metaflow/autotag"
)

// Config configures a Source. The zero value reads /proc every 5 s.
type Config struct {
	// Root is the proc file system. Default "/proc".
	Root string
	// Interval is the time between scans. Default 5s.
	Interval time.Duration
	// NoSockets skips the socket tables and file descriptors: only
	// processes are published. Default false.
	NoSockets bool
}

// Source is an autotag.Source of the local processes and their sockets.
type Source struct {
	cfg Config

	mu sync.Mutex // serialises scans

	scans, vanished, badTables atomic.Uint64
	procs, sockets             atomic.Int64
}

// Stats counts a Source's work.
type Stats struct {
	Scans     uint64 // complete scans
	Vanished  uint64 // processes that exited (or could not be read) during a scan
	BadTables uint64 // socket tables that did not parse
	Processes int64  // processes in the last scan
	Sockets   int64  // sockets joined to a process in the last scan
}

// New returns a Source for cfg.
func New(cfg Config) *Source {
	if cfg.Root == "" {
		cfg.Root = "/proc"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	return &Source{cfg: cfg}
}

// Run scans and publishes, then scans again every Config.Interval until
// ctx is done, and returns ctx.Err(). It returns at once with the first
// scan's error (no proc file system); a later failed scan keeps the last
// entries published.
func (s *Source) Run(ctx context.Context, u autotag.Updater) error {
	e, err := s.Scan()
	if err != nil {
		return err
	}
	u.Update(e)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if e, err := s.Scan(); err == nil {
				u.Update(e)
			}
		}
	}
}

// Scan reads every process once and returns its entries: a ProcessEntry
// per process (GProcess its comm, ContainerID and PodUID from its cgroup)
// and, unless Config.NoSockets, a SocketEntry per TCP and UDP socket an
// open file of a process refers to (the lowest pid, when processes share
// it).
func (s *Source) Scan() (*autotag.Entries, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, err := os.ReadDir(s.cfg.Root)
	if err != nil {
		return nil, err
	}
	e := &autotag.Entries{}
	inodes := map[uint64]uint32{} // socket inode -> lowest pid
	netns := map[string]uint32{}  // network namespace -> a pid in it
	var nsOrder []string
	for _, d := range dir {
		pid64, err := strconv.ParseUint(d.Name(), 10, 32)
		if err != nil || pid64 == 0 {
			continue
		}
		pid := uint32(pid64)
		base := filepath.Join(s.cfg.Root, d.Name())
		comm, err := os.ReadFile(filepath.Join(base, "comm"))
		if err != nil {
			s.vanished.Add(1)
			continue
		}
		var r autotag.Resource
		r.GProcess = string(bytes.TrimRight(comm, "\n"))
		if cg, err := os.ReadFile(filepath.Join(base, "cgroup")); err == nil {
			r.ContainerID, r.PodUID = ParseCgroup(cg)
		}
		e.Processes = append(e.Processes, autotag.ProcessEntry{PID: pid, Resource: r})
		if s.cfg.NoSockets {
			continue
		}
		if ns, err := os.Readlink(filepath.Join(base, "ns", "net")); err == nil {
			if _, ok := netns[ns]; !ok {
				netns[ns] = pid
				nsOrder = append(nsOrder, ns)
			}
		}
		fds, err := os.ReadDir(filepath.Join(base, "fd"))
		if err != nil {
			continue // another user's process, or gone
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(base, "fd", fd.Name()))
			if err != nil {
				continue
			}
			in, ok := strings.CutPrefix(l, "socket:[")
			if !ok || !strings.HasSuffix(in, "]") {
				continue
			}
			ino, err := strconv.ParseUint(in[:len(in)-1], 10, 64)
			if err != nil {
				continue
			}
			if p, ok := inodes[ino]; !ok || pid < p {
				inodes[ino] = pid
			}
		}
	}
	if !s.cfg.NoSockets {
		if len(netns) == 0 {
			// No namespace links (an old kernel, a recorded tree): the
			// root's own tables.
			nsOrder = append(nsOrder, "")
		}
		for _, ns := range nsOrder {
			dir := filepath.Join(s.cfg.Root, "net")
			if ns != "" {
				dir = filepath.Join(s.cfg.Root, strconv.FormatUint(uint64(netns[ns]), 10), "net")
			}
			for _, t := range [...]struct {
				name  string
				proto uint8
			}{{"tcp", 6}, {"tcp6", 6}, {"udp", 17}, {"udp6", 17}} {
				data, err := os.ReadFile(filepath.Join(dir, t.name))
				if err != nil {
					continue // no IPv6, or the process is gone
				}
				err = ParseNet(data, func(k Socket) {
					if pid, ok := inodes[k.Inode]; ok && k.Inode != 0 {
						e.Sockets = append(e.Sockets, autotag.SocketEntry{Proto: t.proto, Local: k.Local, PID: pid})
					}
				})
				if err != nil {
					s.badTables.Add(1)
				}
			}
		}
	}
	s.scans.Add(1)
	s.procs.Store(int64(len(e.Processes)))
	s.sockets.Store(int64(len(e.Sockets)))
	return e, nil
}

// Stats returns the Source's counters.
func (s *Source) Stats() Stats {
	return Stats{
		Scans: s.scans.Load(), Vanished: s.vanished.Load(), BadTables: s.badTables.Load(),
		Processes: s.procs.Load(), Sockets: s.sockets.Load(),
	}
}
