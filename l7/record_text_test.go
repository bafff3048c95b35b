package l7

import "testing"

func TestRecord_AppendTextControlBytes(t *testing.T) {
	r := Record{L7Protocol: "HTTP", HasRequest: true, RequestType: []byte("GET"),
		RequestDomain: []byte("a\x00b\x7f"), RequestResource: []byte("\n/x\ty\x1f")}
	want := "HTTP  >  GET a.b. ./x.y."
	if got := string(r.AppendText(nil)); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestPutTextField_ControlBytes(t *testing.T) {
	ref := func(v []byte) string {
		if len(v) == 0 {
			return ""
		}
		out := []byte{' '}
		for _, c := range v {
			if c < 0x20 || c == 0x7f {
				c = '.'
			}
			out = append(out, c)
		}
		return string(out)
	}
	base := []byte("GET /api/v1/items?q=caf\xc3\xa9&page=2 x\x80\xff~ ")
	for n := 0; n <= len(base); n++ {
		for pos := -1; pos < n; pos++ {
			for _, c := range []byte{0, 0x1f, 0x7f, '\n'} {
				v := append([]byte(nil), base[:n]...)
				if pos >= 0 {
					v[pos] = c
				}
				b := make([]byte, 1+1+len(v)+8)
				b[0] = 'x'
				if got, want := string(b[:putTextField(b, 1, v)]), "x"+ref(v); got != want {
					t.Fatalf("putTextField(%q) = %q, want %q", v, got, want)
				}
			}
		}
	}
}
