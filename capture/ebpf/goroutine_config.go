package ebpf

import "time"

// DefaultGoroutineRescan is how often the goroutine probes look for new Go
// programs (GoroutineConfig.ScanProcs).
const DefaultGoroutineRescan = 10 * time.Second

// GoroutineConfig says which Go programs' goroutines to track. The zero
// value tracks none.
//
// A tracked program's system call events carry the goroutine that made
// the call in Event.Goroutine, and their SyscallTraceID follows the
// syscall trace id rule per goroutine instead of per thread: the
// goroutine that read a request keeps its id on whatever thread it runs,
// and a goroutine it starts (a go statement) begins with its state, so
// that the outbound calls of both carry the request's id (or, after a
// response was read, the id that read started, which the response's
// record links back). See the package documentation for what is not
// followed.
type GoroutineConfig struct {
	// Binaries are paths of Go executables (Go 1.18 or later, amd64 or
	// arm64, stripped or not) to track; /proc/PID/exe names the executable
	// of a running process. The uprobes attach to the file, so every
	// process running it, now or later, is tracked. Default none.
	Binaries []string
	// ScanProcs also tracks every running Go program found through
	// /proc/PID/exe, except the calling process; when the Tracer filters by
	// pid (Config.Pids, AddPids), only those processes. Rescans find
	// programs started later. Default false.
	ScanProcs bool
	// Rescan is how often ScanProcs looks for new Go programs. Default
	// 10 s; negative: only at start.
	Rescan time.Duration
	// FollowScheduler finds the goroutine a thread runs with a uprobe on
	// runtime.execute, which sees every goroutine switch, instead of
	// reading Go's g register (amd64 R14, arm64 R28) at each system call
	// and checking it against the thread (g.m.procid). Default false: the
	// register, which costs no uprobe per switch (a uprobe costs 10-45 µs
	// on the VMs this was measured on; a net/http request makes about 10
	// switches). Executables whose runtime.m offsets are unknown (stripped,
	// a Go version outside the table) follow the scheduler either way.
	FollowScheduler bool
}

// enabled reports whether the config asks for any goroutine probe.
func (c *GoroutineConfig) enabled() bool {
	return len(c.Binaries) > 0 || c.ScanProcs
}

// GoroutineStats counts what the goroutine probes attached to and did.
type GoroutineStats struct {
	Binaries    uint64 // Go executables attached (distinct inodes)
	Probes      uint64 // uprobes attached
	AttachFails uint64 // Go executables that could not be attached
	Scans       uint64 // scans for new programs done

	// Kernel counters (summed over CPUs).
	Executes  uint64 // goroutine switches seen (runtime.execute)
	Spawns    uint64 // goroutines started by a goroutine with a trace state
	Inherited uint64 // of those, started with their parent's state
	Exits     uint64 // goroutine exits seen (runtime.goexit0)
	ReadFails uint64 // goroutine ids that could not be read
}
