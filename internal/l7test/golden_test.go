package l7test

import (
	"slices"
	"testing"
)

func TestCompareMultiset(t *testing.T) {
	tests := []struct {
		name      string
		got, want []string
		fail      bool
	}{
		{"equal in another order", []string{"b", "a", "a"}, []string{"a", "b", "a"}, false},
		{"missing duplicate", []string{"a", "b"}, []string{"a", "a", "b"}, true},
		{"extra", []string{"a", "c"}, []string{"a"}, true},
		{"both empty", nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			CompareMultiset(rec, "lines", slices.Clone(tc.got), tc.want)
			if rec.failed != tc.fail {
				t.Errorf("failed = %v, want %v", rec.failed, tc.fail)
			}
		})
	}
}

// recorder notes Errorf calls instead of failing the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }

func TestSortByConn(t *testing.T) {
	in := []string{
		"resp\tc2\ts\t200",
		"req\tc2\ts\tGET /b",
		"req\tc1\ts\tGET /z",
		"req\tc2\ts\tGET /a",
		"req\tc1\ts\tGET /y",
		"req",
	}
	want := []string{
		"req",
		"req\tc1\ts\tGET /z",
		"req\tc1\ts\tGET /y",
		"req\tc2\ts\tGET /b",
		"req\tc2\ts\tGET /a",
		"resp\tc2\ts\t200",
	}
	SortByConn(in)
	if !slices.Equal(in, want) {
		t.Errorf("got %q\nwant %q", in, want)
	}
}
