package l7_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// The example decoder passes the checks of the decoder kit.
func TestExampleDecoder_Contract(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:7000")
	d := newExampleDecoder(nil)
	l7test.CheckContract(t, d,
		l7test.NewConversation(cli, srv, l7.TCP).
			Request([]byte("GET alpha\nGET beta\n")).
			Response([]byte("+1\n-NOTFOUND beta\n")).
			Request([]byte("@7 SET gamma 3\n@8 DEL delta\n")).
			Response([]byte("@8 +0\n>news\n@7 -ERR read only\n")).
			Wait(time.Second).
			Request([]byte("QUIT\n")),
		l7test.NewConversation(cli, srv, l7.TCP).
			Request([]byte("GET a\n")).
			Gap(l7.ToClient, 4).
			Response([]byte("ost\n+a\n")).
			Request([]byte("\nGET b\n")).
			Response([]byte("+b\n")),
	)
	l7test.CheckZeroAlloc(t, d,
		l7test.Case{Name: "request", In: []byte("@12 GET alpha\n"), Dir: l7.ToServer},
		l7test.Case{Name: "response", In: []byte("-NOTFOUND beta\n"), Dir: l7.ToClient},
	)
}
