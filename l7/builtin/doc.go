// Package builtin lists the decoders that ship with the library, in the
// order protocol inference tries them.
//
// The functions return fresh values on each call and are safe for
// concurrent use. Registry returns an error only if the list itself is
// broken (a duplicate name), which tests rule out.
package builtin
