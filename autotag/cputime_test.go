//go:build unix

package autotag

import "syscall"

// cpuTime returns the CPU time the process has used, in ns: on a shared,
// loaded machine it tracks the work done better than the wall clock.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
