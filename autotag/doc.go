// Package autotag attaches resource and service tags (DeepFlow's
// AutoTagging) to both sides of every record: region, az, host, chost,
// l3_epc, subnet, natgw, lb, pod_cluster, pod_node, pod_ns, pod_group, pod,
// service, ingress, gprocess and container_id, written by the record
// writers as <key>_0 (client) and <key>_1 (server).
//
// Sources (a declarative file, the local /proc, Kubernetes, cloud metadata)
// implement Source and publish Entries through an Updater. A Tagger merges
// the entries of all its sources into an immutable Snapshot and swaps it in
// atomically; a Stage (a pipeline.Stage) reads the current snapshot for
// every record.
//
// Concurrency: Snapshot methods and Stage methods are safe for concurrent
// use and never block: readers load the current snapshot with one atomic
// load and never see a half-built one. Updates are serialised by the
// Tagger. A snapshot is never modified once published.
//
// Errors: sources report their fatal errors from Run; Tagger.Run returns
// the first of them. Entries with invalid keys are skipped and counted in
// Stats, never returned as errors. Lookups never fail: an unknown address
// has no tags.
package autotag
