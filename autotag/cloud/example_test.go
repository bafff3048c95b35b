package cloud_test

import (
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/autotag/cloud"
)

// Entries turns an instance's metadata into the autotag entries the Source
// publishes; a Tagger merges them into lookups.
func ExampleEntries() {
	m := &cloud.Metadata{
		Provider: "aws", Region: "eu-west-1", AZ: "eu-west-1a",
		InstanceID: "i-0abc", Hostname: "ip-10-0-1-10.eu-west-1.compute.internal",
		Interfaces: []cloud.Interface{{
			VPC: "vpc-1", Subnet: "subnet-1",
			Addrs:   []netip.Addr{netip.MustParseAddr("10.0.1.10")},
			Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24")},
			VPCs:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
		}},
	}
	tg := autotag.New()
	tg.Updater("cloud").Update(cloud.Entries(m, 0))
	for _, a := range []string{"10.0.1.10", "10.0.1.99", "10.0.7.1"} {
		r := tg.Snapshot().Lookup(0, netip.MustParseAddr(a))
		fmt.Printf("%s chost=%q subnet=%q l3_epc=%q az=%q\n", a, r.CHost, r.Subnet, r.L3EPC, r.AZ)
	}
	// Output:
	// 10.0.1.10 chost="i-0abc" subnet="subnet-1" l3_epc="vpc-1" az="eu-west-1a"
	// 10.0.1.99 chost="" subnet="subnet-1" l3_epc="vpc-1" az="eu-west-1a"
	// 10.0.7.1 chost="" subnet="" l3_epc="vpc-1" az=""
}
