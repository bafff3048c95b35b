// Package jsonw appends JSON object members to byte slices without
// reflection or allocation, for the records' hand-written AppendJSON
// methods. Functions that take a key write a leading comma: the caller
// opens the object with its first member. The PutX functions write the
// records' text lines at offsets into a buffer grown once per line.
//
// The functions are safe for concurrent use; they return no errors (any
// input yields valid JSON: invalid UTF-8 becomes U+FFFD).
package jsonw
