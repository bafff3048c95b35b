// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// goroutine.h: the syscall trace state, per thread or per goroutine, and
// the maps that socket.c (the syscall probes, which apply the trace id
// rule) and goroutine.c (the Go runtime uprobes, which say which goroutine
// a thread runs and which goroutine started which) share. Both objects
// declare the maps; the Go loader hands socket.o's to goroutine.o through
// CollectionOptions.MapReplacements.
//
// For a thread of a tracked Go process (one with an entry in go_running),
// the state is kept in go_trace under (tgid, goid) instead of in
// thread_trace under the thread: the goroutine that read a request keeps
// its id across the threads it runs on, and a goroutine it starts begins
// with a copy of its state (runtime.newproc1). Other threads use
// thread_trace.

#ifndef __MF_GOROUTINE_H
#define __MF_GOROUTINE_H

#include "common.h"

// trace_state: the syscall trace id state of a thread or a goroutine.
struct trace_state {
	__u64 id;
	__u64 sk;  // socket of the last ingress call
	__u8 dir;  // direction of the last data call
	__u8 _pad[7];
};

struct go_trace_key {
	__u64 goid;
	__u32 tgid;
	__u32 _pad;
};

// go_running: the goroutine each thread of a tracked Go process runs, as
// runtime.execute last set it. Entries of threads that ended are evicted.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);   // pid_tgid
	__type(value, __u64); // goid
} go_running SEC(".maps");

// go_trace: the trace state of a goroutine, deleted when it exits
// (runtime.goexit0) or evicted.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct go_trace_key);
	__type(value, struct trace_state);
} go_trace SEC(".maps");

#endif // __MF_GOROUTINE_H
