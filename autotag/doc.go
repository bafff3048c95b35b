// Package autotag attaches resource and service tags (DeepFlow's
// AutoTagging) to both sides of every record: region, az, host, chost,
// l3_epc, subnet, natgw, lb, pod_cluster, pod_node, pod_ns, pod_group, pod,
// service, ingress, gprocess and container_id (Keys), written by the record
// writers as <key>_0 (client) and <key>_1 (server). Kubernetes labels and
// cloud tags are metadata, kept apart (Snapshot.Labels), never record
// columns.
//
//	tg := autotag.New()
//	go tg.Run(ctx, file.New(file.Config{Path: "tags.json"}), procfs.New(procfs.Config{}))
//	p, err := pipeline.New(pipeline.Config{
//		...
//		Stages: []pipeline.Stage{tg.NewStage(autotag.StageConfig{VPC: 1})},
//	})
//
// # Sources
//
// Sources implement Source and publish Entries through an Updater: the
// complete current set each time, never a delta. The subpackages file (a
// declarative JSON file) and procfs (the local /proc and cgroups) are in
// this module; Kubernetes and cloud metadata sources live in nested
// modules of their own, so that this package stays free of their
// dependencies. Entries are keyed by (VPC, prefix), pod uid, container id,
// pid and local socket.
//
// # Merging and lookup order
//
// Every update builds a new immutable Snapshot from the latest entries of
// all sources. For one key, each field comes from the first source (in
// registration order: Updater calls, or Run's arguments) that sets it. An
// address entry with a pod uid is completed by that pod, then inherits the
// fields it still leaves empty from the shorter prefixes of its VPC that
// contain it (a pod's /32 gets its subnet's az and region); a container is
// completed by its pod, a process by its container and pod. A Stage then follows DeepFlow's lookup order for each side of a
// record: the process (the record's pid, or the owner of the local socket)
// with its container and pod first, then the longest prefix of the
// configured VPC that holds the side's address, each filling only the tags
// still empty.
//
// # Tag lists and their identity
//
// A snapshot keeps the tags of each prefix and each process as an
// immutable tag.List, made when it is built; prefixes whose tags are the
// same (the /32s of one pod, hosts that inherit only their subnet's
// fields) share one list. A Stage attaches one list
// whole to a record side that has no tags yet (tag.Set.Attach): the
// prefix's, the process's, or, for a process whose prefix adds keys, a
// list of both merged, made once per (process, prefix) pair and kept in
// the Stage. So every record of an endpoint carries the same *tag.List,
// without a copy, until the next snapshot; consumers may key caches on it
// (tag.Set.List; the encoding package's Encoder finds a side's tag set
// with that one pointer instead of hashing its strings). A side that
// already has tags (from a stage before) gets the values set one by one
// and no list. A new snapshot makes new lists, so consumers see each
// endpoint's tags change as a new identity.
//
// Lookups are a longest-prefix match per VPC over flattened spans under a
// small stride-8 trie (lpm.go explains the choice): no allocation, no lock,
// a few cache lines.
//
// Concurrency: Snapshot and Stage methods are safe for concurrent use and
// never block: readers load the current snapshot with one atomic load and
// never see a half-built one. A snapshot is never modified once published;
// the *Resource and label maps it returns stay valid and unchanged for as
// long as the caller holds them. The Tagger builds one snapshot at a time
// and coalesces the updates that arrive during a build into the next; each
// build covers every source (about 0.35 s of CPU for 100,000 prefixes), so
// sources should publish on change, not on a fast timer.
//
// Errors: sources report fatal errors from Run; Tagger.Run returns the
// first of them and keeps the failed source's last entries. Entries with
// invalid keys (an invalid prefix, an empty uid, a zero pid) are skipped
// and counted in Stats.Skipped, never returned as errors. Lookups never
// fail: an unknown address has no tags.
package autotag
