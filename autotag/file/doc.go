// Package file is an autotag.Source that reads a declarative JSON file:
// CIDRs and addresses per VPC, pods, containers and processes, each with
// its tags, and labels kept apart as metadata.
//
//	{
//	  "addrs": [
//	    {"vpc": 1, "cidrs": ["10.0.0.0/16"], "tags": {"region": "eu-1", "az": "eu-1a", "subnet": "apps"}},
//	    {"vpc": 1, "cidrs": ["10.0.1.7", "fd00::7"], "tags": {"pod": "web-1", "pod_ns": "shop", "pod_uid": "3f1c..."}}
//	  ],
//	  "pods": [{"uid": "3f1c...", "tags": {"pod": "web-1", "pod_group": "web", "pod_cluster": "prod"}}],
//	  "containers": [{"id": "9a7e...", "tags": {"pod_uid": "3f1c..."}}],
//	  "processes": [{"pid": 4242, "tags": {"gprocess": "nginx", "container_id": "9a7e..."}}],
//	  "labels": [{"kind": "pod", "key": "3f1c...", "labels": {"app": "web"}}]
//	}
//
// Every key is optional; tag keys are autotag.Keys plus "pod_uid". An
// address without a length is a host (/32 or /128). Unknown keys are
// errors, so a typo does not silently drop a tag.
//
// Source watches the file: Run loads it, then polls its size and
// modification time every Config.Interval and publishes the new entries
// when it changed and parses; Reload loads it at once. A file that fails
// to load leaves the last good entries published.
//
// Concurrency: Parse and Load are pure functions. A Source's Run is called
// once; Reload and Stats may be called from any goroutine.
//
// Errors: a file that cannot be used gives a *Error with the line and the
// JSON path of the bad value, wrapping ErrSyntax, ErrField, ErrTooLarge or
// the I/O error.
package file
