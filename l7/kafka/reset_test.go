package kafka

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7/l7test"
)

func TestParser_Reset(t *testing.T) {
	l7test.CheckReset(t, New(nil), benchCases()...)
}
