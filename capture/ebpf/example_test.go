package ebpf_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/ebpf"
	"github.com/metaflow-go/metaflow/capture/socket"
)

// Trace what one process reads and writes on its sockets.
func ExampleNew() {
	tr, err := ebpf.New(ebpf.Config{Pids: []uint32{1234}, PayloadSize: 1024})
	if errors.Is(err, capture.ErrNotSupported) {
		log.Printf("no eBPF socket tracing here: %v", err)
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	var e socket.Event
	for tr.ReadEvent(&e) == nil { // io.EOF after Close
		if e.Kind == socket.KindData {
			fmt.Printf("%s %v->%v dir %d: %d bytes, %q\n", e.CommString(), e.Local, e.Remote, e.Direction, e.Length, e.Payload)
		}
	}
	fmt.Printf("%+v\n", tr.Stats())
}

// Keep the syscall trace id of a Go service per goroutine: the outbound
// calls a request's handler makes, from its goroutine or from goroutines it
// starts, carry the id its request read started.
func ExampleGoroutineConfig() {
	tr, err := ebpf.New(ebpf.Config{
		Pids:       []uint32{1234},
		Goroutines: ebpf.GoroutineConfig{Binaries: []string{"/proc/1234/exe"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	var e socket.Event
	for tr.ReadEvent(&e) == nil {
		if e.Kind == socket.KindData {
			fmt.Printf("goroutine %d trace %x dir %d %v->%v\n", e.Goroutine, e.SyscallTraceID, e.Direction, e.Local, e.Remote)
		}
	}
	fmt.Printf("%+v\n", tr.GoroutineStats())
}
