// Package capture provides sources of packets behind one small interface,
// Source: pcap and pcapng files (this package), and live capture.
//
// A Source reads into a caller-owned, reused Packet. Packet.Data may alias
// the source's internal buffer; it stays valid only until the next call to
// ReadPacket or Close. A Source is not safe for concurrent use unless its
// documentation says so; Stats may be called from any goroutine.
//
// Errors: ReadPacket returns io.EOF at the end of input. Damaged input gives
// a *FormatError naming the byte offset; every packet before the damage has
// been delivered. Features the kernel or platform lacks give errors that
// match ErrNotSupported with errors.Is.
package capture
