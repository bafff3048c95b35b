package l7test

import (
	"testing"
)

func TestInOrder_Add(t *testing.T) {
	type seg struct {
		seq     uint32
		syn     bool
		payload string
		gap     int
		ok      bool
		buf     string // Buf after the call
	}
	tests := []struct {
		name string
		segs []seg
	}{
		{"in order after SYN", []seg{
			{seq: 99, syn: true},
			{seq: 100, payload: "abc", ok: true, buf: "abc"},
			{seq: 103, payload: "de", ok: true, buf: "abcde"},
		}},
		{"start without SYN", []seg{
			{seq: 7, payload: "x", ok: true, buf: "x"},
		}},
		{"empty and retransmitted", []seg{
			{seq: 0, payload: "abcd", ok: true, buf: "abcd"},
			{seq: 4, buf: "abcd"},
			{seq: 0, payload: "abcd", buf: "abcd"},
			{seq: 2, payload: "cd", buf: "abcd"},
		}},
		{"partial overlap", []seg{
			{seq: 0, payload: "abcd", ok: true, buf: "abcd"},
			{seq: 2, payload: "cdef", ok: true, buf: "abcdef"},
		}},
		{"hole", []seg{
			{seq: 0, payload: "ab", ok: true, buf: "ab"},
			{seq: 5, payload: "fg", gap: 3, ok: true, buf: "fg"},
			{seq: 7, payload: "h", ok: true, buf: "fgh"},
		}},
		{"sequence wrap", []seg{
			{seq: 0xfffffffe, payload: "ab", ok: true, buf: "ab"},
			{seq: 0, payload: "c", ok: true, buf: "abc"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h InOrder
			for i, s := range tc.segs {
				gap, ok := h.Add(s.seq, s.syn, []byte(s.payload))
				if gap != s.gap || ok != s.ok || string(h.Buf) != s.buf {
					t.Errorf("segment %d: Add = (%d, %v), Buf %q; want (%d, %v), %q", i, gap, ok, h.Buf, s.gap, s.ok, s.buf)
				}
			}
		})
	}
}

func TestInOrder_AddDoesNotAlias(t *testing.T) {
	var h InOrder
	p := []byte("abcd")
	h.Add(0, false, p)
	p[0] = 'x'
	cut := h.Buf[2:]
	h.Buf = cut
	h.Add(4, false, []byte("ef"))
	if string(h.Buf) != "cdef" || string(cut) != "cd" {
		t.Errorf("Buf %q, earlier cut %q", h.Buf, cut)
	}
}
