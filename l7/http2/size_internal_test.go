package http2

import (
	"testing"
	"unsafe"
)

// TestParser_size: an idle connection's Parser fills a 192-byte size
// class (it was 256 with 64-bit counters and the state of a header block
// split over CONTINUATION frames in it). A field added past it costs
// every idle HTTP/2 connection the next class.
func TestParser_size(t *testing.T) {
	if n := unsafe.Sizeof(Parser{}); n > 192 {
		t.Errorf("Parser is %d bytes, want at most 192", n)
	}
}

// TestStream_size: a stream in flight is 32 bytes (it was 96 with its
// x-request-id inline); idle connections keep theirs.
func TestStream_size(t *testing.T) {
	if n := unsafe.Sizeof(stream{}); n > 32 {
		t.Errorf("stream is %d bytes, want at most 32", n)
	}
}
