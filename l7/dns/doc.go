// Package dns decodes DNS messages (RFC 1035 and its extensions) for the l7
// engine: over UDP, one message per datagram, and over TCP, messages framed
// by a 2-byte length prefix, several per segment or split across segments.
//
// Records (RECORDS.md): request_type is the first question's type name ("A",
// "AAAA", "TYPE65534" for types without a mnemonic), request_resource its
// name without the trailing dot ("." for the root), request_id the DNS id
// (Message.ID with HasID, so the engine pairs by id), response_code the
// rcode (12 bits when an OPT record extends it), response_status Ok for
// rcode 0, ClientError for NXDOMAIN (3) and ServerError for any other rcode,
// response_exception the rcode mnemonic ("NXDOMAIN", "SERVFAIL", ...) when
// it is not 0. request_length and response_length are the message sizes,
// with the 2-byte length prefix over TCP.
//
// response_result lists the answer section in order, one record per item,
// items separated by ';', each "TYPE rdata" in zone-file presentation with
// names fully qualified (trailing dot):
//
//	A 93.184.216.34;CNAME x.example.;MX 10 mail.example.
//	TXT "v=spf1 -all";SOA ns. host. 1 7200 3600 1209600 300
//	SRV 0 5 5060 sip.example.;CAA 0 issue "ca.example"
//	HTTPS 1 . alpn=h2,h3;SVCB 0 svc.example.
//
// A response with the TC bit set starts with the item "TC" ("TC" alone when
// its answer section is empty, as servers send it over UDP).
// Types whose rdata is not printed (RRSIG, DNSKEY, LOC, ...) appear as their
// mnemonic or TYPEnnn alone. The list is cut at 512 bytes, ending in "...".
// Bytes outside printable ASCII in names and strings are escaped as \DDD,
// and a '.' or '\' inside a label as \. and \\.
//
// A TCP message longer than 16 KiB (a zone transfer, say) is decoded from
// its first 16 KiB once they are there: the answers that end within them
// are listed, the result ends in "...", and the rest of the message is
// skipped as it arrives, so no message needs a buffer of its own size.
// After a hole in a TCP stream the parser looks for the next length prefix
// followed by a sane header and question, starting right at the end of the
// hole. The skipped rest, and the bytes dropped after a hole, are Trailing
// (l7.Trailer): the next message is dated from its own start.
//
// EDNS: the OPT record of the additional section extends the rcode; its UDP
// payload size, version and DO bit are available from (*Parser).Header for
// the last decoded message.
//
// Errors: Parse returns l7.ErrNeedMore for an incomplete TCP message, and
// otherwise a *l7.ParseError with Protocol "DNS", the stream offset of the
// fault, and one of this package's sentinels as Err (ErrTruncated when the
// message ends inside a section, ErrBadName, ErrBadRecord, ErrBadLength),
// each matching l7.ErrMalformed with errors.Is. A response with the TC bit
// set may legitimately stop early: it is decoded with the records that are
// complete. Compression pointers must point strictly backwards and names
// are bounded to 255 octets, so no input can loop or grow a name.
//
// New returns the Decoder, named "DNS"; a nil *Config means defaults. Its
// NewParser returns a *Parser (assert the type to read Header). A Decoder
// is stateless and safe for concurrent use; a Parser belongs to one flow
// and one goroutine. Parse does not allocate: names and the result are
// written into fixed buffers of the Parser's scratch (taken from a pool,
// given back by Idle) and stay valid until its next call or Idle.
package dns
