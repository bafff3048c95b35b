// Package pcap captures live packets through libpcap (Linux, macOS) or
// Npcap (Windows), behind the capture.Source interface.
//
// On Linux and macOS the package needs cgo and libpcap, so it is built only
// with the build tag "pcap" (go build -tags pcap); the default build stays
// cgo-free and Open returns an error matching capture.ErrNotSupported. On
// Windows it needs no cgo and no tag: wpcap.dll from Npcap is loaded when
// the first handle is opened, and Open fails if Npcap is not installed. On
// Linux, capture.OpenAFPacket is the faster, dependency-free choice.
//
// Concurrency: ReadPacket must be called from one goroutine at a time;
// Stats and Close may be called from any goroutine, and Close makes a
// blocked ReadPacket return capture.ErrClosed within Config.Timeout.
//
// Errors: missing privileges give errors matching capture.ErrPermission
// that name the capability; a missing library or an unsupported platform
// gives errors matching capture.ErrNotSupported.
package pcap
