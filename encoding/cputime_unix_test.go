//go:build unix

package encoding_test

import "syscall"

// cpuTime returns the CPU time the process has used (user + system), in
// ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
