//go:build !unix

package http1_test

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
