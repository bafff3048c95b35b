package kubernetes

import (
	"maps"
	"net/netip"
	"sort"
	"strings"

	"github.com/metaflow-go/metaflow/autotag"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// objects is the input of derive: the informers' cached objects.
type objects struct {
	cluster    string
	vpc        int32
	pods       []*corev1.Pod
	services   []*corev1.Service
	slices     []*discoveryv1.EndpointSlice
	nodes      []*corev1.Node
	namespaces []*corev1.Namespace
	ingresses  []*networkingv1.Ingress
	// replicaSet and job look up owners by namespace and name; nil
	// functions or nil results mean "not in the cache".
	replicaSet func(ns, name string) *appsv1.ReplicaSet
	job        func(ns, name string) *batchv1.Job
}

type nsName struct{ ns, name string }

// derive computes the entries of a snapshot. It never fails: objects
// missing fields yield entries with fewer tags.
func derive(o *objects) *autotag.Entries {
	s := &autotag.Entries{
		Addrs:      make([]autotag.AddrEntry, 0, len(o.pods)+len(o.services)+2*len(o.nodes)+len(o.ingresses)),
		Pods:       make([]autotag.PodEntry, 0, len(o.pods)),
		Containers: make([]autotag.ContainerEntry, 0, len(o.pods)),
		Labels:     make([]autotag.LabelEntry, 0, len(o.pods)+len(o.services)+len(o.nodes)+len(o.namespaces)),
	}

	nodes := make(map[string]*corev1.Node, len(o.nodes))
	for _, n := range o.nodes {
		nodes[n.Name] = n
		r := autotag.Resource{
			Region:     n.Labels[corev1.LabelTopologyRegion],
			AZ:         n.Labels[corev1.LabelTopologyZone],
			Host:       n.Name,
			PodCluster: o.cluster,
			PodNode:    n.Name,
		}
		seen := map[netip.Addr]bool{}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
				continue
			}
			ip, err := netip.ParseAddr(a.Address)
			if err != nil || seen[ip] {
				continue
			}
			seen[ip] = true
			s.Addrs = append(s.Addrs, o.addr(ip, r))
		}
		s.Labels = appendLabels(s.Labels, "node", n.Name, n.Labels)
	}
	for _, n := range o.namespaces {
		s.Labels = appendLabels(s.Labels, "namespace", n.Name, n.Labels)
	}

	// Which services an address or pod belongs to, from EndpointSlices.
	svcByIP := make(map[netip.Addr][]string, len(o.pods))
	svcByPod := make(map[nsName][]string, len(o.pods))
	for _, es := range o.slices {
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		for _, ep := range es.Endpoints {
			for _, a := range ep.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil {
					svcByIP[ip.Unmap()] = appendUnique(svcByIP[ip.Unmap()], svc)
				}
			}
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				k := nsName{es.Namespace, ep.TargetRef.Name}
				svcByPod[k] = appendUnique(svcByPod[k], svc)
			}
		}
	}

	// Ingresses: their load balancer addresses, and the services they
	// route to.
	ingBySvc := map[nsName][]string{}
	for _, ing := range o.ingresses {
		r := autotag.Resource{PodCluster: o.cluster, PodNS: ing.Namespace, Ingress: ing.Name}
		for _, lb := range ing.Status.LoadBalancer.Ingress {
			if ip, err := netip.ParseAddr(lb.IP); err == nil {
				s.Addrs = append(s.Addrs, o.addr(ip, r))
			}
		}
		for _, b := range ingressBackends(ing) {
			k := nsName{ing.Namespace, b}
			ingBySvc[k] = appendUnique(ingBySvc[k], ing.Name)
		}
	}

	for _, svc := range o.services {
		r := autotag.Resource{
			PodCluster: o.cluster,
			PodNS:      svc.Namespace,
			Service:    svc.Name,
			Ingress:    first(ingBySvc[nsName{svc.Namespace, svc.Name}]),
		}
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 && svc.Spec.ClusterIP != "" {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, lb := range svc.Status.LoadBalancer.Ingress {
			ips = append(ips, lb.IP)
		}
		seen := map[netip.Addr]bool{}
		for _, a := range ips {
			ip, err := netip.ParseAddr(a) // "None" (headless) fails here
			if err != nil || seen[ip] {
				continue
			}
			seen[ip] = true
			s.Addrs = append(s.Addrs, o.addr(ip, r))
		}
		s.Labels = appendLabels(s.Labels, "service", svc.Namespace+"/"+svc.Name, svc.Labels)
	}

	for _, p := range o.pods {
		_, group := workload(p, o)
		r := autotag.Resource{
			Host:       p.Spec.NodeName,
			PodCluster: o.cluster,
			PodNode:    p.Spec.NodeName,
			PodNS:      p.Namespace,
			PodGroup:   group,
			Pod:        p.Name,
			PodUID:     string(p.UID),
		}
		if n := nodes[p.Spec.NodeName]; n != nil {
			r.Region = n.Labels[corev1.LabelTopologyRegion]
			r.AZ = n.Labels[corev1.LabelTopologyZone]
		}
		services := svcByPod[nsName{p.Namespace, p.Name}]
		// A pod on the host network shares the node's address: the node
		// entry keeps it.
		live := p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
		var ips []netip.Addr
		if live && !p.Spec.HostNetwork {
			for _, a := range podIPs(p) {
				ips = append(ips, a)
				for _, svc := range svcByIP[a] {
					services = appendUnique(services, svc)
				}
			}
		}
		sort.Strings(services)
		r.Service = first(services)
		if r.Service != "" {
			r.Ingress = first(ingBySvc[nsName{p.Namespace, r.Service}])
		}
		for _, ip := range ips {
			s.Addrs = append(s.Addrs, o.addr(ip, r))
		}
		if p.UID == "" {
			continue
		}
		s.Pods = append(s.Pods, autotag.PodEntry{UID: r.PodUID, Resource: r})
		for _, cs := range containerStatuses(p) {
			if id := ContainerID(cs.ContainerID); id != "" {
				s.Containers = append(s.Containers, autotag.ContainerEntry{
					ID:       id,
					Resource: autotag.Resource{ContainerID: id, PodUID: r.PodUID},
				})
			}
		}
		s.Labels = appendLabels(s.Labels, "pod", string(p.UID), p.Labels)
	}
	return s
}

