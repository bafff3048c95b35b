// Package kubernetes is an autotag.Source that tags pods, services, nodes
// and ingresses of a Kubernetes cluster, read through client-go shared
// informers (list, then watch, re-listing after 410 Gone as client-go's
// reflector does).
//
// It watches pods, services, EndpointSlices, ingresses, ReplicaSets and
// Jobs (in Config.Namespace or all namespaces) and nodes and namespaces,
// and publishes, after every change:
//   - each pod IP (/32 or /128 in Config.VPC): pod, pod_ns, pod_node, host
//     (the node), pod_group (the workload at the top of the owner chain:
//     Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob, or the
//     StatefulSet, DaemonSet or other controller that owns the pod),
//     pod_cluster (Config.Cluster), region and az (the node's topology
//     labels), service (the first by name of the services whose
//     EndpointSlices list the pod or its IP) and ingress (the first ingress
//     routing to that service);
//   - each pod by uid with the same Resource, and each container id (from
//     the pod's container statuses) joined to its pod by uid;
//   - each service ClusterIP and load-balancer IP: service, pod_ns, ingress;
//   - each node InternalIP and ExternalIP: pod_node, host, region, az;
//   - each ingress load-balancer IP: ingress, pod_ns;
//   - the labels of pods (by uid), services ("namespace/name"), nodes and
//     namespaces as autotag.LabelEntry metadata, never as tags.
//
// Pods on the host network and finished pods (Succeeded, Failed) publish no
// address entry: their addresses belong to the node or to a newer pod.
// Deployment, StatefulSet, DaemonSet and CronJob names come from owner
// references, so those kinds need no informer (nor RBAC permission); the
// ReplicaSet and Job informers resolve the middle of the chain, and a
// ReplicaSet not yet cached falls back to its name less the
// pod-template-hash suffix.
//
// Concurrency: Run is called once; Stats is safe for concurrent use.
//
// Errors: New fails on an invalid Config or when no client can be built.
// Run returns ctx.Err() when ctx ends, ErrNotSynced (wrapped) when the
// caches do not fill within Config.SyncTimeout. Watch failures are retried
// by client-go and never reach the caller.
package kubernetes
