// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// common.h: what every eBPF object of capture/ebpf shares with the others
// and with the Go reader: the event header, the one output ring buffer, the
// map through which TLS library probes tell the syscall probes that a call
// is theirs, the loss counter and the pid/cgroup filter.
//
// Maps declared here are "static" in each object: every object declares
// them, and the Go loader loads socket.o first and hands its maps to the
// other objects through CollectionOptions.MapReplacements, so that all of
// them write into one ring buffer and see one tls_active table.
//
// Layout of a ring buffer record: struct mf_event (fixed, 144 bytes), then
// payload_len bytes of payload. Every field is in host byte order except
// the addresses, which are in network order as the kernel holds them.

#ifndef __MF_COMMON_H
#define __MF_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define MF_COMM_LEN 16
#define MF_MAX_PAYLOAD 16384 // largest payload a record may carry

// Kinds: the same numbers as socket.Kind.
#define MF_KIND_DATA 1
#define MF_KIND_OPEN 2
#define MF_KIND_CLOSE 3
#define MF_KIND_STATE 4
#define MF_KIND_RETRANSMIT 5

// Origins: the same numbers as socket.Origin.
#define MF_ORIGIN_SYSCALL 0
#define MF_ORIGIN_OPENSSL 1
#define MF_ORIGIN_GOTLS 2

// Directions: the same numbers as socket.Direction.
#define MF_EGRESS 1
#define MF_INGRESS 2

// Roles: the same numbers as socket.Role.
#define MF_ROLE_UNKNOWN 0
#define MF_ROLE_CLIENT 1
#define MF_ROLE_SERVER 2

// flags
#define MF_FLAG_HAS_SEQ (1u << 0)   // tcp_seq is valid
#define MF_FLAG_HAS_ADDR (1u << 1)  // family, ports and addresses are valid
#define MF_FLAG_TRUNCATED (1u << 2) // payload_len < length (capture size)
#define MF_FLAG_TLS_SKIPPED (1u << 3) // a TLS probe owns this call: no payload

// struct mf_event is the fixed head of every ring buffer record. Its size is
// a multiple of 8 and its layout is mirrored by the Go decoder: change both.
struct mf_event {
	__u8 kind;      // MF_KIND_*
	__u8 origin;    // MF_ORIGIN_*
	__u8 direction; // MF_EGRESS, MF_INGRESS (data), 0 otherwise
	__u8 role;      // MF_ROLE_*
	__u8 transport; // IPPROTO_TCP (6), IPPROTO_UDP (17), 0 unknown
	__u8 family;    // AF_INET (2), AF_INET6 (10), 0 unknown
	__u8 old_state; // TCP states (MF_KIND_STATE)
	__u8 new_state;
	__u32 pid;      // tgid
	__u32 tid;
	__s32 fd;       // -1 unknown
	__u32 flags;    // MF_FLAG_*
	char comm[MF_COMM_LEN];
	__u64 cgroup_id;
	__u64 goroutine;   // Go TLS, and syscalls of tracked Go threads: goroutine id
	__u64 socket_id;   // the sock's cookie (bpf_get_socket_cookie semantics)
	__u64 enter_ns;    // CLOCK_MONOTONIC (bpf_ktime_get_ns)
	__u64 exit_ns;
	__s64 length;      // bytes the call returned
	__u64 syscall_trace_id;
	__u32 tcp_seq;     // first payload byte (MF_FLAG_HAS_SEQ)
	__u16 lport;       // host order
	__u16 rport;       // host order
	__u8 laddr[16];    // IPv4 in the first 4 bytes, network order
	__u8 raddr[16];
	__u32 payload_len; // bytes of payload after this header
	__u32 _pad;
};

// events: the one output ring buffer. Its size is set by the Go loader.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} events SEC(".maps");

// tls_active: a TLS library call (SSL_read, SSL_write, ...) in progress on
// a thread. The TLS probes insert the entry at the call's entry and delete
// it at its return; the syscall probes, finding pid_tgid here at the enter
// of a data syscall, store the socket's fd in the value and emit the data
// event without payload (MF_FLAG_TLS_SKIPPED), since the TLS probe emits
// the plaintext.
struct tls_active_val {
	__u32 fd;    // set by the syscall probe; 0 until then
	__u32 flags; // free for the TLS probes
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64); // pid_tgid
	__type(value, struct tls_active_val);
} tls_active SEC(".maps");

// lost_events[0]: per-CPU count of records the ring buffer had no room for.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost_events SEC(".maps");

// Filters. When filter_pids (resp. filter_cgroups) is set at load, only
// tasks whose tgid is a key of pid_filter (resp. whose cgroup id is a key
// of cgroup_filter) are traced.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_filter SEC(".maps");

// Load-time constants, set through cilium/ebpf's CollectionSpec.Variables.
volatile const __u8 filter_pids = 0;
volatile const __u8 filter_cgroups = 0;
// The reader is woken up only once this many bytes wait in the ring (it
// also polls on a short deadline), which saves most wake-ups under load.
volatile const __u64 wakeup_bytes = 256 * 1024;

// mf_traced reports whether the current task passes the filters.
static __always_inline int mf_traced(__u64 pid_tgid)
{
	if (filter_pids) {
		__u32 tgid = pid_tgid >> 32;
		if (!bpf_map_lookup_elem(&pid_filter, &tgid))
			return 0;
	}
	if (filter_cgroups) {
		__u64 cg = bpf_get_current_cgroup_id();
		if (!bpf_map_lookup_elem(&cgroup_filter, &cg))
			return 0;
	}
	return 1;
}

// mf_fill_task fills the task fields of an event from the current task.
static __always_inline void mf_fill_task(struct mf_event *e, __u64 pid_tgid)
{
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

static __always_inline void mf_count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost_events, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

// mf_submit copies size bytes (an mf_event and its payload) into the ring
// buffer, waking the reader only when wakeup_bytes wait, and counts a loss
// when the ring is full. size must be bounded for the verifier.
static __always_inline int mf_submit(void *rec, __u64 size)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	long err = bpf_ringbuf_output(&events, rec, size, flags);
	if (err)
		mf_count_lost();
	return err;
}

#endif // __MF_COMMON_H
