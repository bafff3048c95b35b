package kubernetes

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/autotag"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func owned(kind, name string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: "v1", Kind: kind, Name: name, Controller: &yes}}
}

func TestWorkload(t *testing.T) {
	rs := map[string]*appsv1.ReplicaSet{
		"web-5d8f7c9b4": {ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f7c9b4", OwnerReferences: owned("Deployment", "web")}},
		"lone-abc":      {ObjectMeta: metav1.ObjectMeta{Name: "lone-abc"}},
		"rollout-6f7":   {ObjectMeta: metav1.ObjectMeta{Name: "rollout-6f7", OwnerReferences: owned("Rollout", "canary")}},
	}
	jobs := map[string]*batchv1.Job{
		"nightly-2940": {ObjectMeta: metav1.ObjectMeta{Name: "nightly-2940", OwnerReferences: owned("CronJob", "nightly")}},
		"once":         {ObjectMeta: metav1.ObjectMeta{Name: "once"}},
	}
	o := &objects{
		replicaSet: func(_, name string) *appsv1.ReplicaSet { return rs[name] },
		job:        func(_, name string) *batchv1.Job { return jobs[name] },
	}
	notOwned := metav1.OwnerReference{Kind: "ReplicaSet", Name: "web-5d8f7c9b4"} // no controller flag
	for _, tc := range []struct {
		name       string
		owners     []metav1.OwnerReference
		labels     map[string]string
		kind, want string
	}{
		{"deployment", owned("ReplicaSet", "web-5d8f7c9b4"), nil, "Deployment", "web"},
		{"bare replicaset", owned("ReplicaSet", "lone-abc"), nil, "ReplicaSet", "lone-abc"},
		{"other controller of the replicaset", owned("ReplicaSet", "rollout-6f7"), nil, "Rollout", "canary"},
		{"replicaset not cached, hash label", owned("ReplicaSet", "api-6c4f9d7b8"), map[string]string{"pod-template-hash": "6c4f9d7b8"}, "Deployment", "api"},
		{"replicaset not cached, other hash", owned("ReplicaSet", "api-6c4f9d7b8"), map[string]string{"pod-template-hash": "ffff"}, "ReplicaSet", "api-6c4f9d7b8"},
		{"replicaset named only by the hash", owned("ReplicaSet", "-6c4f9d7b8"), map[string]string{"pod-template-hash": "6c4f9d7b8"}, "ReplicaSet", "-6c4f9d7b8"},
		{"cronjob", owned("Job", "nightly-2940"), nil, "CronJob", "nightly"},
		{"job", owned("Job", "once"), nil, "Job", "once"},
		{"job not cached", owned("Job", "gone"), nil, "Job", "gone"},
		{"statefulset", owned("StatefulSet", "db"), nil, "StatefulSet", "db"},
		{"daemonset", owned("DaemonSet", "fluentd"), nil, "DaemonSet", "fluentd"},
		{"static pod", owned("Node", "node-a"), nil, "", ""},
		{"bare pod", nil, nil, "", ""},
		{"owner that is not the controller", []metav1.OwnerReference{notOwned}, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", OwnerReferences: tc.owners, Labels: tc.labels}}
			kind, name := workload(p, o)
			if kind != tc.kind || name != tc.want {
				t.Fatalf("got %s %q, want %s %q", kind, name, tc.kind, tc.want)
			}
		})
	}
}

// TestDerive_dualStack: a dual-stack pod publishes both addresses; an
// IPv4-mapped address is published as IPv4; a headless service none.
func TestDerive_dualStack(t *testing.T) {
	o := &objects{
		cluster: "c",
		vpc:     7,
		pods: []*corev1.Pod{{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
			Spec:       corev1.PodSpec{NodeName: "n"},
			Status: corev1.PodStatus{
				Phase: corev1.PodRunning, PodIP: "::ffff:10.1.0.5",
				PodIPs: []corev1.PodIP{{IP: "10.1.0.5"}, {IP: "fd00::5"}, {IP: "bogus"}},
				ContainerStatuses: []corev1.ContainerStatus{
					{ContainerID: "containerd://ABCDEF0123"}, {ContainerID: ""}, {ContainerID: "docker://not-hex"},
				},
			},
		}},
		services: []*corev1.Service{{
			ObjectMeta: metav1.ObjectMeta{Name: "h", Namespace: "ns"},
			Spec:       corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None"}},
		}},
	}
	e := derive(o)
	var got []string
	for _, a := range e.Addrs {
		if a.VPC != 7 {
			t.Errorf("%v in VPC %d, want 7", a.Prefix, a.VPC)
		}
		got = append(got, a.Prefix.String())
	}
	if strings.Join(got, " ") != "10.1.0.5/32 fd00::5/128" {
		t.Errorf("addresses %v", got)
	}
	if len(e.Containers) != 1 || e.Containers[0].ID != "abcdef0123" || e.Containers[0].Resource.PodUID != "u1" {
		t.Errorf("containers %+v", e.Containers)
	}
	tg := autotag.New()
	tg.Updater("k").Update(e)
	if r := tg.Snapshot().Lookup(7, netip.MustParseAddr("fd00::5")); r == nil || r.Pod != "p" || r.PodCluster != "c" {
		t.Errorf("lookup fd00::5: %+v", r)
	}
	if r := tg.Snapshot().Container("abcdef0123"); r == nil || r.Pod != "p" {
		t.Errorf("container joined to its pod: %+v", r)
	}
}

func TestContainerID(t *testing.T) {
	for in, want := range map[string]string{
		"containerd://3f4b2a1c": "3f4b2a1c",
		"cri-o://ABCDEF":        "abcdef",
		"docker://":             "",
		"":                      "",
		"3f4b":                  "3f4b",
		"containerd://3f4b/x":   "",
	} {
		if got := ContainerID(in); got != want {
			t.Errorf("ContainerID(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzContainerID(f *testing.F) {
	f.Add("containerd://3f4b2a1c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a")
	f.Add("docker://")
	f.Add(":///")
	f.Fuzz(func(t *testing.T, s string) {
		id := ContainerID(s)
		if id != strings.ToLower(id) || strings.Contains(id, "/") || len(id) > len(s) {
			t.Fatalf("ContainerID(%q) = %q", s, id)
		}
	})
}
