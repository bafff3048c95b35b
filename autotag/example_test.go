package autotag_test

import (
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/flow"
)

// A source publishes its entries through an Updater; a Stage tags records
// from the Tagger's current snapshot, the process first, then the address.
func Example() {
	tg := autotag.New()
	u := tg.Updater("inventory") // a Source would call Update from its Run
	u.Update(&autotag.Entries{
		Addrs: []autotag.AddrEntry{
			{VPC: 1, Prefix: netip.MustParsePrefix("10.0.0.0/16"), Resource: autotag.Resource{Region: "eu-1", AZ: "eu-1a"}},
			{VPC: 1, Prefix: netip.MustParsePrefix("10.0.3.7/32"), Resource: autotag.Resource{Pod: "web-1", Service: "web"}},
		},
	})

	// Lookups: the longest prefix, completed by the prefixes around it.
	r := tg.Snapshot().Lookup(1, netip.MustParseAddr("10.0.3.7"))
	fmt.Println(r.Pod, r.Service, r.AZ)

	// The stage, as a pipeline runs it for every record.
	st := tg.NewStage(autotag.StageConfig{VPC: 1})
	rec := &flow.Record{IP0: netip.MustParseAddr("10.0.9.9"), IP1: netip.MustParseAddr("10.0.3.7"), Protocol: 6}
	st.ProcessL4(rec)
	fmt.Println(rec.Tags.Side(0))
	fmt.Println(rec.Tags.Side(1))
	// Output:
	// web-1 web eu-1a
	// [{region eu-1} {az eu-1a}]
	// [{region eu-1} {az eu-1a} {pod web-1} {service web}]
}
