// Package capture provides sources of packets behind one small interface,
// Source: pcap and pcapng files (this package), and live capture.
//
// A Source reads into a caller-owned, reused Packet. Packet.Data may alias
// the source's internal buffer; it stays valid only until the next call to
// ReadPacket or Close. A Source is not safe for concurrent use unless its
// documentation says so; Stats may be called from any goroutine.
//
// Optional interfaces: a LiveSource reports live capture; a
// DeadlineSource bounds the wait for a packet (SetReadDeadline), so that
// a reader can do periodic work on a quiet link without a second
// goroutine; a BatchSource hands over several packets a call
// (ReadPackets). AFPacketSource (Linux, TPACKET_V3) is all three, and
// OpenAFPacketFanout opens several in one fan-out group, one per reader.
//
// Errors: ReadPacket returns io.EOF at the end of input. Damaged input gives
// a *FormatError naming the byte offset; every packet before the damage has
// been delivered. Features the kernel or platform lacks give errors that
// match ErrNotSupported with errors.Is.
package capture
