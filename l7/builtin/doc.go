// Package builtin lists the decoders that ship with the library, in the
// order protocol inference tries them.
//
// # A decoder of one's own
//
// Inference tries decoders in registry order (after the endpoint cache and
// port hints), and the first whose Check recognises a flow's bytes takes
// the flow. Where a user's decoder goes is the user's explicit choice:
//
//   - Registry(mine) puts it after the built-in decoders: it gets the flows
//     none of them recognises. The built-in Checks do not claim bytes that
//     other protocols share (Redis answers l7.WeakRequest for an inline
//     command such as "get k", which is memcached as well), so a text
//     protocol of one's own is still reached.
//   - RegistryFirst(mine) puts it before them: it sees every flow first,
//     and wins any flow its Check accepts. Use it when its Check is strict
//     and it must override a built-in decoder on shared bytes.
//   - l7.NewRegistry with any order built from Decoders() places it
//     anywhere else, e.g. l7.NewRegistry(append([]l7.Decoder{mine},
//     Decoders()...)...) is RegistryFirst(mine).
//
// A port hint (l7.Config.PortHints, e.g. {11211: "Memcached"}) makes a
// decoder the first candidate on that port whatever the order, and lets it
// take an l7.WeakRequest verdict there. A decoder may declare its own
// (l7.PortHinter): the built-in Redis decoder names 6379, so an inline
// command there is Redis even before a RESP message. Should a decoder still
// take a flow that is not its own, the engine abandons it after
// l7.Config.ReinferAfterErrors parse errors in a row and infers again
// without it.
//
// The functions return fresh values on each call and are safe for
// concurrent use. Registry and RegistryFirst return an error only for a
// nil decoder or a name that clashes (l7.ErrNilDecoder,
// l7.ErrDuplicateDecoder); the built-in list itself is checked by tests.
package builtin
