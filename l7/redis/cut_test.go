package redis_test

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
	"github.com/metaflow-go/metaflow/l7/redis"
)

// TestCutAndGaps: holes in the stream give the records of the contract
// (RECORDS.md): after a hole ending on a message boundary the next
// command or reply is found; a command cut by a hole is dropped and its
// reply comes out alone, not paired with the next command; a reply lost
// in a hole leaves its command unanswered; every complete exchange after a
// hole is paired with its own reply; a value cut short by the end of the
// capture, or a reply whose type line a hole cut, still makes its message
// from what was read.
func TestCutAndGaps(t *testing.T) {
	reg, err := l7.NewRegistry(redis.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	cli := netip.MustParseAddrPort("10.0.0.1:40000")
	srv := netip.MustParseAddrPort("10.0.0.2:6379")
	conv := func() *l7test.Conversation { return l7test.NewConversation(cli, srv, l7.TCP) }
	get := func(k string) []byte {
		return []byte("*2\r\n$3\r\nGET\r\n$" + strconv.Itoa(len(k)) + "\r\n" + k + "\r\n")
	}
	val := func(v string) []byte { return []byte("$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n") }
	for _, tc := range []struct {
		name string
		c    *l7test.Conversation
		want []string // request resource|status|result
	}{
		{"hole on a command boundary", conv().Request(get("k1")).Response(val("v1")).Gap(l7.ToServer, len(get("k2"))).Response(val("v2")).Request(get("k3")).Response(val("v3")),
			[]string{"GET k1|Ok", "|Ok", "GET k3|Ok"}},
		{"hole inside a command", conv().Request(get("k1")).Response(val("v1")).Request(get("k2")[:9]).Gap(l7.ToServer, 5).Request(get("k2")[14:]).Response(val("v2")).Request(get("k3")).Response(val("v3")),
			[]string{"GET k1|Ok", "|Ok", "GET k3|Ok"}},
		{"reply lost in a hole", conv().Request(get("k1")).Response(val("v1")).Request(get("k2")).Gap(l7.ToClient, len(val("v2"))).Request(get("k3")).Response(val("v3")),
			[]string{"GET k1|Ok", "GET k2|Unknown", "GET k3|Ok"}},
		{"hole inside a reply", conv().Request(get("k1")).Response(val("v1")).Request(get("k2")).Response([]byte("$10\r\n01")).Gap(l7.ToClient, 5).Response([]byte("789\r\n")).Request(get("k3")).Response(val("v3")),
			[]string{"GET k1|Ok", "GET k2|Ok", "GET k3|Ok"}},
		{"hole on a reply boundary after an array", conv().Request(get("k1")).Response([]byte("*2\r\n$1\r\na\r\n$1\r\nb\r\n")).Request(get("k2")).Gap(l7.ToClient, len(val("v2"))).Request(get("k3")).Response(val("v3")),
			[]string{"GET k1|Ok", "GET k2|Unknown", "GET k3|Ok"}},
		// The cut error line still says the reply was an error (Flush).
		{"hole cutting a reply line", conv().Request(get("k1")).Response(val("v1")).Request(get("k2")).Response([]byte("-ERR wr")).Gap(l7.ToClient, 3).Response([]byte("ng\r\n")).Request(get("k3")).Response(val("v3")),
			[]string{"GET k1|Ok", "GET k2|ServerError", "GET k3|Ok"}},
		// The capture ends inside a large reply, or inside its type line:
		// the reply is still there, Ok, and the command paired with it.
		{"capture ends inside a reply", conv().Request(get("k1")).Response(val("v1")).Request(get("big")).Response([]byte("$50000\r\n" + strings.Repeat("x", 3000))).NoClose(),
			[]string{"GET k1|Ok", "GET big|Ok"}},
		{"capture ends inside a reply's type line", conv().Request(get("k1")).Response(val("v1")).Request(get("big")).Response([]byte("$500")).NoClose(),
			[]string{"GET k1|Ok", "GET big|Ok"}},
		// The capture ends inside a command: what was read of it is kept.
		{"capture ends inside a command", conv().Request(get("k1")).Response(val("v1")).Request([]byte("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$9000\r\nvvvv")).NoClose(),
			[]string{"GET k1|Ok", "SET key vvvv|Unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := l7test.RunConversation(t, tc.c, l7.Config{Registry: reg})
			var got []string
			for _, r := range res.Records {
				got = append(got, strings.TrimSpace(string(r.RequestResource))+"|"+r.Status.String())
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("records\n got %q\nwant %q", got, want)
			}
		})
	}
}
