package http1_test

import (
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http1"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// TestCutAndGaps: messages cut by the end of the input or by holes give
// the records a user expects (the record contract): a request whose body
// is cut is emitted at its head; a head cut by the end is parsed as far as
// it goes; after a hole ending on a message boundary the next request is
// found; a request cut by a hole still pairs with its own response.
func TestCutAndGaps(t *testing.T) {
	reg, err := l7.NewRegistry(http1.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	cli := netip.MustParseAddrPort("10.0.0.1:40000")
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	conv := func() *l7test.Conversation { return l7test.NewConversation(cli, srv, l7.TCP) }
	ok := func(code int) []byte {
		return []byte("HTTP/1.1 " + strconv.Itoa(code) + " OK\r\nContent-Length: 0\r\n\r\n")
	}
	get := func(path string) []byte { return []byte("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n") }
	for _, tc := range []struct {
		name string
		c    *l7test.Conversation
		want []string // request|code|status
	}{
		{"body cut by the end", conv().Request([]byte("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n0123456789")).NoClose(),
			[]string{"POST /up||Unknown"}},
		{"response before the body", conv().Request([]byte("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n0123456789")).Response([]byte("HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n")),
			[]string{"POST /up|413|ClientError"}},
		{"response head cut by the end", conv().Request(get("/x")).Response([]byte("HTTP/1.0 200 OK\r\nContent-Ty")).NoClose(),
			[]string{"GET /x|200|Ok"}},
		{"request head cut by the end", conv().Request([]byte("GET /x HTTP/1.1\r\nHo")).NoClose(),
			[]string{"GET /x||Unknown"}},
		{"hole on a message boundary", conv().Request(get("/1")).Response(ok(200)).Gap(l7.ToServer, len(get("/2"))).Response(ok(201)).Request(get("/3")).Response(ok(203)),
			[]string{"GET /1|200|Ok", "|201|Ok", "GET /3|203|Ok"}},
		{"hole inside a request", conv().Request(get("/1")).Response(ok(200)).Request([]byte("GET /2 HTTP/1.1\r\n")).Gap(l7.ToServer, 9).Request([]byte("\r\n")).Response(ok(202)).Request(get("/3")).Response(ok(203)),
			[]string{"GET /1|200|Ok", "GET /2|202|Ok", "GET /3|203|Ok"}},
		{"response lost in a hole", conv().Request(get("/1")).Response(ok(200)).Request(get("/2")).Gap(l7.ToClient, len(ok(201))).Request(get("/3")).Response(ok(203)),
			[]string{"GET /1|200|Ok", "GET /2||Unknown", "GET /3|203|Ok"}},
		{"request lost in a hole", conv().Request(get("/1")).Response(ok(200)).Gap(l7.ToServer, len(get("/2"))).Response(ok(202)).Request(get("/3")).Response(ok(203)),
			[]string{"GET /1|200|Ok", "|202|Ok", "GET /3|203|Ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := l7test.RunConversation(t, tc.c, l7.Config{Registry: reg})
			var got []string
			for _, r := range res.Records {
				code := ""
				if r.HasResponseCode {
					code = strconv.Itoa(int(r.ResponseCode))
				}
				got = append(got, string(r.RequestType)+" "+string(r.RequestResource)+"|"+code+"|"+r.Status.String())
			}
			for i := range got {
				if got[i][0] == ' ' {
					got[i] = got[i][1:]
				}
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

func TestEndpointSegments(t *testing.T) {
	for _, tc := range []struct {
		segs       int
		path, want string
	}{
		{0, "/api/v1/users/42?x=1", "/api/v1/users/42"},
		{2, "/api/v1/users/42?x=1", "/api/v1"},
		{2, "/api", "/api"},
		{1, "/api/v1/", "/api"},
		{3, "/a/b/", "/a/b/"},
	} {
		reg, err := l7.NewRegistry(http1.New(&http1.Config{EndpointSegments: tc.segs}))
		if err != nil {
			t.Fatal(err)
		}
		c := l7test.NewConversation(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), l7.TCP).
			Request([]byte("GET " + tc.path + " HTTP/1.1\r\nHost: a\r\n\r\n")).Response([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
		res := l7test.RunConversation(t, c, l7.Config{Registry: reg})
		if len(res.Records) != 1 || string(res.Records[0].Endpoint) != tc.want {
			t.Errorf("EndpointSegments %d, %s: records %d, endpoint %q; want %q", tc.segs, tc.path, len(res.Records), res.Records[0].Endpoint, tc.want)
		}
	}
}
