package http2_test

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7/http2"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

func TestParser_Reset(t *testing.T) {
	l7test.CheckReset(t, http2.New(nil), benchCases()...)
}