// addr is the entry of one address: a /32 or /128 in the configured VPC.
func (o *objects) addr(ip netip.Addr, r autotag.Resource) autotag.AddrEntry {
	ip = ip.Unmap()
	return autotag.AddrEntry{VPC: o.vpc, Prefix: netip.PrefixFrom(ip, ip.BitLen()), Resource: r}
}

// appendLabels adds the labels of one object; objects without labels add
// nothing. The map is copied: the informer's cached object stays the
// informer's.
func appendLabels(l []autotag.LabelEntry, kind, key string, labels map[string]string) []autotag.LabelEntry {
	if len(labels) == 0 || key == "" {
		return l
	}
	return append(l, autotag.LabelEntry{Kind: kind, Key: key, Labels: maps.Clone(labels)})
}

func podIPs(p *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	add := func(a string) {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return
		}
		ip = ip.Unmap()
		for _, o := range out {
			if o == ip {
				return
			}
		}
		out = append(out, ip)
	}
	add(p.Status.PodIP)
	for _, a := range p.Status.PodIPs {
		add(a.IP)
	}
	return out
}

func containerStatuses(p *corev1.Pod) []corev1.ContainerStatus {
	n := len(p.Status.InitContainerStatuses) + len(p.Status.ContainerStatuses) + len(p.Status.EphemeralContainerStatuses)
	out := make([]corev1.ContainerStatus, 0, n)
	out = append(out, p.Status.InitContainerStatuses...)
	out = append(out, p.Status.ContainerStatuses...)
	return append(out, p.Status.EphemeralContainerStatuses...)
}

// ContainerID returns the bare id of a container status's containerID,
// "<runtime>://<id>" (containerd, cri-o, docker), or "" when s has no id.
func ContainerID(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return ""
		}
	}
	return strings.ToLower(s)
}

// workload resolves the pod's owner chain: Pod -> ReplicaSet -> Deployment,
// Pod -> Job -> CronJob, Pod -> StatefulSet or DaemonSet (or any other
// controller, by its kind). A bare pod and a static pod (owned by its Node)
// have none.
func workload(p *corev1.Pod, o *objects) (kind, name string) {
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil {
		return "", ""
	}
	switch ref.Kind {
	case "Node":
		return "", ""
	case "ReplicaSet":
		var rs *appsv1.ReplicaSet
		if o.replicaSet != nil {
			rs = o.replicaSet(p.Namespace, ref.Name)
		}
		if rs != nil {
			if d := metav1.GetControllerOfNoCopy(rs); d != nil {
				return d.Kind, d.Name
			}
			return "ReplicaSet", rs.Name
		}
		// Not (yet) in the cache: a Deployment names its ReplicaSets
		// "<deployment>-<pod-template-hash>".
		if h := p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; h != "" {
			if d, ok := strings.CutSuffix(ref.Name, "-"+h); ok && d != "" {
				return "Deployment", d
			}
		}
		return "ReplicaSet", ref.Name
	case "Job":
		var j *batchv1.Job
		if o.job != nil {
			j = o.job(p.Namespace, ref.Name)
		}
		if j != nil {
			if c := metav1.GetControllerOfNoCopy(j); c != nil {
				return c.Kind, c.Name
			}
		}
		return "Job", ref.Name
	}
	return ref.Kind, ref.Name
}

func ingressBackends(ing *networkingv1.Ingress) []string {
	var out []string
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out = appendUnique(out, b.Service.Name)
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service != nil {
				out = appendUnique(out, p.Backend.Service.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func appendUnique(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	if len(l) > 1 {
		l = append([]string(nil), l...)
		sort.Strings(l)
	}
	return l[0]
}
