package l7test_test

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// Reset makes lineParser an l7.Resetter; with the bug "reset-keeps-skip"
// it forgets to clear the state a gap left.
func (p *lineParser) Reset(l7.Transport) {
	skip := p.skip
	*p = lineParser{bug: p.bug}
	if p.bug == "reset-keeps-skip" {
		p.skip = skip
	}
}

func TestCheckReset(t *testing.T) {
	cases := []l7test.Case{
		{Name: "request", In: []byte("GET a\nGET b\n"), Dir: l7.ToServer},
		{Name: "response", In: []byte("+a\n-b\n"), Dir: l7.ToClient},
	}
	l7test.CheckReset(t, &lineDecoder{}, cases...)
	ft := runFake(t, func(tb testing.TB) { l7test.CheckReset(tb, &lineDecoder{bug: "reset-keeps-skip"}, cases...) })
	if !ft.failed || !strings.Contains(strings.Join(ft.msgs, "\n"), "and Reset") {
		t.Errorf("a Reset that keeps a gap's state passed: %q", ft.msgs)
	}
}
