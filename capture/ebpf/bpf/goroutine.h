// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// goroutine.h: the syscall trace state, per thread or per goroutine, and
// the maps that socket.c (the syscall probes, which apply the trace id
// rule) and goroutine.c (the Go runtime uprobes, which say which goroutine
// a thread runs and which goroutine started which) share. Both objects
// declare the maps; the Go loader hands socket.o's to goroutine.o through
// CollectionOptions.MapReplacements.
//
// For a thread of a tracked Go process (go_procs) running a goroutine
// (mf_goid), the state is kept in go_trace under (tgid, goid) instead of in
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

// go_procs: the tracked Go processes, with the runtime's struct offsets
// and how their threads' goroutines are found. The loader inserts the
// processes it knows of; the runtime probes insert any other process of a
// tracked executable the first time they fire in it.
struct go_proc {
	__u16 goid_off;   // runtime.g.goid
	__u16 m_off;      // runtime.g.m
	__u16 procid_off; // runtime.m.procid
	__u8 regs;        // 1: the g register at the system call; 0: go_running
	__u8 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); // tgid
	__type(value, struct go_proc);
} go_procs SEC(".maps");

// The attach cookie of the runtime probes: the offsets of struct go_proc
// (bits 0-15 goid, 16-31 m, 32-47 procid), bit 48 its regs, bits 49-63 the
// offset of runtime.g.parentGoid (0: unknown).
#define GO_COOKIE_REGS (1ull << 48)
#define GO_COOKIE_PARENT_SHIFT 49

static __always_inline struct go_proc go_proc_of(__u64 cookie)
{
	struct go_proc p = {
		.goid_off = cookie & 0xffff,
		.m_off = (cookie >> 16) & 0xffff,
		.procid_off = (cookie >> 32) & 0xffff,
		.regs = (cookie & GO_COOKIE_REGS) ? 1 : 0,
	};
	return p;
}

// Offset in the kernel's struct pt_regs of the register Go keeps the
// current g in: R14 on amd64, R28 on arm64.
#if defined(__TARGET_ARCH_arm64)
#define GO_G_REG_OFF (28 * 8)
#else
#define GO_G_REG_OFF (1 * 8) // r15, r14, ...
#endif

// mf_goid returns the goroutine the current thread runs when its process
// is a tracked Go program, else 0. In register mode the g comes from the
// register Go's ABI keeps it in, as the thread entered the system call, and
// is trusted only when g.m.procid is the thread's id (not so for a C
// thread of a cgo program, or a garbage register); g0, the scheduler's
// goroutine, has id 0. In scheduler mode it is what runtime.execute last
// recorded for the thread.
static __always_inline __u64 mf_goid(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;
	struct go_proc *p = bpf_map_lookup_elem(&go_procs, &tgid);
	if (!p)
		return 0;
	if (!p->regs) {
		__u64 *g = bpf_map_lookup_elem(&go_running, &pid_tgid);
		return g ? *g : 0;
	}
	void *regs = (void *)bpf_task_pt_regs(bpf_get_current_task_btf());
	__u64 g = 0, goid = 0, m = 0, procid = 0;
	if (bpf_probe_read_kernel(&g, sizeof(g), regs + GO_G_REG_OFF) || !g)
		return 0;
	if (bpf_probe_read_user(&m, sizeof(m), (void *)(g + p->m_off)) || !m)
		return 0;
	if (bpf_probe_read_user(&procid, sizeof(procid), (void *)(m + p->procid_off)) || procid != (__u32)pid_tgid)
		return 0;
	if (bpf_probe_read_user(&goid, sizeof(goid), (void *)(g + p->goid_off)))
		return 0;
	return goid;
}

#endif // __MF_GOROUTINE_H
