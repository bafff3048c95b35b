package autotag

import (
	"context"
	"net/netip"
)

// Resource is what is known about one endpoint: the resource and service
// tags of RECORDS.md (DeepFlow's names, written as <key>_0 / <key>_1 on
// records) plus the process identity that joins a process to its container
// and pod. Empty strings are unknown and are not written.
//
// Kubernetes labels and annotations and cloud tags are not part of a
// Resource: they are metadata (Entries.Labels), never record columns.
type Resource struct {
	Region     string // region
	AZ         string // az: availability zone
	Host       string // host: the hypervisor or node host
	CHost      string // chost: the cloud VM
	L3EPC      string // l3_epc: the VPC's name
	Subnet     string // subnet
	NATGW      string // natgw: NAT gateway
	LB         string // lb: load balancer
	PodCluster string // pod_cluster
	PodNode    string // pod_node
	PodNS      string // pod_ns
	PodGroup   string // pod_group: the workload (Deployment, StatefulSet, ...)
	Pod        string // pod
	Service    string // service
	Ingress    string // ingress
	GProcess   string // gprocess: the process name

	ContainerID string // container_id: the full container id (64 hex digits for most runtimes)

	// PodUID joins a process or container to its pod (Entries.Pods); it is
	// not written on records.
	PodUID string
	// PID is the process id of a process entry; not written on records.
	PID uint32
}

// AddrEntry describes every address of Prefix in the VPC: a pod or node
// address (/32, /128), a service's cluster IP, a subnet, a whole VPC.
// Lookups take the longest matching prefix of the record's VPC. A
// Resource with a PodUID is completed by that pod (Entries.Pods, from any
// source), so a pod's address may carry only its uid; then a prefix
// inherits the fields it still leaves empty from the shorter prefixes of
// the same VPC that contain it (a pod's /32 gets its subnet's az and
// region).
type AddrEntry struct {
	VPC      int32 // 0 is the default VPC (Config.VPC of a Stage)
	Prefix   netip.Prefix
	Resource Resource
}

// PodEntry describes a pod by uid (Kubernetes metadata.uid).
type PodEntry struct {
	UID      string
	Resource Resource
}

// ContainerEntry describes a container by id: usually its Resource has
// only PodUID (and ContainerID) set, the pod supplies the rest.
type ContainerEntry struct {
	ID       string
	Resource Resource
}

// ProcessEntry describes a local process by pid: GProcess (its name),
// ContainerID and PodUID when it runs in a container of a pod.
type ProcessEntry struct {
	PID      uint32
	Resource Resource
}

// SocketEntry maps a local socket to the process that owns it, so that
// packet flows of local processes get their process tags. Local's address
// may be unspecified (0.0.0.0, ::) for a socket bound to every address.
type SocketEntry struct {
	Proto uint8 // 6 TCP, 17 UDP
	Local netip.AddrPort
	PID   uint32
}

// LabelEntry is metadata about a resource: Kubernetes labels of a pod
// (Kind "pod", Key its uid) or a service (Kind "service", Key
// "namespace/name"), cloud tags of a VM (Kind "chost"). Labels are kept
// apart from records and read with Snapshot.Labels.
type LabelEntry struct {
	Kind, Key string
	Labels    map[string]string
}

// Entries is the complete current knowledge of one source. Any slice may be
// empty.
type Entries struct {
	Addrs      []AddrEntry
	Pods       []PodEntry
	Containers []ContainerEntry
	Processes  []ProcessEntry
	Sockets    []SocketEntry
	Labels     []LabelEntry
}

// Updater receives the entries of one source.
//
// Update replaces everything the source published before with e: a source
// always sends its complete current set, never a delta, so a lost or
// coalesced update cannot leave stale entries behind. The Updater takes
// ownership of e and everything it points to: the source must not modify
// them after the call (build a new Entries for the next update). Update
// returns once a snapshot that includes e is published; it is safe for
// concurrent use: one snapshot is built at a time, and updates that arrive
// during a build are coalesced into the next. It never fails on content:
// entries with invalid keys (an invalid prefix, an empty uid) are skipped
// and counted in Stats.
type Updater interface {
	Update(e *Entries)
}

// Source publishes tagging entries: a file, the local /proc, Kubernetes,
// a cloud provider's metadata service.
//
// Run calls u.Update with the source's complete current entries once it has
// read them, then again after every change, until ctx is done; it then
// returns ctx.Err(). Transient failures (a file being rewritten, an API
// server restarting) are retried by the source, which keeps its last good
// entries published meanwhile and counts the failures in its own Stats.
// Run returns another error only when the source cannot work at all (a
// configuration error, a missing feature); the entries it published stay
// in the snapshot. Run is called once per Source value.
type Source interface {
	Run(ctx context.Context, u Updater) error
}
