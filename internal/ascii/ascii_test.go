package ascii

import "testing"

func TestEqualFoldLower(t *testing.T) {
	tests := []struct {
		b, lower string
		want     bool
	}{
		{"Content-Length", "content-length", true},
		{"CONTENT-LENGTH", "content-length", true},
		{"content-length", "content-length", true},
		{"Content-Lengt", "content-length", false},
		{"Content-Lengths", "content-length", false},
		{"Content_Length", "content-length", false},
		{"", "", true},
		{"", "x", false},
		{"SET", "set", true},
		{"SeT", "sex", false},
		{"[", "{", false},       // '[' is not 'A'..'Z': never folded
		{"@", "`", false},       // the bytes just before 'A' and 'a'
		{"\xc9", "\xe9", false}, // Latin-1 É and é: not ASCII
	}
	for _, tc := range tests {
		if got := EqualFoldLower([]byte(tc.b), tc.lower); got != tc.want {
			t.Errorf("EqualFoldLower(%q, %q) = %v, want %v", tc.b, tc.lower, got, tc.want)
		}
	}
}

func TestEqualFoldLower_Allocs(t *testing.T) {
	b := []byte("Transfer-Encoding")
	if a := testing.AllocsPerRun(100, func() { EqualFoldLower(b, "transfer-encoding") }); a != 0 {
		t.Errorf("%v allocations", a)
	}
}

func BenchmarkEqualFoldLower(b *testing.B) {
	in := []byte("Transfer-Encoding")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		EqualFoldLower(in, "transfer-encoding")
	}
}
