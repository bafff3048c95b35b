package kubernetes_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/autotag/kubernetes"
)

// An agent in a pod watches its own cluster (the in-cluster service
// account) and tags records with what the Tagger's snapshot holds.
func Example() {
	src, err := kubernetes.New(kubernetes.Config{Cluster: "prod-eu"})
	if err != nil {
		fmt.Println(err) // outside a cluster: no in-cluster configuration
		return
	}
	tg := autotag.New()
	go tg.Run(context.Background(), src)
	if r := tg.Snapshot().Lookup(0, netip.MustParseAddr("10.244.1.5")); r != nil {
		fmt.Println(r.Pod, r.PodGroup, r.Service)
	}
}
