package mysql

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

func TestParser_Reset(t *testing.T) {
	var cases []l7test.Case
	for _, tc := range benchCases() {
		if tc.cmd == nil && !tc.compressed {
			cases = append(cases, l7test.Case{Name: tc.name, In: tc.data, Dir: tc.dir})
		}
	}
	cases = append(cases, l7test.Case{Name: "greeting", In: greetingPkt("8.0.36", 0xffffffff), Dir: l7.ToClient})
	l7test.CheckReset(t, New(nil), cases...)
}
