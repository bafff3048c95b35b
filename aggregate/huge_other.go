//go:build !linux

package aggregate

func adviseHuge[T any](s []T) {}
