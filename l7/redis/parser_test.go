package redis

import (
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// step is one step of a conversation: bytes in one direction.
type step = l7test.Chunk

type gotMsg struct {
	kind       l7.Kind
	cmd, res   string
	status     l7.Status
	exc        string
	streaming  bool
	noResponse bool
	length     int
}

// run feeds the steps to one parser, each split into pieces of at most
// piece bytes (0: whole), keeping unconsumed bytes as the engine does.
func run(t *testing.T, steps []step, piece int) (msgs []gotMsg, errs int) {
	t.Helper()
	stopped, errs := l7test.Feed(t, New(nil).NewParser(l7.TCP), steps, piece, func(m *l7.Message) {
		msgs = append(msgs, gotMsg{m.Kind, string(m.RequestType), string(m.RequestResource),
			m.Status, string(m.Exception), m.Streaming, m.NoResponse, m.Length})
	})
	if stopped {
		t.Fatal("l7.ErrStop from the Redis parser")
	}
	return msgs, errs
}

func cmd(s string) step   { return step{Dir: l7.ToServer, Data: s} }
func reply(s string) step { return step{Dir: l7.ToClient, Data: s} }

func TestParser_Parse(t *testing.T) {
	big := strings.Repeat("v", 70000)
	tests := []struct {
		name  string
		steps []step
		want  []gotMsg
		errs  int
	}{{
		name:  "set get pipelined",
		steps: []step{cmd("*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), reply("+OK\r\n$1\r\nv\r\n")},
		want: []gotMsg{
			{kind: l7.KindRequest, cmd: "SET", res: "set k v", length: 27},
			{kind: l7.KindRequest, cmd: "GET", res: "GET k", length: 20},
			{kind: l7.KindResponse, length: 5},
			{kind: l7.KindResponse, length: 7},
		},
	}, {
		name:  "errors",
		steps: []step{cmd("INCR s\r\n"), reply("-ERR value is not an integer or out of range\r\n!9\r\nSYNTAX xy\r\n")},
		want: []gotMsg{
			{kind: l7.KindRequest, cmd: "INCR", res: "INCR s", length: 8},
			{kind: l7.KindResponse, status: l7.StatusServerError, exc: "ERR value is not an integer or out of range", length: 46},
			{kind: l7.KindResponse, status: l7.StatusServerError, exc: "SYNTAX xy", length: 15},
		},
	}, {
		name: "resp3 types nested with attribute",
		steps: []step{reply("|1\r\n+ttl\r\n:3\r\n*3\r\n%1\r\n+a\r\n~2\r\n_\r\n#t\r\n,1.5\r\n>2\r\n(12345678901234567890\r\n=7\r\ntxt:abc\r\n"),
			reply(":1\r\n")},
		want: []gotMsg{{kind: l7.KindResponse, length: 83}, {kind: l7.KindResponse, length: 4}},
	}, {
		name:  "large bulk keeps a bounded prefix",
		steps: []step{cmd("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$70000\r\n" + big + "\r\n"), reply("+OK\r\n")},
		want: []gotMsg{
			{kind: l7.KindRequest, cmd: "SET", res: ("SET big " + big)[:256], length: 70032},
			{kind: l7.KindResponse, length: 5},
		},
	}, {
		name: "pubsub",
		steps: []step{cmd("*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n"),
			reply("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n" +
				"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n>3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nho\r\n")},
		want: []gotMsg{
			{kind: l7.KindRequest, cmd: "SUBSCRIBE", res: "SUBSCRIBE a b", length: 33},
			{kind: l7.KindResponse, length: 30},
			{kind: l7.KindResponse, streaming: true, length: 30},
			{kind: l7.KindResponse, streaming: true, length: 32},
			{kind: l7.KindResponse, streaming: true, length: 32},
		},
	}, {
		name:  "client reply off skip",
		steps: []step{cmd("CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nCLIENT REPLY SKIP\r\nPING\r\nPING\r\n")},
		want: []gotMsg{
			{kind: l7.KindRequest, cmd: "CLIENT", res: "CLIENT REPLY OFF", noResponse: true, length: 18},
			{kind: l7.KindRequest, cmd: "PING", res: "PING", noResponse: true, length: 6},
			{kind: l7.KindRequest, cmd: "CLIENT", res: "CLIENT REPLY ON", length: 17},
			{kind: l7.KindRequest, cmd: "CLIENT", res: "CLIENT REPLY SKIP", noResponse: true, length: 19},
			{kind: l7.KindRequest, cmd: "PING", res: "PING", noResponse: true, length: 6},
			{kind: l7.KindRequest, cmd: "PING", res: "PING", length: 6},
		},
	}, {
		name:  "null bulk and null array",
		steps: []step{reply("$-1\r\n*-1\r\n*0\r\n")},
		want:  []gotMsg{{kind: l7.KindResponse, length: 5}, {kind: l7.KindResponse, length: 5}, {kind: l7.KindResponse, length: 4}},
	}, {
		name:  "bad type resynchronises",
		steps: []step{reply("?what\r\n+OK\r\n")},
		want:  []gotMsg{{kind: l7.KindResponse, length: 5}},
		errs:  1,
	}, {
		name:  "bad length",
		steps: []step{cmd("*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n")},
		want:  []gotMsg{{kind: l7.KindRequest, cmd: "PING", res: "PING", length: 14}},
		errs:  1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, piece := range []int{0, 1, 5} {
				got, errs := run(t, tc.steps, piece)
				l7test.CompareMessages(t, "piece "+strconv.Itoa(piece), got, tc.want)
				if errs != tc.errs {
					t.Errorf("piece %d: %d errors, want %d", piece, errs, tc.errs)
				}
			}
		})
	}
}

func TestParser_GapInBulk(t *testing.T) {
	p := New(nil).NewParser(l7.TCP)
	var m l7.Message
	head := []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n0123456789")
	n, ok, err := p.Parse(head, l7.ToServer, &m)
	if ok || err != nil || n != len(head) {
		t.Fatalf("head: %d %v %v", n, ok, err)
	}
	p.Gap(l7.ToServer, 80)
	tail := []byte("0123456789\r\n")
	n, ok, err = p.Parse(tail, l7.ToServer, &m)
	if !ok || err != nil || n != len(tail) || string(m.RequestType) != "SET" || m.Length != len(head)+80+len(tail) {
		t.Fatalf("tail: %d %v %v %q %d", n, ok, err, m.RequestType, m.Length)
	}
	p.Gap(l7.ToServer, -1)
	junk := []byte("tail\r\n*1\r\n$4\r\nPING\r\n")
	n, ok, err = p.Parse(junk, l7.ToServer, &m)
	if ok || err != nil || n != 6 {
		t.Fatalf("resync: %d %v %v", n, ok, err)
	}
	if n, ok, _ = p.Parse(junk[n:], l7.ToServer, &m); !ok || string(m.RequestType) != "PING" {
		t.Fatalf("after resync: %d %v %q", n, ok, m.RequestType)
	}
	if st := p.(*Parser).Stats(); st.Skipped != 6 || st.Requests != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestDecoder_Check(t *testing.T) {
	d := New(nil)
	tests := []struct {
		in   string
		dir  l7.Direction
		want l7.Verdict
	}{
		{"*1\r\n$4\r\nPING\r\n", l7.ToServer, l7.Request},
		{"*2\r\n$3\r\nGET\r\n", l7.ToClient, l7.Response},
		{"PING\r\n", l7.ToServer, l7.WeakRequest},
		{"ping\r\n", l7.ToServer, l7.WeakRequest},
		{"get k\r\n", l7.ToServer, l7.WeakRequest},
		{"set k 0 0 5\r\nhello\r\n", l7.ToServer, l7.WeakRequest},
		{"VALUE k 0 5\r\nhello\r\nEND\r\n", l7.ToClient, l7.No},
		{"STORED\r\n", l7.ToClient, l7.No},
		{"+PONG\r\n", l7.ToClient, l7.Response},
		{"-ERR x\r\n", l7.ToClient, l7.Response},
		{"$5\r\nhello\r\n", l7.ToClient, l7.Response},
		{"GET / HTTP/1.1\r\n", l7.ToServer, l7.No},
		{"HTTP/1.1 200 OK\r\n", l7.ToClient, l7.No},
		{"*x\r\n", l7.ToServer, l7.No},
		{"+OK", l7.ToClient, l7.No},
	}
	for _, tc := range tests {
		if got := d.Check([]byte(tc.in), tc.dir, l7.TCP); got != tc.want {
			t.Errorf("Check(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
