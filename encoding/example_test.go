package encoding_test

import (
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/tag"
)

// An agent sends a batch; the server decodes it, assigns ids to the tag
// values it has not seen and acknowledges with a delta; the agent's next
// batch carries ids.
func Example() {
	server := encoding.NewDictionary(nil)
	agent := encoding.NewAgentDict()
	enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent})

	r := &flow.Record{FlowID: 1, IP0: netip.MustParseAddr("10.0.0.1"), IP1: netip.MustParseAddr("10.0.0.2"),
		ClientPort: 40000, ServerPort: 80, Protocol: 6, PacketTx: 5, PacketRx: 4}
	r.Tags.Add(tag.Client, "pod", "web-7d9f")
	r.Tags.Add(tag.Server, "service", "api")

	for round := 1; round <= 2; round++ {
		enc.AddL4(r)
		frame, _ := enc.AppendFrame(nil)

		// Server side.
		b, err := encoding.Decode(frame)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := server.Resolve(b); err != nil {
			fmt.Println(err)
			return
		}
		var got flow.Record
		b.Tables[len(b.Tables)-1].L4(0, server, &got)
		pod, _ := got.Tags.Get(tag.Client, "pod")
		fmt.Printf("round %d: ids of epoch %v, pod_id_0 %d = %s\n", round, b.Epoch == server.Epoch(),
			b.Tables[len(b.Tables)-1].Column("pod_id_0").IDs[0], pod)
		ack := server.Sync(b.Epoch, b.DictVersion)

		// Agent side.
		if err := agent.Apply(ack); err != nil {
			fmt.Println(err)
			return
		}
	}
	st := enc.Stats()
	fmt.Printf("tags sent as strings %d, as ids %d\n", st.TagInline, st.TagIDs)
	// Output:
	// round 1: ids of epoch false, pod_id_0 1 = web-7d9f
	// round 2: ids of epoch true, pod_id_0 1 = web-7d9f
	// tags sent as strings 2, as ids 2
}
