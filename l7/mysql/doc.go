// Package mysql decodes the MySQL and MariaDB client/server protocol for
// the l7 engine: the handshake (server greeting, login request,
// authentication result including auth switch and caching_sha2_password
// fast and full authentication), the commands and their responses.
//
// Records (RECORDS.md): request_type is the command name ("COM_QUERY",
// "COM_STMT_EXECUTE", ...); request_domain the current database (from the
// login request, COM_INIT_DB or a "USE db" query once the server accepted
// it, also as the first of several statements; one the server refuses
// leaves the old name; a COM_INIT_DB request itself carries the database
// it asks for, a USE query the one before it); request_resource the SQL text of COM_QUERY and COM_STMT_PREPARE
// (after any query attributes), the SQL of the prepared statement for
// COM_STMT_EXECUTE when the parser saw it prepared, the database of
// COM_INIT_DB, the table of COM_FIELD_LIST and the user of COM_CHANGE_USER;
// endpoint "<OP> <table>" for the SQL of COM_QUERY, COM_STMT_PREPARE and
// the statement commands: the first keyword upper-cased, then the first
// table after FROM, INTO, UPDATE, TABLE or JOIN in the first statement, as
// written without its quotes ("db.t" kept whole), comments skipped, a CTE
// giving its main statement's, the keyword alone when no table is named
// ("SELECT");
// request_id the statement id (from the request of COM_STMT_EXECUTE,
// COM_STMT_CLOSE, COM_STMT_RESET, COM_STMT_FETCH, COM_STMT_SEND_LONG_DATA
// and MariaDB's COM_STMT_BULK_EXECUTE, from the response of
// COM_STMT_PREPARE); version
// the server version of the greeting ((*Parser).User gives the login
// user). COM_QUIT, COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA get no
// response (Message.NoResponse).
//
// Responses: OK and EOF are Ok with response_result "affected_rows=N"; a
// result set is Ok with "rows=N" (rows of every result set of a multi-result
// response), counted as the rows go by without buffering them; ERR is
// ServerError with response_code the error code and response_exception the
// message. An authentication that fails (ERR after the login request, or an
// ERR instead of the greeting) is emitted as a lone response; the login
// itself is not a request.
//
// response_length is the bytes of the response's packets up to the one that
// completes it; for COM_STMT_PREPARE that is the PREPARE_OK packet alone
// (the parameter and column definitions after it are not waited for). A
// capture that starts mid-connection is judged from the first command on;
// before it, only an ERR or the first packet of a response (sequence 1)
// makes a lone response, and the rest of a response under way is passed
// over to its end. The first bytes of each direction may start inside a
// packet: when their first header cannot start one (a length over 1 MiB)
// the direction waits for the next command, as after a gap. Over the
// compressed protocol, the first inflated frame numbered past 0 is read
// from its first chain of whole packets (at least three with consecutive
// sequence ids, within its first 4 KiB), or passed over when it has none. Such a response's start (resp_tcp_seq, end_time,
// captured_response_byte) is that of the bytes delivered with its last
// packet, so it depends on how segments cut the response: before a
// command the parser cannot tell the engine (l7.Trailer) whether the next
// bytes start a response or end one begun before the capture.
//
// Framing: packets are parsed with a bounded prefix (at most 8 KiB of a
// packet is looked at); the rest of a long packet, and the continuation
// packets of a 16 MiB-1 packet, are skipped as they arrive. Zero-length
// packets and any sequence ids are accepted without panicking.
//
// The compressed protocol (CLIENT_COMPRESS in both the greeting and the
// login request, or compressed framing recognised when a capture starts
// mid-connection) is decoded: whole compressed frames are inflated (zlib,
// without checking its Adler-32) into a per-direction buffer of at most
// 1 MiB and parsed as above, so packets may straddle frames.
// (*Parser).Compressed reports it. Each frame is a zlib stream of its own
// whose inflated length its header gives: it is inflated once, in one call,
// straight into that buffer by the package's own deflate decoder (which
// accepts and refuses what compress/flate does for the same length, at
// about twice its speed); the decoder's Huffman tables come from a shared
// pool for one frame and go back right after.
//
// After a gap, the client side resumes at the next segment that starts
// with a command packet (over the compressed protocol, a frame of sequence
// 0), the server side at the response to that command. A packet cut short
// by a hole or the end of the flow (l7.Flusher) still makes a request from
// its header and the SQL there is, or a response from an OK or ERR.
//
// The parser stops the flow with l7.ErrStop on a TLS upgrade (SSL request
// from the client), on zstd compression, and on a compressed frame that
// does not inflate or exceeds 1 MiB; (*Parser).Stopped tells which.
//
// Errors: Parse returns l7.ErrNeedMore for an incomplete packet, and a
// *l7.ParseError with Protocol "MySQL", the stream offset and one of this
// package's sentinels as Err (ErrEmptyCommand, ErrUnknownCommand), each
// matching l7.ErrMalformed with errors.Is, for a command packet it cannot
// read.
//
// New returns the Decoder, named "MySQL"; a nil *Config means defaults. Its
// NewParser returns a *Parser (assert the type for User, Database,
// ServerVersion, Compressed and Stopped).
// A Decoder is stateless and safe for concurrent use; a Parser belongs to
// one flow and one goroutine. Parse does not allocate in steady state:
// message fields alias the input, the Parser's scratch or its buffers
// (a prepared statement's SQL keeps its memory when its slot is reused).
//
// Memory: between messages a Parser holds its framing, the connection's
// server version, user, database and capabilities (368 bytes) and, once
// the client prepares statements, the SQL of the last 8 (at most 256 bytes
// each, each the length of its SQL). The values it builds for a message
// (endpoint, result text), the database a USE names until its OK, and
// the inflated bytes of the compressed protocol come from pools and go
// back when the engine says the parser is idle (l7.Idler): only the
// inflated start of a packet that the next frame completes stays.
// Inflated-bytes buffers above 256 KiB are not pooled.
package mysql
