//go:build !unix

package encoding_test

func cpuTime() int64 { return 0 }
