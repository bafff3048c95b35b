// Package tag holds the resource and service tags attached to records.
//
// Both record types (flow.Record and l7.Record) carry a Set: tags that
// describe the client side (ip_0) and tags that describe the server side
// (ip_1). The record producers (the flow table and the L7 engine) leave the
// Set empty; stages of a pipeline (pipeline.Stage) fill it. Writers
// emit each tag as "<key>_0" or "<key>_1", DeepFlow's column convention
// (RECORDS.md lists the names).
//
// Concurrency: a Set is a plain value owned by its record; it is not safe
// for concurrent mutation. Keys and values are strings, so a copy made by
// Clone never aliases the original's slices.
//
// Errors: none; the package only stores what it is given.
package tag
