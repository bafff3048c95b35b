package mqtt

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

var benchCases = []l7test.Case{
	{Name: "publish_qos1", In: publish(false, 1, 42, "sensors/room-12/temperature", `{"t":21.5,"unit":"C"}`), Dir: l7.ToServer},
	{Name: "publish_qos0_to_client", In: publish(false, 0, 0, "sensors/room-12/temperature", `{"t":21.5,"unit":"C"}`), Dir: l7.ToClient},
	{Name: "publish_v5_traceparent", In: cat(connect(level5, "bench"), publish(true, 1, 42, "sensors/room-12/temperature", `{"t":21.5}`,
		topicAlias(2), propStr(0x03, "application/json"), userProp("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))), Dir: l7.ToServer},
	{Name: "publish_64KiB", In: publish(false, 1, 7, "files/blob", strings.Repeat("x", 64<<10)), Dir: l7.ToServer},
	{Name: "puback", In: ack(tPuback, 42), Dir: l7.ToClient},
	{Name: "connect", In: connect(level311, "client-0123456789"), Dir: l7.ToServer},
	{Name: "subscribe", In: subscribe(false, 3, "sensors/+/temperature", "alerts/#"), Dir: l7.ToServer},
	{Name: "suback", In: suback(false, 3, 1, 0x80), Dir: l7.ToClient},
	{Name: "pingreq", In: pingreq, Dir: l7.ToServer},
	{Name: "check_http", In: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Dir: l7.ToServer, CheckOnly: true},
}

// TestZeroAlloc checks that Check and Parse on a warm parser do not
// allocate.
func TestZeroAlloc(t *testing.T) {
	l7test.CheckZeroAlloc(t, New(nil), benchCases...)
}

// BenchmarkParse measures decoding, PUBLISH above all.
func BenchmarkParse(b *testing.B) {
	l7test.BenchmarkParse(b, New(nil), benchCases)
}

// BenchmarkCheck measures inference on a PUBLISH and on bytes of another
// protocol.
func BenchmarkCheck(b *testing.B) {
	d := New(nil)
	for _, c := range []l7test.Case{benchCases[0], benchCases[len(benchCases)-1]} {
		b.Run(c.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.In)))
			for b.Loop() {
				d.Check(c.In, c.Dir, l7.TCP)
			}
		})
	}
}
