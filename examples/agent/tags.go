package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/autotag/file"
	"github.com/metaflow-go/metaflow/autotag/procfs"
	"github.com/metaflow-go/metaflow/pipeline"
)

// tagsOptions are the flags of the AutoTagging stage.
type tagsOptions struct {
	file string
	proc bool
	vpc  int
}

// tagsFlags holds the flags of the last parse (registerTagsFlags resets
// them).
var tagsFlags tagsOptions

// registerTagsFlags adds -tags, -tags-proc and -vpc to fs.
func registerTagsFlags(fs *flag.FlagSet) {
	o := &tagsFlags
	*o = tagsOptions{}
	fs.StringVar(&o.file, "tags", "", "tag both sides of every record from a JSON tags `file` (autotag/file; reloaded when it changes)")
	fs.BoolVar(&o.proc, "tags-proc", false, "tag the flows of local processes from /proc (gprocess, container_id, and the pod through -tags)")
	fs.IntVar(&o.vpc, "vpc", 0, "the VPC `id` of the captured addresses, for -tags lookups")
}

// attachTags adds an autotag.Stage to cfg when -tags or -tags-proc is set.
// The sources are read once before it returns (a bad file is an error
// here), then kept up to date on a goroutine for the life of the process:
// the file is reloaded when it changes, /proc rescanned every 5 s.
func attachTags(cfg *pipeline.Config) error {
	o := tagsFlags
	if o.file == "" && !o.proc {
		return nil
	}
	tg := autotag.New()
	var srcs []autotag.Source
	if o.file != "" {
		// Load once here so that a bad file stops the agent with its line
		// and field; Run then watches it.
		if _, err := file.Load(o.file); err != nil {
			return fmt.Errorf("-tags: %w", err)
		}
		srcs = append(srcs, file.New(file.Config{Path: o.file, Interval: time.Second}))
	}
	if o.proc {
		srcs = append(srcs, procfs.New(procfs.Config{}))
	}
	// Wait for the first snapshot of every source, so the first records are
	// tagged.
	ready := make(chan error, len(srcs))
	go tg.Run(context.Background(), notifying(srcs, ready)...)
	for range srcs {
		select {
		case err := <-ready:
			if err != nil {
				return fmt.Errorf("-tags: %w", err)
			}
		case <-time.After(10 * time.Second):
			return fmt.Errorf("-tags: sources not read within 10s")
		}
	}
	cfg.Stages = append(cfg.Stages, tg.NewStage(autotag.StageConfig{VPC: int32(o.vpc)}))
	return nil
}

// notifying wraps sources so that each sends nil to ready after its first
// update, or its error if it fails before one.
func notifying(srcs []autotag.Source, ready chan<- error) []autotag.Source {
	out := make([]autotag.Source, len(srcs))
	for i, s := range srcs {
		out[i] = &firstUpdate{src: s, ready: ready}
	}
	return out
}

type firstUpdate struct {
	src   autotag.Source
	ready chan<- error
}

func (f *firstUpdate) Run(ctx context.Context, u autotag.Updater) error {
	s := &signalUpdater{u: u, ready: f.ready}
	err := f.src.Run(ctx, s)
	s.once.Do(func() { f.ready <- err })
	return err
}

type signalUpdater struct {
	u     autotag.Updater
	ready chan<- error
	once  sync.Once
}

func (s *signalUpdater) Update(e *autotag.Entries) {
	s.u.Update(e)
	s.once.Do(func() { s.ready <- nil })
}
