package l7_test

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// TestConn_SetCall checks that a record takes the call of its request's
// first byte and of its response's first byte, also when a message spans
// chunks of different calls, when the message started in bytes held
// before inference, and for a request emitted alone at Close.
func TestConn_SetCall(t *testing.T) {
	type ids struct {
		thr0, thr1 uint32
		req, resp  uint64
	}
	var got []ids
	reg, err := l7.NewRegistry(lineDecoder{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {
		got = append(got, ids{r.SyscallThread0, r.SyscallThread1, r.SyscallTraceIDRequest, r.SyscallTraceIDResponse})
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP}, 0)
	// A request cut across two calls: the first call's ids win.
	c.SetCall(l7.ToServer, l7.CallMeta{TID: 11, TraceID: 101})
	c.Data(l7.ToServer, 1*ms, 0, []byte("GET a"))
	c.SetCall(l7.ToServer, l7.CallMeta{TID: 12, TraceID: 102})
	c.Data(l7.ToServer, 2*ms, 5, []byte("\nGET b\n"))
	c.SetCall(l7.ToClient, l7.CallMeta{TID: 21, TraceID: 201})
	c.Data(l7.ToClient, 3*ms, 0, []byte("+A\n+"))
	c.SetCall(l7.ToClient, l7.CallMeta{TID: 22, TraceID: 202})
	c.Data(l7.ToClient, 4*ms, 4, []byte("B\n"))
	// A request never answered: its call, no response's.
	c.SetCall(l7.ToServer, l7.CallMeta{TID: 13, TraceID: 103})
	c.Data(l7.ToServer, 5*ms, 12, []byte("GET c\n"))
	c.Close(6 * ms)
	want := []ids{{11, 21, 101, 201}, {12, 21, 102, 201}, {13, 0, 103, 0}}
	if len(got) != len(want) {
		t.Fatalf("got %d records %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	// Bytes held before inference (a request line the decoder does not
	// recognise until the response shows the protocol) keep their call.
	got = nil
	c = eng.Open(l7.ConnInfo{ID: 2, Client: cli, Server: srv, Transport: l7.TCP}, 10*ms)
	c.SetCall(l7.ToServer, l7.CallMeta{TID: 31, TraceID: 301})
	c.Data(l7.ToServer, 10*ms, 0, []byte("get x\n"))
	c.SetCall(l7.ToServer, l7.CallMeta{TID: 32, TraceID: 302})
	c.SetCall(l7.ToClient, l7.CallMeta{TID: 41, TraceID: 401})
	c.Data(l7.ToClient, 11*ms, 0, []byte("+X\n"))
	c.Close(12 * ms)
	if len(got) != 1 || got[0].req != 301 || got[0].resp != 401 {
		t.Errorf("held request: %+v, want request call 301, response 401", got)
	}
}

// TestConnInfo_TLS checks that a connection opened as TLS plaintext marks
// its records is_tls, and that the flag does not outlive it.
func TestConnInfo_TLS(t *testing.T) {
	var tls []bool
	reg, err := l7.NewRegistry(lineDecoder{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) { tls = append(tls, r.IsTLS) }})
	if err != nil {
		t.Fatal(err)
	}
	for i, on := range []bool{true, false} {
		c := eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP, TLS: on}, int64(i)*ms)
		c.Data(l7.ToServer, int64(i)*ms, 0, []byte("GET a\n"))
		c.Data(l7.ToClient, int64(i)*ms, 0, []byte("+A\n"))
		c.Close(int64(i) * ms)
	}
	if len(tls) != 2 || !tls[0] || tls[1] {
		t.Errorf("is_tls of the records: %v, want [true false]", tls)
	}
}

// TestRecord_AppendJSONEBPF checks the eBPF keys: present when set, in the
// record contract's names, and absent from packet records.
func TestRecord_AppendJSONEBPF(t *testing.T) {
	r := l7.Record{L7Protocol: "Redis", Transport: l7.TCP, Client: cli, Server: srv, HasRequest: true,
		ProcessID0: 4242, ProcessKName0: []byte("redis-cli"), SyscallThread0: 4243,
		SyscallTraceIDRequest: 7, SyscallTraceIDResponse: 8, SyscallThread1: 4244}
	js := string(r.AppendJSON(nil))
	for _, want := range []string{`"process_id_0":4242`, `"process_kname_0":"redis-cli"`, `"syscall_thread_0":4243`,
		`"syscall_thread_1":4244`, `"syscall_trace_id_request":7`, `"syscall_trace_id_response":8`} {
		if !strings.Contains(js, want) {
			t.Errorf("JSON lacks %s: %s", want, js)
		}
	}
	for _, absent := range []string{"process_id_1", "process_kname_1"} {
		if strings.Contains(js, absent) {
			t.Errorf("JSON has unset %s: %s", absent, js)
		}
	}
	if txt := string(r.AppendText(nil)); !strings.HasSuffix(txt, " [redis-cli/4242 > -]") {
		t.Errorf("text %q lacks the process suffix", txt)
	}
	var p l7.Record
	if js := string(p.AppendJSON(nil)); strings.Contains(js, "process") || strings.Contains(js, "syscall") {
		t.Errorf("packet record has eBPF keys: %s", js)
	}
	c := r.Clone()
	r.ProcessKName0[0] = 'X'
	if string(c.ProcessKName0) != "redis-cli" {
		t.Errorf("clone shares process_kname_0: %q", c.ProcessKName0)
	}
}
