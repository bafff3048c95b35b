// Package memcached decodes the memcached text protocol for the l7 engine,
// and is the worked example of a decoder written outside the library: it
// uses only the public packages (l7, and in its tests capture,
// capture/decode, flow and l7/builtin), as any user's decoder would. See
// README.md for the walk-through.
//
// New returns the Decoder, named "Memcached". Requests are the commands of
// memcached's protocol.txt: get, gets, gat, gats; set, add, replace,
// append, prepend and cas with their data blocks; incr, decr, delete,
// touch, flush_all, verbosity, version, stats and quit. A command line the
// parser does not know but shaped like one (lower-case letters, digits,
// underscores) is still a request: the server answers it with ERROR, and
// pairing by order must not slip. The meta commands (mg, ms, ...) are not
// decoded: ms's data block would be taken for commands. Responses are VALUE listings
// up to END, the STAT (and ITEM, PREFIX) listings of stats up to END, the
// one-line replies STORED, NOT_STORED, EXISTS, NOT_FOUND, DELETED, TOUCHED,
// OK, RESET, VERSION, the number an incr or decr returns, and ERROR,
// CLIENT_ERROR and SERVER_ERROR. Requests and responses pair in order,
// pipelining included: a command ending in "noreply" (storage commands,
// incr, decr, delete, touch, flush_all, verbosity) and quit are marked
// l7.Message.NoResponse, so that they take no reply.
//
// Nothing is buffered but a line: a request is returned at its command
// line and its data block is skipped as it arrives (l7.Trailer keeps it,
// and lines skipped after a gap, from starting the next message); a VALUE listing is consumed value by
// value and returned at END, keeping its first line. A hole inside a data
// block of known size keeps the parser in step.
//
// Fields: RequestType is the command as sent ("get"), RequestResource the
// command line without its line ending ("set k 0 0 5"), Length the bytes of
// the command line and data block. A response's Result is its first line
// ("VALUE k 0 5", "END" for a miss, "STORED", "15" for incr), Version the
// server's version from VERSION, Length the bytes up to and including END.
// Status: ERROR and CLIENT_ERROR are ClientError, SERVER_ERROR is
// ServerError with its message in Exception; everything else, misses
// (NOT_FOUND, END alone) and refusals (NOT_STORED, EXISTS) included, is
// Ok: they are a cache's normal answers.
//
// Inference: Check accepts only well-formed lower-case command lines (the
// server rejects upper case) and lines only a memcached server sends, so it
// claims no other protocol's flow; a text line both protocols share is a
// weak request for the built-in Redis decoder (l7.WeakRequest), so this
// decoder still gets memcached flows when it is registered after the
// built-in ones. Should it take a flow that is not memcached, its parse
// errors make the engine infer the flow again without it
// (l7.Config.ReinferAfterErrors).
//
// Concurrency: the Decoder is stateless and safe for concurrent use; a
// Parser belongs to one flow and one goroutine.
//
// Errors: Parse returns l7.ErrNeedMore for an incomplete line, and a
// *l7.ParseError wrapping ErrLineLong, ErrBadCommand (a line with control
// bytes, or not starting with a word shaped like a command) or ErrBadResponse (a line no memcached server sends), each
// matching l7.ErrMalformed; the direction then skips to the next line that
// starts a command or a response, quietly for 8 lines (they may be a data
// block's), then with an error per line, so that another protocol's bytes
// keep failing and the engine infers the flow again. Check and Parse do
// not allocate.
package memcached
