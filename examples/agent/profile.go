package main

import (
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"
)

// heapPeak keeps the heap profile of -memprofile at the live heap's peak.
// Once a run's input ends, every flow and request is flushed and the heap
// is nearly empty, so a profile written at the end shows little. The
// collector alone does not find the peak either: it runs when the heap has
// doubled, and a heap profile shows the objects as of an earlier
// collection. So the heap (live and not yet collected objects) is read
// every interval; each time it has grown by a tenth past the live heap of
// the last profile, a collection is forced and, if the live heap it
// measures is still a tenth larger, the profile is rewritten. The forced
// collections cost CPU (a few tens of them for a heap that grows from
// nothing to its peak): use -memprofile and -cpuprofile in separate runs.
type heapPeak struct {
	path   string
	sample [2]metrics.Sample // heap objects, live heap
	wrote  uint64            // live heap bytes when the profile was last written
	err    error             // first error writing the profile

	stop chan struct{}
	wg   sync.WaitGroup
}

// startHeapPeak checks the heap every interval until finish.
func startHeapPeak(path string, interval time.Duration) *heapPeak {
	h := newHeapPeak(path)
	h.stop = make(chan struct{})
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.check()
			}
		}
	}()
	return h
}

func newHeapPeak(path string) *heapPeak {
	h := &heapPeak{path: path}
	h.sample[0].Name = "/memory/classes/heap/objects:bytes"
	h.sample[1].Name = "/gc/heap/live:bytes"
	return h
}

// read returns the bytes of heap objects and of the live heap as of the
// last collection.
func (h *heapPeak) read() (objects, live uint64) {
	metrics.Read(h.sample[:])
	if h.sample[0].Value.Kind() == metrics.KindUint64 {
		objects = h.sample[0].Value.Uint64()
	}
	if h.sample[1].Value.Kind() == metrics.KindUint64 {
		live = h.sample[1].Value.Uint64()
	}
	return objects, live
}

// check writes the profile if the live heap has grown by a tenth since
// the last one written.
func (h *heapPeak) check() {
	if objects, _ := h.read(); h.wrote > 0 && objects < h.wrote+h.wrote/10 {
		return
	}
	runtime.GC()
	_, live := h.read()
	if h.wrote > 0 && live < h.wrote+h.wrote/10 {
		return
	}
	if err := writeHeapProfile(h.path, false); err != nil {
		if h.err == nil {
			h.err = err
		}
		return
	}
	h.wrote = live
}

// finish stops the checks; a run too short to have written a profile
// writes one now.
func (h *heapPeak) finish() error {
	if h.stop != nil {
		close(h.stop)
	}
	h.wg.Wait()
	if h.wrote == 0 && h.err == nil {
		return writeHeapProfile(h.path, true)
	}
	return h.err
}

// writeHeapProfile writes the heap profile to path, after a garbage
// collection when gc is set (the profile shows the heap as of the last
// one).
func writeHeapProfile(path string, gc bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if gc {
		runtime.GC()
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
