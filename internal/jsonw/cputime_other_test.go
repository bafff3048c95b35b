//go:build !unix

package jsonw_test

func cpuTime() int64 { return 0 }
