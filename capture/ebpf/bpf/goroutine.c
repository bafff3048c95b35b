// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// goroutine.c: goroutine tracking for the syscall trace id (goroutine.h).
// Uprobes on functions of the Go runtime of a tracked executable:
//
//   runtime.execute(gp *g, inheritTime bool), entry (scheduler mode only):
//   the thread is about to run gp; go_running[thread] = gp.goid. Every
//   switch to a goroutine goes through execute (schedule, exitsyscall's
//   slow path, locked threads), except coroutine switches (iter.Pull),
//   which are not seen. In register mode (the default) the syscall probes
//   read the goroutine from Go's g register instead (goroutine.h), which
//   spares a uprobe at every goroutine switch.
//
//   runtime.newproc1(fn, callergp *g, ...) *g, every RET instruction
//   (never a uretprobe: it breaks Go's stack unwinding): a RET reads the
//   new g from the first result register, its parent from g.parentGoid
//   (Go 1.21 and later), and copies the parent's trace state to the child.
//   When the parentGoid offset is unknown, a probe at the entry saves
//   callergp's goid for the thread instead (newproc1 runs on the thread's
//   g0 stack to its end).
//
//   runtime.goexit0(gp *g), entry (scheduler mode only): gp ended; its
//   state is deleted (in register mode states are only evicted).
//
// The goroutine id is read at the offset of runtime.g.goid that the loader
// passes in the attach cookie (goroutine.h: go_proc_of), from the binary's
// DWARF or a table of Go versions. The first probe to fire in a process of
// the executable records it in go_procs. Go's register ABI (Go 1.17 amd64, 1.18 arm64)
// passes gp in the first argument register, callergp in the second.

#include "tls.h"
#include "goroutine.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// go_spawning: the parent goroutine of the newproc1 call a thread is in.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);   // pid_tgid
	__type(value, __u64); // parent goid
} go_spawning SEC(".maps");

// go_counters: per-CPU counts of what the probes did (GoroutineStats).
#define GC_EXECUTE 0   // execute probes run
#define GC_SPAWN 1     // newproc1 returns seen
#define GC_INHERIT 2   // children that got their parent's state
#define GC_EXIT 3      // goexit0 probes run
#define GC_READ_FAIL 4 // goroutine ids that could not be read
#define GC_N 5

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GC_N);
	__type(key, __u32);
	__type(value, __u64);
} go_counters SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *n = bpf_map_lookup_elem(&go_counters, &i);
	if (n)
		*n += 1; // per CPU; uprobe programs run with migration disabled
}

// register_proc records the current process as a tracked Go program, the
// first time a probe fires in it.
static __always_inline void register_proc(__u64 pid_tgid, __u64 cookie)
{
	__u32 tgid = pid_tgid >> 32;
	if (bpf_map_lookup_elem(&go_procs, &tgid))
		return;
	struct go_proc p = go_proc_of(cookie);
	bpf_map_update_elem(&go_procs, &tgid, &p, BPF_NOEXIST);
}

// goid_of reads g.goid; 0 when it cannot be read.
static __always_inline __u64 goid_of(__u64 g, __u64 cookie)
{
	__u64 goid = 0;
	if (!g || bpf_probe_read_user(&goid, sizeof(goid), (void *)(g + (cookie & 0xffff))) < 0) {
		count(GC_READ_FAIL);
		return 0;
	}
	return goid;
}

SEC("uprobe/go_execute")
int go_execute(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!mf_traced(id))
		return 0;
	count(GC_EXECUTE);
	__u64 cookie = bpf_get_attach_cookie(ctx);
	register_proc(id, cookie);
	__u64 goid = goid_of(GO_ARG1(ctx), cookie);
	// Rewritten in place: an update allocates.
	__u64 *cur = bpf_map_lookup_elem(&go_running, &id);
	if (cur)
		*cur = goid;
	else if (goid)
		bpf_map_update_elem(&go_running, &id, &goid, BPF_ANY);
	return 0;
}

SEC("uprobe/go_newproc1")
int go_newproc1(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!mf_traced(id))
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	register_proc(id, cookie);
	__u64 parent = goid_of(GO_ARG2(ctx), cookie);
	struct go_trace_key k = {.goid = parent, .tgid = id >> 32};
	if (!parent || !bpf_map_lookup_elem(&go_trace, &k)) {
		bpf_map_delete_elem(&go_spawning, &id); // nothing to inherit
		return 0;
	}
	bpf_map_update_elem(&go_spawning, &id, &parent, BPF_ANY);
	return 0;
}

SEC("uprobe/go_newproc1_ret")
int go_newproc1_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 newg = GO_RET1(ctx);
	struct go_trace_key pk = {.tgid = id >> 32};
	__u64 poff = cookie >> GO_COOKIE_PARENT_SHIFT;
	if (poff) {
		// Go 1.21 and later: newproc1 set newg.parentGoid; no entry probe.
		if (!mf_traced(id))
			return 0;
		register_proc(id, cookie);
		if (!newg || bpf_probe_read_user(&pk.goid, sizeof(pk.goid), (void *)(newg + poff)) < 0 || !pk.goid)
			return 0;
	} else {
		__u64 *p = bpf_map_lookup_elem(&go_spawning, &id);
		if (!p)
			return 0;
		pk.goid = *p;
		bpf_map_delete_elem(&go_spawning, &id);
	}
	struct trace_state *ts = bpf_map_lookup_elem(&go_trace, &pk);
	if (!ts)
		return 0;
	count(GC_SPAWN);
	__u64 child = goid_of(newg, cookie);
	if (!child)
		return 0;
	struct trace_state c = *ts;
	struct go_trace_key ck = {.goid = child, .tgid = id >> 32};
	bpf_map_update_elem(&go_trace, &ck, &c, BPF_ANY);
	count(GC_INHERIT);
	return 0;
}

SEC("uprobe/go_goexit0")
int go_goexit0(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!mf_traced(id))
		return 0;
	count(GC_EXIT);
	struct go_trace_key k = {.goid = goid_of(GO_ARG1(ctx), bpf_get_attach_cookie(ctx)), .tgid = id >> 32};
	if (k.goid)
		bpf_map_delete_elem(&go_trace, &k);
	return 0;
}

// A thread exits: forget the goroutine it ran, and the process when its
// leader exits, so that a thread or process reusing the id starts clean.
// (Every exit of the machine runs it: two map deletes.)
SEC("raw_tracepoint/sched_process_exit")
int go_task_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	bpf_map_delete_elem(&go_running, &id);
	if ((__u32)id == tgid)
		bpf_map_delete_elem(&go_procs, &tgid);
	return 0;
}
