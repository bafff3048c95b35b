package l7test

import (
	"errors"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// InOrder reassembles one direction of a TCP connection for a parser fed
// directly: bytes in sequence order, retransmitted bytes dropped, and a
// hole reported as a gap, after which the bytes buffered before it are
// discarded. The zero value is ready; the first SYN or payload sets the
// start of the stream.
type InOrder struct {
	init bool
	next uint32
	Buf  []byte // bytes not consumed by the parser yet; the caller cuts what it consumed
}

// Add takes one segment. It returns ok false for a segment that brings no
// new bytes: a SYN (which sets the start of the stream), an empty segment
// or a retransmission. Otherwise it appends the new bytes to Buf and
// returns gap > 0 when that many bytes are missing before them; Buf then
// holds only the new bytes and the caller reports the gap to its parser.
func (h *InOrder) Add(seq uint32, syn bool, payload []byte) (gap int, ok bool) {
	if syn {
		h.init, h.next = true, seq+1
		return 0, false
	}
	if len(payload) == 0 {
		return 0, false
	}
	if !h.init {
		h.init, h.next = true, seq
	}
	data := payload
	switch rel := int32(seq - h.next); {
	case rel < 0 && int(-rel) >= len(data):
		return 0, false // retransmission
	case rel < 0:
		data = data[-rel:]
	case rel > 0:
		gap = int(rel)
		h.Buf = h.Buf[:0]
	}
	h.next = seq + uint32(len(payload))
	// A fresh buffer: Buf never aliases an earlier one the caller cut.
	h.Buf = append(append(make([]byte, 0, len(h.Buf)+len(data)), h.Buf...), data...)
	return gap, true
}

// ParseAll feeds in to p in direction dir until it is consumed or a call
// returns an error without consuming, and returns the number of messages.
// It allocates nothing itself.
func ParseAll(p l7.Parser, in []byte, dir l7.Direction, m *l7.Message) int {
	msgs := 0
	for len(in) > 0 {
		m.Reset()
		n, ok, err := p.Parse(in, dir, m)
		if ok {
			msgs++
		}
		if err != nil && n == 0 {
			break
		}
		in = in[n:]
	}
	return msgs
}

// FuzzPieces checks the parser contract on arbitrary bytes for a stream
// parser fed directly, without the engine (FuzzDecoder runs the engine): no
// panic, consumed <= len(input), a message never comes with an error and
// always has a kind, errors other than l7.ErrNeedMore match l7.ErrMalformed
// (and are followed by a gap of 0 bytes, the parser going on after the n
// bytes it consumed), and every call without an error makes progress. in[0] sets the size of the pieces the
// rest is fed in (low 6 bits + 1) and which direction gets it first (top
// bit); the other direction gets it next. With allowStop, l7.ErrStop ends
// the run; without, it fails the test as any unexpected error does.
func FuzzPieces(t testing.TB, p l7.Parser, in []byte, allowStop bool) {
	t.Helper()
	if len(in) == 0 {
		return
	}
	step := int(in[0]&0x3f) + 1
	first := l7.Direction(in[0] >> 7)
	data := in[1:]
	for _, dir := range []l7.Direction{first, first ^ 1} {
		var buf []byte
		var m l7.Message
		for off := 0; off < len(data); {
			k := min(step, len(data)-off)
			buf = append(buf, data[off:off+k]...)
			off += k
			for len(buf) > 0 {
				m.Reset()
				n, ok, err := p.Parse(buf, dir, &m)
				if n < 0 || n > len(buf) {
					t.Fatalf("consumed %d of %d", n, len(buf))
				}
				if ok && err != nil {
					t.Fatalf("message with error %v", err)
				}
				if ok && m.Kind != l7.KindRequest && m.Kind != l7.KindResponse {
					t.Fatalf("message without kind")
				}
				buf = buf[n:]
				if allowStop && errors.Is(err, l7.ErrStop) {
					return
				}
				if errors.Is(err, l7.ErrNeedMore) {
					break
				}
				if err != nil {
					if !errors.Is(err, l7.ErrMalformed) {
						t.Fatalf("error %v does not match l7.ErrMalformed", err)
					}
					p.Gap(dir, 0)
					continue
				}
				if n == 0 && !ok {
					t.Fatalf("no progress without an error")
				}
			}
		}
	}
}

// Chunk is bytes of one direction of a conversation.
type Chunk struct {
	Dir  l7.Direction
	Data string
}

// Feed feeds the chunks to p in order, each cut in pieces of at most piece
// bytes (0: whole), keeping the unconsumed bytes of each direction as the
// engine does while a message is incomplete, and calls onMsg with each
// message (valid during the call). A parse error other than l7.ErrNeedMore
// and l7.ErrStop is counted in errs and followed by a gap of 0 bytes, and
// the bytes after the n consumed are parsed on (the engine instead drops
// the bytes it holds and reports a gap of unknown size: CheckContract runs
// the engine); l7.ErrStop ends the feed with stopped true. Feed fails the test when p consumes outside its input, returns a
// message with an error, or makes no progress without an error.
func Feed(t testing.TB, p l7.Parser, chunks []Chunk, piece int, onMsg func(m *l7.Message)) (stopped bool, errs int) {
	t.Helper()
	var buf [2][]byte
	var m l7.Message
	for _, st := range chunks {
		data := []byte(st.Data)
		for len(data) > 0 {
			k := len(data)
			if piece > 0 && piece < k {
				k = piece
			}
			buf[st.Dir] = append(buf[st.Dir], data[:k]...)
			data = data[k:]
			for len(buf[st.Dir]) > 0 {
				m.Reset()
				n, ok, err := p.Parse(buf[st.Dir], st.Dir, &m)
				if n < 0 || n > len(buf[st.Dir]) {
					t.Fatalf("consumed %d of %d", n, len(buf[st.Dir]))
				}
				if ok {
					if err != nil {
						t.Fatalf("message with error %v", err)
					}
					onMsg(&m)
				}
				buf[st.Dir] = buf[st.Dir][n:]
				if errors.Is(err, l7.ErrStop) {
					return true, errs
				}
				if errors.Is(err, l7.ErrNeedMore) {
					break
				}
				if err != nil {
					errs++
					p.Gap(st.Dir, 0)
					continue
				}
				if n == 0 && !ok {
					t.Fatalf("no progress")
				}
			}
		}
	}
	return false, errs
}

// CompareMessages fails the test at once when got and want differ in
// length, and reports each index where they differ otherwise. label
// prefixes the messages ("piece 5").
func CompareMessages[T comparable](t testing.TB, label string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d messages, want %d: %+v", label, len(got), len(want), got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: message %d\n got %+v\nwant %+v", label, i, got[i], want[i])
		}
	}
}
