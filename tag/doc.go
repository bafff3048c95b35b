// Package tag holds the resource and service tags attached to records.
//
// Both record types (flow.Record and l7.Record) carry a Set: tags that
// describe the client side (ip_0) and tags that describe the server side
// (ip_1). The record producers (the flow table and the L7 engine) leave the
// Set empty; stages of a pipeline (pipeline.Stage) fill it. Writers
// emit each tag as "<key>_0" or "<key>_1", DeepFlow's column convention
// (RECORDS.md lists the names).
//
// # Identity
//
// A tagging stage that knows an endpoint hands the same tags to every
// record of it. It makes them a List once (NewList, NewLists: an
// immutable copy) and attaches it to each record's side (Set.Attach), which
// neither copies nor allocates. Set.List then returns that *List: its
// identity. Two sides with the same List have the same tags, so a
// consumer can key what it derives from a side's tags (the encoding
// package's tag sets) on that one pointer and skip reading the tags; it
// must keep the *List referenced while it caches anything under it, so the
// address cannot be reused. A side built by hand (Add, Set), or an
// attached side changed afterwards (copied first: a List is never
// modified), has no List, and consumers read its tags.
//
// Concurrency: a Set is a plain value owned by its record; it is not safe
// for concurrent mutation. Keys and values are strings, so a copy made by
// Clone never aliases the original's own slices (an attached List is
// immutable and stays shared). A List is safe for concurrent use.
//
// Errors: none; the package only stores what it is given.
package tag
