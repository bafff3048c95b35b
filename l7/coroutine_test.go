package l7_test

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// TestConn_SetCallGoroutine checks that a record takes the goroutines of
// the calls of its request's and its response's first bytes
// (syscall_coroutine_0 / _1), as it takes their threads, and writes them
// in its JSON.
func TestConn_SetCallGoroutine(t *testing.T) {
	var got [][2]uint64
	var js []string
	reg, err := l7.NewRegistry(lineDecoder{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {
		got = append(got, [2]uint64{r.SyscallCoroutine0, r.SyscallCoroutine1})
		js = append(js, string(r.AppendJSON(nil)))
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP}, 0)
	c.SetCall(l7.ToServer, l7.CallMeta{TID: 11, TraceID: 101, Goroutine: 1001})
	c.Data(l7.ToServer, 1*ms, 0, []byte("GET a"))
	c.SetCall(l7.ToServer, l7.CallMeta{TID: 11, TraceID: 102, Goroutine: 1002})
	c.Data(l7.ToServer, 2*ms, 5, []byte("\n"))
	c.SetCall(l7.ToClient, l7.CallMeta{TID: 21, TraceID: 201, Goroutine: 2001})
	c.Data(l7.ToClient, 3*ms, 0, []byte("+A\n"))
	c.SetCall(l7.ToServer, l7.CallMeta{TID: 13, TraceID: 103}) // a thread, no goroutine
	c.Data(l7.ToServer, 4*ms, 6, []byte("GET c\n"))
	c.Close(5 * ms)
	want := [][2]uint64{{1001, 2001}, {0, 0}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("goroutines %v, want %v", got, want)
	}
	if !strings.Contains(js[0], `"syscall_coroutine_0":1001,"syscall_coroutine_1":2001`) || strings.Contains(js[1], "coroutine") {
		t.Errorf("JSON: %s\n%s", js[0], js[1])
	}
}
