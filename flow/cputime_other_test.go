//go:build !unix

package flow

func cpuTime() int64 { return 0 }
