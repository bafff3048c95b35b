package kubernetes

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/autotag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// cluster builds n pods in deployments of 10, one service and one
// EndpointSlice per deployment, on n/50 nodes.
func cluster(n int) *objects {
	o := &objects{cluster: "bench"}
	rs := map[string]*appsv1.ReplicaSet{}
	o.replicaSet = func(_, name string) *appsv1.ReplicaSet { return rs[name] }
	nodes := max(n/50, 1)
	for i := range nodes {
		o.nodes = append(o.nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i), Labels: map[string]string{corev1.LabelTopologyZone: "z1"}},
			Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)}}},
		})
	}
	for d := 0; d*10 < n; d++ {
		name := fmt.Sprintf("app-%d", d)
		rsName := name + "-5d8f7c9b4"
		rs[rsName] = &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: rsName, Namespace: "ns", OwnerReferences: owned("Deployment", name)}}
		o.services = append(o.services, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": name}},
			Spec:       corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.96.%d.%d", d/250, d%250+1)},
		})
		es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name + "-x", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: name}}}
		for j := 0; j < 10 && d*10+j < n; j++ {
			i := d*10 + j
			a := netip.AddrFrom4([4]byte{10, 244, byte(i / 250), byte(i%250 + 1)}).String()
			pod := fmt.Sprintf("%s-5d8f7c9b4-%05d", name, i)
			o.pods = append(o.pods, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: "ns", UID: types.UID(fmt.Sprintf("uid-%d", i)),
					Labels: map[string]string{"app": name, "pod-template-hash": "5d8f7c9b4"}, OwnerReferences: owned("ReplicaSet", rsName)},
				Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%nodes)},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: a,
					ContainerStatuses: []corev1.ContainerStatus{{ContainerID: fmt.Sprintf("containerd://%064x", i)}}},
			})
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: pod}})
		}
		o.slices = append(o.slices, es)
	}
	return o
}

// BenchmarkDerive measures one complete rebuild of the entries, which the
// Source does after every (debounced) change, and the Tagger's snapshot
// build from them.
func BenchmarkDerive(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		o := cluster(n)
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				derive(o)
			}
		})
		b.Run(fmt.Sprintf("pods=%d+snapshot", n), func(b *testing.B) {
			b.ReportAllocs()
			tg := autotag.New()
			u := tg.Updater("k")
			for b.Loop() {
				u.Update(derive(o))
			}
		})
	}
}

func TestDerive_cluster(t *testing.T) {
	e := derive(cluster(100))
	if len(e.Pods) != 100 || len(e.Containers) != 100 || len(e.Addrs) != 100+10+2 {
		t.Fatalf("pods %d containers %d addrs %d", len(e.Pods), len(e.Containers), len(e.Addrs))
	}
	tg := autotag.New()
	tg.Updater("k").Update(e)
	r := tg.Snapshot().Lookup(0, netip.MustParseAddr("10.244.0.57"))
	if r == nil || r.PodGroup != "app-5" || r.Service != "app-5" || r.AZ != "z1" {
		t.Fatalf("10.244.0.57: %+v", r)
	}
}
