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
