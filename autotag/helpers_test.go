package autotag_test

import (
	"runtime"

	"github.com/metaflow-go/metaflow/tag"
)

func tagSide(s uint8) tag.Side { return tag.Side(s) }

func testingYield() { runtime.Gosched() }
