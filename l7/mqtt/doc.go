// Package mqtt decodes MQTT 3.1, 3.1.1 and 5.0 control packets over TCP for
// the l7 engine: every packet type, several packets in one segment and one
// packet over several segments, MQTT 5 properties read or skipped.
//
// Records (RECORDS.md): l7_protocol "MQTT"; version "3.1", "3.1.1" or "5"
// from the CONNECT's protocol level (absent on a connection whose CONNECT
// was not seen, unless a packet only MQTT 5 has tells); request_type the
// packet type name ("CONNECT", "PUBLISH", "SUBSCRIBE", ...); request_domain
// the client id of a CONNECT; request_resource and endpoint the topic of a
// PUBLISH (an MQTT 5 topic alias resolved from the PUBLISH that set it, for
// aliases 1 to 16 of topics up to 128 bytes, per direction) and
// the topic filters of a SUBSCRIBE or UNSUBSCRIBE joined by ',';
// request_id the packet id; response_result the response's packet type
// name ("CONNACK", "PUBACK", "PUBREC", ...); response_code the CONNACK
// return or reason code, the reason code of an MQTT 5 PUBACK, PUBREC or
// PUBCOMP (when the packet carries one), and for a
// SUBACK or MQTT 5 UNSUBACK the first failure code among the per-filter
// codes, else the first code. response_status is Ok for codes below 0x80
// (and CONNACK 0), ServerError for the codes that say the server cannot
// serve (MQTT 3 CONNACK 3; MQTT 5 0x80, 0x83, 0x88, 0x89, 0x8B, 0x97, 0x9C,
// 0x9D, 0x9F), and ClientError for the other refusals. trace_id, span_id
// and parent_span_id come from MQTT 5 user properties named traceparent,
// sw8 or b3 (or X-B3-*), x_request_id_0 from X-Request-ID, as
// internal/trace reads them. request_length and response_length are the
// packet sizes, fixed header included.
//
// Sessions: the MQTT client (the sender of CONNECT) is the flow's client,
// _0, for the whole connection. CONNECT pairs with CONNACK and PINGREQ with
// PINGRESP in order; PUBLISH at QoS 1 with PUBACK and at QoS 2 with PUBREC,
// then PUBREL with PUBCOMP, SUBSCRIBE with SUBACK and UNSUBSCRIBE with
// UNSUBACK by packet id (l7.Message.ID holds the exchange and the packet
// id, so that an acknowledgement pairs only with the packet it answers). A
// PUBLISH the broker sends to a subscriber is a request travelling
// server→client (l7.Message.Reverse), paired with the client's
// acknowledgement apart from the client's own packets with the same ids. A
// PUBLISH at QoS 0, DISCONNECT and AUTH expect no answer. A client may
// have more QoS 1 and 2 messages in flight (MQTT 5 Receive Maximum,
// mosquitto's max_inflight_messages: 20 by default) than the engine keeps
// pending per flow (l7.Config.MaxPendingPerFlow, 16 by default): the
// oldest are then emitted early with status Unknown and their
// acknowledgements as lone responses; raise the cap where that matters.
//
// A PUBLISH of up to 4 KiB is returned once whole; a bigger one once its
// topic and properties are there, its payload then skipped as it arrives
// without buffering (l7.Trailer), so captured_request_byte counts its
// header only. Packets other than PUBLISH are decoded once whole, up to
// Config.MaxPacket.
//
// Check accepts a payload of well-formed packets (see Decoder.Check).
// After a gap (or a parse error, which the engine follows with one), the
// parser decodes again only from a packet that passes the same checks at
// the start of the bytes it is given; bytes that do not start with one are
// skipped whole (l7.Trailer) without an error. So a capture starting inside
// a packet costs one parse error per direction, then resynchronises on the
// first segment that starts a packet. A gap inside the payload of a big
// PUBLISH, or up to its end, keeps the framing.
//
// Errors: Parse returns *l7.ParseError with Protocol "MQTT", the offset of
// the fault in its direction (counted from the first byte the parser saw,
// gaps of known size included) and ErrBadHeader, ErrBadPacket or
// ErrTooLarge, which match l7.ErrMalformed. A malformed MQTT 5 property
// list does not fail its packet: the packet is decoded without it. A PUBLISH
// at QoS 3 (forbidden) is decoded as QoS 2 is, as tshark does.
//
// A Decoder is stateless and safe for concurrent use; a Parser belongs to
// one flow and one goroutine. Parse does not allocate, except for the
// table of a direction's first MQTT 5 topic alias and for an alias's topic
// longer than the one it held; slices in a message alias the input or the
// Parser until its next call.
//
// Memory: between packets a Parser holds its framing, the protocol version
// and its topic aliases (each alias the length of its topic): 64 bytes
// without aliases. The values it builds for a packet (joined topic
// filters, decoded sw8 ids) live in a scratch taken from a pool and given
// back when the engine says the parser is idle (l7.Idler).
package mqtt
