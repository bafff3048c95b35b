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
// is nearly empty, so a profile written at the end shows little; instead
// the live heap (as of the last garbage collection, which is also what a
// heap profile shows) is checked every interval, and the profile is
// rewritten each time it has grown by a tenth past the last one written.
// No collection is forced, so the profile shows the largest live heap a
// collection measured, which can be below the true peak (the collector
// runs when the heap has doubled).
type heapPeak struct {
	path   string
	sample [1]metrics.Sample
	wrote  uint64 // live heap bytes when the profile was last written
	err    error  // first error writing the profile

	stop chan struct{}
	wg   sync.WaitGroup
}

// startHeapPeak checks the heap every interval until finish.
func startHeapPeak(path string, interval time.Duration) *heapPeak {
	h := &heapPeak{path: path, stop: make(chan struct{})}
	h.sample[0].Name = "/gc/heap/live:bytes"
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

// check writes the profile if the live heap has grown by a tenth since
// the last one written.
func (h *heapPeak) check() {
	metrics.Read(h.sample[:])
	if h.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := h.sample[0].Value.Uint64()
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
	close(h.stop)
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
