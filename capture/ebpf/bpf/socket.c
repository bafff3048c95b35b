// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// socket.c: the socket tracer. System call enter/exit hooks see what
// processes read from and write to TCP and UDP sockets (payload prefix,
// length, TCP sequence, addresses), which connections they open and close;
// the sock:inet_sock_set_state and tcp:tcp_retransmit_skb raw tracepoints
// see the sockets' TCP life and retransmissions.
//
// The syscall hooks come in two forms with one body: classic tracepoints
// (syscalls:sys_enter_X / sys_exit_X, one program attached to each, which
// needs tracefs) and the raw tracepoints sys_enter / sys_exit that fire on
// every system call and dispatch on its number (no tracefs needed).
//
// Enter saves the call (fd, buffer, the socket found behind the fd, the
// egress TCP sequence) in `pending`, keyed by thread; exit reads the
// result, copies the payload into a per-CPU scratch and writes one record
// into the `events` ring (common.h).

#include "common.h"
#include "goroutine.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// bpf_rdonly_cast (kfunc, 6.2+): a kernel pointer read from memory becomes
// a BTF pointer again, read with plain (fault-safe) loads.
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

// BTF views of kernel pointers held as numbers.
#define AS_SOCK(p) ((struct sock *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(struct sock)))
#define AS_TCP(p) ((struct tcp_sock *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(struct tcp_sock)))

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115
#define TCP_CLOSE 7
#define TCP_LISTEN 10

// clamp bounds a payload size to MF_MAX_PAYLOAD in a way the verifier sees
// (barrier_var keeps clang from folding the check).
static __always_inline __u64 clamp(__u64 n)
{
	barrier_var(n);
	if (n > MF_MAX_PAYLOAD)
		n = MF_MAX_PAYLOAD;
	barrier_var(n);
	return n;
}

#define MAX_IOV 32  // iovecs copied per message
#define MAX_MMSG 16 // messages reported per sendmmsg/recvmmsg call

// Operations: what the enter hook saw.
#define OP_BUF 1     // read, write, sendto, recvfrom: one buffer
#define OP_IOV 2     // readv, writev: an iovec array
#define OP_MSG 3     // sendmsg, recvmsg: a msghdr
#define OP_MMSG 4    // sendmmsg, recvmmsg: an mmsghdr array
#define OP_CONNECT 5 // connect
#define OP_ACCEPT 6  // accept, accept4
#define OP_CLOSE 7   // close

// capture_size: payload bytes copied per data event (<= MF_MAX_PAYLOAD).
volatile const __u32 capture_size = 4096;
// self_tgid: a process whose system calls are not traced (the tracer's own,
// so that what it sends of the events is not traced again); 0 for none.
volatile const __u32 self_tgid = 0;
// id_epoch: the top 16 bits of the socket and trace ids this load makes
// (the loader's clock), so that ids of two runs of the tracer differ; the
// CPU (12 bits) and a per-CPU counter (36 bits) make the rest.
volatile const __u64 id_epoch = 0;

struct pending {
	__u64 enter_ns;
	__u64 buf;  // buffer, iovec array, msghdr or mmsghdr array
	__u64 sk;   // struct sock * behind fd (0 for accept)
	__u64 ino;  // the socket's inode number (sockfs)
	__u64 addr; // sendto/recvfrom: the peer's sockaddr (unconnected UDP)
	__s32 fd;
	__u32 vlen; // iovcnt or mmsg vlen
	__u32 seq;  // TCP: write_seq (egress) or copied_seq (ingress) at enter
	__u8 op;
	__u8 dir;
	__u8 tls;   // a TLS probe owns the call
	__u8 _pad;
};

// One entry per thread that made a traced call, op 0 between calls; an LRU
// map, so that entries of threads that ended are evicted.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64); // pid_tgid
	__type(value, struct pending);
} pending SEC(".maps");

// sock_info: what the tracer knows of a socket, keyed by its struct sock
// pointer. The id is allocated on first sight; the sockfs inode number
// tells a reused struct sock from the one it replaced. A TCP socket's
// entry is marked dead when it reaches TCP_CLOSE (then only calls on the
// same sockfs inode, such as the final close(), still find it); a UDP one
// is deleted at close().
struct sock_info {
	__u64 id;
	__u64 ino;
	__u32 pid;
	__u32 tid;
	__u8 role;
	__u8 dead; // reached TCP_CLOSE: only the same socket's calls may reuse the entry
	__u8 _pad[6];
	char comm[MF_COMM_LEN];
	__u64 cgroup_id;
	// The syscall trace id rule's view of the socket: the direction of its
	// last data call (by any thread) and the id its last ingress carried.
	__u64 last_in_id;
	__u8 last_dir;
	__u8 _pad2[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sock_info);
} sock_info SEC(".maps");

// listeners: the process that put a local TCP port in LISTEN (its listen()
// call runs the state change), so that the sockets the kernel creates for
// that port's connections before accept() are attributed to it.
struct port_owner {
	__u32 pid;
	__u32 tid;
	__u64 cgroup_id;
	char comm[MF_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u16); // local port
	__type(value, struct port_owner);
} listeners SEC(".maps");

// thread_trace: the syscall trace id of a thread (AUTOTRACING.md); struct
// trace_state is in goroutine.h, with the per-goroutine state.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct trace_state);
} thread_trace SEC(".maps");

// id_counter[0]: per-CPU counter for socket and trace ids.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} id_counter SEC(".maps");

// scratch: one record under construction per CPU (a plain array indexed
// by CPU: the payload area is twice the capture limit so that the verifier
// can bound a copy at any offset below the limit).
struct scratch {
	struct mf_event e;
	__u8 payload[2 * MF_MAX_PAYLOAD];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); // set to the number of possible CPUs at load
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

// Shapes of the classic syscall tracepoint records (see the format files).
struct tp_enter {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__u64 args[6];
};

struct tp_exit {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__s64 ret;
};

// User-space ABI structs (64-bit).
struct u_iovec {
	__u64 base;
	__u64 len;
};

struct u_msghdr {
	__u64 name;
	__u32 namelen;
	__u32 _pad0;
	__u64 iov;
	__u64 iovlen;
	__u64 control;
	__u64 controllen;
	__u32 flags;
	__u32 _pad1;
};

struct u_mmsghdr {
	struct u_msghdr hdr;
	__u32 len;
	__u32 _pad;
};

static __always_inline __u64 new_id(void)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&id_counter, &zero);
	if (!c)
		return 0;
	*c += 1;
	return id_epoch | ((__u64)(bpf_get_smp_processor_id() + 1) << 36) | (*c & ((1ULL << 36) - 1));
}

// fd_sock returns the TCP or UDP (IPv4/IPv6) socket behind fd in the
// current task, or 0, and its sockfs inode number.
static __always_inline struct sock *fd_sock(__s32 fd, __u64 *ino)
{
	if (fd < 0)
		return 0;
	// BTF pointers: plain loads (fault-safe), no helper calls.
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (!fdt)
		return 0;
	unsigned int max = fdt->max_fds;
	if ((unsigned int)fd >= max)
		return 0;
	struct file **fds = fdt->fd;
	void *fp = 0;
	bpf_probe_read_kernel(&fp, sizeof(fp), &fds[fd]);
	if (!fp)
		return 0;
	struct file *f = bpf_rdonly_cast(fp, bpf_core_type_id_kernel(struct file));
	struct inode *inode = f->f_inode;
	if (!inode)
		return 0;
	if ((inode->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	if (!sock)
		return 0;
	struct sock *sk = sock->sk;
	if (!sk)
		return 0;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 proto = sk->sk_protocol;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	*ino = inode->i_ino;
	return sk;
}

// fill_sock fills the socket fields of e from sk.
// fill_sock reads the socket through a BTF pointer: plain loads.
static __always_inline void fill_sock(struct mf_event *e, struct sock *skp)
{
	struct sock *sk = bpf_rdonly_cast(skp, bpf_core_type_id_kernel(struct sock));
	struct sock_common *c = &sk->__sk_common;
	__u16 family = c->skc_family;
	e->family = family;
	e->transport = sk->sk_protocol;
	e->lport = c->skc_num;
	e->rport = bpf_ntohs(c->skc_dport);
	if (family == AF_INET) {
		__u32 l = c->skc_rcv_saddr, r = c->skc_daddr;
		__builtin_memcpy(e->laddr, &l, 4);
		__builtin_memcpy(e->raddr, &r, 4);
	} else {
		struct in6_addr l = c->skc_v6_rcv_saddr, r = c->skc_v6_daddr;
		__builtin_memcpy(e->laddr, &l, 16);
		__builtin_memcpy(e->raddr, &r, 16);
	}
	e->flags |= MF_FLAG_HAS_ADDR;
}

// sock_lookup returns the socket's entry, creating or renewing it. ino 0
// means unknown (softirq hooks): an existing entry is then trusted. owner:
// the current task owns the socket (syscall context).
static __always_inline struct sock_info *sock_lookup(struct sock *sk, __u64 ino, int owner)
{
	__u64 key = (__u64)sk;
	struct sock_info *si = bpf_map_lookup_elem(&sock_info, &key);
	if (si && si->dead ? (ino != 0 && si->ino == ino)
		       : (si && (ino == 0 || si->ino == 0 || si->ino == ino))) {
		if (ino && !si->ino)
			si->ino = ino;
		if (owner && si->pid == 0) {
			__u64 id = bpf_get_current_pid_tgid();
			si->pid = id >> 32;
			si->tid = (__u32)id;
			si->cgroup_id = bpf_get_current_cgroup_id();
			bpf_get_current_comm(si->comm, sizeof(si->comm));
		}
		return si;
	}
	struct sock_info n = {};
	n.id = new_id();
	n.ino = ino;
	if (owner) {
		__u64 id = bpf_get_current_pid_tgid();
		n.pid = id >> 32;
		n.tid = (__u32)id;
		n.cgroup_id = bpf_get_current_cgroup_id();
		bpf_get_current_comm(n.comm, sizeof(n.comm));
	}
	bpf_map_update_elem(&sock_info, &key, &n, BPF_ANY);
	return bpf_map_lookup_elem(&sock_info, &key);
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&scratch, &cpu);
}

// ---- enter ----

static __always_inline int on_enter(__u8 op, __u8 dir, __s32 fd, __u64 buf, __u64 vlen, __u64 addr)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid || !mf_traced(id))
		return 0;
	struct pending p = {};
	p.op = op;
	p.dir = dir;
	p.fd = fd;
	p.buf = buf;
	p.vlen = vlen;
	p.addr = addr;
	if (op != OP_ACCEPT) {
		struct sock *sk = fd_sock(fd, &p.ino);
		if (!sk)
			return 0;
		p.sk = (__u64)sk;
		if (dir && sk->sk_protocol == IPPROTO_TCP)
			p.seq = dir == MF_EGRESS ? AS_TCP(sk)->write_seq : AS_TCP(sk)->copied_seq;
		if (dir) {
			struct tls_active_val *t = bpf_map_lookup_elem(&tls_active, &id);
			if (t) {
				t->fd = fd;
				p.tls = 1;
			}
		}
	}
	p.enter_ns = bpf_ktime_get_ns();
	// The thread's entry is rewritten in place: an update allocates.
	struct pending *cur = bpf_map_lookup_elem(&pending, &id);
	if (cur)
		*cur = p;
	else
		bpf_map_update_elem(&pending, &id, &p, BPF_ANY);
	return 0;
}

// Syscall numbers of the traced calls.
#if defined(__TARGET_ARCH_arm64)
#define NR_read 63
#define NR_write 64
#define NR_readv 65
#define NR_writev 66
#define NR_close 57
#define NR_connect 203
#define NR_accept 202
#define NR_accept4 242
#define NR_sendto 206
#define NR_recvfrom 207
#define NR_sendmsg 211
#define NR_recvmsg 212
#define NR_recvmmsg 243
#define NR_sendmmsg 269
#else
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_readv 19
#define NR_writev 20
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_accept4 288
#define NR_recvmmsg 299
#define NR_sendmmsg 307
#endif

static __always_inline int dispatch_enter(long nr, __u64 a0, __u64 a1, __u64 a2, __u64 a4)
{
	__s32 fd = (__s32)a0;
	switch (nr) {
	case NR_read:
		return on_enter(OP_BUF, MF_INGRESS, fd, a1, 0, 0);
	case NR_recvfrom:
		return on_enter(OP_BUF, MF_INGRESS, fd, a1, 0, a4);
	case NR_write:
		return on_enter(OP_BUF, MF_EGRESS, fd, a1, 0, 0);
	case NR_sendto:
		return on_enter(OP_BUF, MF_EGRESS, fd, a1, 0, a4);
	case NR_readv:
		return on_enter(OP_IOV, MF_INGRESS, fd, a1, a2, 0);
	case NR_writev:
		return on_enter(OP_IOV, MF_EGRESS, fd, a1, a2, 0);
	case NR_recvmsg:
		return on_enter(OP_MSG, MF_INGRESS, fd, a1, 0, 0);
	case NR_sendmsg:
		return on_enter(OP_MSG, MF_EGRESS, fd, a1, 0, 0);
	case NR_recvmmsg:
		return on_enter(OP_MMSG, MF_INGRESS, fd, a1, a2, 0);
	case NR_sendmmsg:
		return on_enter(OP_MMSG, MF_EGRESS, fd, a1, a2, 0);
	case NR_connect:
		return on_enter(OP_CONNECT, 0, fd, 0, 0, 0);
	case NR_accept:
	case NR_accept4:
		return on_enter(OP_ACCEPT, 0, fd, 0, 0, 0);
	case NR_close:
		return on_enter(OP_CLOSE, 0, fd, 0, 0, 0);
	}
	return 0;
}

// ---- exit ----

// copy_iov appends up to want bytes of the iovec array to the payload at
// *off, stopping at capture_size, and returns the bytes the iovecs held
// (capped at want). A global function: the verifier checks it once.
__noinline int copy_iov(struct scratch *s, __u64 iov, __u64 iovcnt, __u64 want, __u32 *off)
{
	if (!s || !off)
		return 0;
	__u32 cap = capture_size;
	if (cap > MF_MAX_PAYLOAD)
		cap = MF_MAX_PAYLOAD;
	if (iovcnt > MAX_IOV)
		iovcnt = MAX_IOV;
	__u64 seen = 0;
	for (int i = 0; i < MAX_IOV; i++) {
		if (i >= iovcnt || seen >= want)
			break;
		struct u_iovec v = {};
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(v))))
			break;
		__u64 n = v.len;
		if (n > want - seen)
			n = want - seen;
		seen += n;
		__u64 o = *off;
		if (o >= cap)
			continue;
		if (n > cap - o)
			n = cap - o;
		o &= MF_MAX_PAYLOAD - 1; // o < cap <= MF_MAX_PAYLOAD
		n = clamp(n);
		if (bpf_probe_read_user(&s->payload[o], n, (void *)v.base))
			break;
		*off = o + n;
	}
	return seen;
}

// trace_rule applies the syscall trace id rule to a thread's or a
// goroutine's state ts (0: none yet) for a data call on socket sk (si its
// entry, 0 if none). An ingress call continues the socket's id when the
// socket's previous data call was an ingress too (the rest of a message
// whose first bytes this or another thread or goroutine read: Go's net/http
// reads the first byte of the next request from a background goroutine),
// and starts a new id otherwise; the state takes that id. Egress calls
// carry the state's id. It returns the id, and fills *n when the state is
// new and must be stored.
static __always_inline __u64 trace_rule(struct trace_state *ts, struct sock_info *si, __u8 dir, __u64 sk, struct trace_state *n)
{
	if (dir == MF_INGRESS) {
		__u64 id = 0;
		if (si) {
			if (si->last_dir == MF_INGRESS)
				id = si->last_in_id;
		} else if (ts && ts->dir == MF_INGRESS && ts->sk == sk) {
			id = ts->id;
		}
		if (!id)
			id = new_id();
		if (si) {
			si->last_dir = MF_INGRESS;
			si->last_in_id = id;
		}
		struct trace_state *w = ts ? ts : n;
		w->id = id;
		w->sk = sk;
		w->dir = MF_INGRESS;
		return id;
	}
	if (si)
		si->last_dir = MF_EGRESS;
	if (!ts)
		return 0;
	ts->dir = MF_EGRESS;
	return ts->id;
}

// trace_id returns the syscall trace id of a data call: per goroutine
// (goid != 0, a tracked Go thread) or per thread.
static __always_inline __u64 trace_id(__u64 pid_tgid, __u64 goid, struct sock_info *si, __u8 dir, __u64 sk)
{
	struct trace_state n = {};
	__u64 id;
	if (goid) {
		struct go_trace_key k = {.goid = goid, .tgid = pid_tgid >> 32};
		id = trace_rule(bpf_map_lookup_elem(&go_trace, &k), si, dir, sk, &n);
		if (n.id)
			bpf_map_update_elem(&go_trace, &k, &n, BPF_ANY);
		return id;
	}
	id = trace_rule(bpf_map_lookup_elem(&thread_trace, &pid_tgid), si, dir, sk, &n);
	if (n.id)
		bpf_map_update_elem(&thread_trace, &pid_tgid, &n, BPF_ANY);
	return id;
}

// cur_goid returns the goroutine a tracked Go thread runs, else 0.
static __always_inline __u64 cur_goid(__u64 pid_tgid)
{
	return mf_goid(pid_tgid);
}

// head fills the header of a data or open/close event.
static __always_inline void head(struct mf_event *e, __u8 kind, struct pending *p, __u64 pid_tgid, __u64 goid, struct sock *sk, struct sock_info *si)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->goroutine = goid;
	e->origin = MF_ORIGIN_SYSCALL;
	e->direction = p->dir;
	e->fd = p->fd;
	mf_fill_task(e, pid_tgid);
	e->enter_ns = p->enter_ns;
	e->exit_ns = bpf_ktime_get_ns();
	fill_sock(e, sk);
	if (si) {
		e->socket_id = si->id;
		e->role = si->role;
	}
}

static __always_inline void emit(struct scratch *s, __u64 n)
{
	n = clamp(n);
	s->e.payload_len = n;
	n &= 2 * MF_MAX_PAYLOAD - 1; // a no-op the verifier can read
	mf_submit(s, sizeof(struct mf_event) + n);
}

// user_peer fills the remote address of an unconnected socket's event from
// the sockaddr the call named (sendto, recvfrom, msg_name).
static __always_inline void user_peer(struct mf_event *e, __u64 uaddr)
{
	if (!uaddr || e->rport != 0)
		return;
	struct {
		__u16 family;
		__u16 port;
		__u32 v4;      // sockaddr_in: the address; sockaddr_in6: flowinfo
		__u8 v6[16];
	} sa = {};
	if (bpf_probe_read_user(&sa, sizeof(sa), (void *)uaddr))
		return;
	if (sa.family == AF_INET && e->family == AF_INET) {
		__builtin_memcpy(e->raddr, &sa.v4, 4);
	} else if (sa.family == AF_INET6 && e->family == AF_INET6) {
		__builtin_memcpy(e->raddr, sa.v6, 16);
	} else {
		return;
	}
	e->rport = bpf_ntohs(sa.port);
}

// ingress_seq returns the TCP sequence of the first byte a read returned:
// copied_seq at exit minus the bytes read. Reading a FIN also advances
// copied_seq by one, so when that value is the enter value or one past it,
// the enter value (copied_seq before the call) is the answer; otherwise
// another reader of the socket ran meanwhile and the exit value is.
static __always_inline __u32 ingress_seq(struct sock *sk, __u32 enter, __u64 n)
{
	__u32 s = AS_TCP(sk)->copied_seq - (__u32)n;
	if ((__u32)(s - enter) <= 1)
		return enter;
	return s;
}

// emit_msg completes the header in s with one message's length, payload
// (its iovecs) and peer (name, for unconnected sockets), and emits it. A
// global function: the verifier checks it once, not once per message.
__noinline int emit_msg(struct scratch *s, __u64 iov, __u64 iovlen, __u64 len, __u64 name)
{
	if (!s)
		return 0;
	__u32 off = 0;
	copy_iov(s, iov, iovlen, len, &off);
	user_peer(&s->e, name);
	s->e.length = len;
	s->e.flags &= ~MF_FLAG_TRUNCATED;
	if (off < len)
		s->e.flags |= MF_FLAG_TRUNCATED;
	emit(s, off);
	return 0;
}

// data emits the data events of a finished call.
__noinline int data(struct pending *p, __u64 pid_tgid, __s64 ret)
{
	if (!p)
		return 0;
	struct sock *sk = (struct sock *)p->sk;
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct sock_info *si = sock_lookup(sk, p->ino, 1);
	__u32 cap = capture_size;
	if (cap > MF_MAX_PAYLOAD)
		cap = MF_MAX_PAYLOAD;
	__u8 tcp = AS_SOCK(sk)->sk_protocol == IPPROTO_TCP;
	__u32 seq = p->seq;
	if (tcp && p->dir == MF_INGRESS) {
		// A read that left copied_seq alone peeked (MSG_PEEK): the bytes
		// will be read again, and reported then.
		if (AS_TCP(sk)->copied_seq == p->seq)
			return 0;
		seq = ingress_seq(sk, p->seq, ret);
	}
	__u64 goid = cur_goid(pid_tgid);
	__u64 tid = trace_id(pid_tgid, goid, si, p->dir, p->sk);
	if (p->tls)
		return 0; // the TLS probe reports the plaintext

	// The header every event of the call shares.
	head(&s->e, MF_KIND_DATA, p, pid_tgid, goid, sk, si);
	s->e.syscall_trace_id = tid;
	if (tcp)
		s->e.flags |= MF_FLAG_HAS_SEQ;
	s->e.tcp_seq = seq;
	__u16 rport = s->e.rport;

	if (p->op == OP_MMSG) {
		// ret is the number of messages; each has its own length.
		__u64 vlen = ret;
		if (vlen > MAX_MMSG)
			vlen = MAX_MMSG;
		if (tcp && p->dir == MF_INGRESS) {
			__u64 total = 0;
			for (int i = 0; i < MAX_MMSG; i++) {
				if (i >= vlen)
					break;
				__u32 len = 0;
				if (bpf_probe_read_user(&len, sizeof(len), (void *)(p->buf + i * sizeof(struct u_mmsghdr) + offsetof(struct u_mmsghdr, len))))
					break;
				total += len;
			}
			s->e.tcp_seq = ingress_seq(sk, p->seq, total);
		}
		for (int i = 0; i < MAX_MMSG; i++) {
			if (i >= vlen)
				break;
			struct u_mmsghdr m = {};
			if (bpf_probe_read_user(&m, sizeof(m), (void *)(p->buf + i * sizeof(m))))
				break;
			s->e.rport = rport;
			emit_msg(s, m.hdr.iov, m.hdr.iovlen, m.len, m.hdr.name);
			s->e.tcp_seq += m.len;
		}
		return 0;
	}
	if (p->op == OP_BUF) {
		// One buffer, copied directly (copy_iov reads iovec arrays).
		__u64 n = ret;
		if (n > cap)
			n = cap;
		n = clamp(n);
		__u64 off = 0;
		if (bpf_probe_read_user(s->payload, n, (void *)p->buf) == 0)
			off = n;
		user_peer(&s->e, p->addr);
		s->e.length = ret;
		if (off < ret)
			s->e.flags |= MF_FLAG_TRUNCATED;
		emit(s, off);
	} else if (p->op == OP_IOV) {
		emit_msg(s, p->buf, p->vlen, ret, 0);
	} else if (p->op == OP_MSG) {
		struct u_msghdr m = {};
		if (bpf_probe_read_user(&m, sizeof(m), (void *)p->buf) == 0)
			emit_msg(s, m.iov, m.iovlen, ret, m.name);
	}
	return 0;
}

// life emits open and close events.
__noinline int life(struct pending *p, __u64 pid_tgid, __s64 ret)
{
	if (!p)
		return 0;
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct sock *sk = (struct sock *)p->sk;
	__u64 ino = p->ino;
	__u8 kind = MF_KIND_OPEN;
	__u8 role = 0;
	switch (p->op) {
	case OP_CONNECT:
		if (ret != 0 && ret != -EINPROGRESS)
			return 0;
		role = MF_ROLE_CLIENT;
		break;
	case OP_ACCEPT:
		if (ret < 0)
			return 0;
		p->fd = ret;
		sk = fd_sock(ret, &ino);
		if (!sk)
			return 0;
		role = MF_ROLE_SERVER;
		break;
	case OP_CLOSE:
		if (ret != 0)
			return 0;
		kind = MF_KIND_CLOSE;
		break;
	default:
		return 0;
	}
	struct sock_info *si = sock_lookup(sk, ino, 1);
	if (si && role)
		si->role = role;
	head(&s->e, kind, p, pid_tgid, cur_goid(pid_tgid), sk, si);
	emit(s, 0);
	if (kind == MF_KIND_CLOSE && BPF_CORE_READ(sk, sk_protocol) == IPPROTO_UDP) {
		__u64 key = (__u64)sk;
		bpf_map_delete_elem(&sock_info, &key);
	}
	return 0;
}

static __always_inline int on_exit(__s64 ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &id);
	if (!p || !p->op)
		return 0;
	struct pending c = *p;
	p->op = 0; // done; the entry stays for the thread's next call
	if (c.dir) {
		if (ret <= 0)
			return 0;
		return data(&c, id, ret);
	}
	return life(&c, id, ret);
}

// ---- classic tracepoints: one program for every sys_enter_X, one for
// every sys_exit_X ----

SEC("tracepoint/syscalls/sys_enter_write")
int tp_sys_enter(struct tp_enter *ctx)
{
	return dispatch_enter(ctx->nr, ctx->args[0], ctx->args[1], ctx->args[2], 0);
}

// sendto and recvfrom: their records have six arguments; the fifth is the
// peer's address.
SEC("tracepoint/syscalls/sys_enter_sendto")
int tp_sys_enter_addr(struct tp_enter *ctx)
{
	return dispatch_enter(ctx->nr, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[4]);
}

// close's record has one argument: a program that reads further into the
// record may not attach to it (the kernel checks the context size).
struct tp_enter1 {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__u64 fd;
};

SEC("tracepoint/syscalls/sys_enter_close")
int tp_sys_enter_close(struct tp_enter1 *ctx)
{
	return on_enter(OP_CLOSE, 0, (__s32)ctx->fd, 0, 0, 0);
}

SEC("tracepoint/syscalls/sys_exit_write")
int tp_sys_exit(struct tp_exit *ctx)
{
	return on_exit(ctx->ret);
}

// ---- raw tracepoints: every system call ----

// Offsets in struct pt_regs of the first three syscall arguments.
#if defined(__TARGET_ARCH_arm64)
#define REG_ARG0 0
#define REG_ARG1 8
#define REG_ARG2 16
#define REG_ARG4 32
#else
#define REG_ARG0 (14 * 8) // di
#define REG_ARG1 (13 * 8) // si
#define REG_ARG2 (12 * 8) // dx
#define REG_ARG4 (9 * 8)  // r8
#endif

SEC("raw_tracepoint/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = ctx->args[1];
	switch (nr) {
	case NR_read: case NR_write: case NR_readv: case NR_writev:
	case NR_close: case NR_connect: case NR_accept: case NR_accept4:
	case NR_sendto: case NR_recvfrom: case NR_sendmsg: case NR_recvmsg:
	case NR_recvmmsg: case NR_sendmmsg:
		break;
	default:
		return 0;
	}
#if defined(__TARGET_ARCH_x86)
	// 32-bit (ia32) system calls have other numbers and registers: skip.
	struct task_struct *task = bpf_get_current_task_btf();
	if (bpf_core_field_exists(task->thread_info.status) && (task->thread_info.status & 0x0002)) // TS_COMPAT
		return 0;
#endif
	void *regs = (void *)ctx->args[0];
	__u64 a0 = 0, a1 = 0, a2 = 0, a4 = 0;
	bpf_probe_read_kernel(&a0, 8, regs + REG_ARG0);
	bpf_probe_read_kernel(&a1, 8, regs + REG_ARG1);
	bpf_probe_read_kernel(&a2, 8, regs + REG_ARG2);
	if (nr == NR_sendto || nr == NR_recvfrom)
		bpf_probe_read_kernel(&a4, 8, regs + REG_ARG4);
	return dispatch_enter(nr, a0, a1, a2, a4);
}

SEC("raw_tracepoint/sys_exit")
int raw_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exit((__s64)ctx->args[1]);
}

// ---- socket life and TCP health (softirq and timer context: the owner
// comes from sock_info) ----

// owner_event fills e for a socket event outside the owner's syscalls, and
// reports whether it passes the filters.
static __always_inline int owner_event(struct mf_event *e, struct sock *sk, __u8 kind, int proc_ctx)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->fd = -1;
	e->enter_ns = bpf_ktime_get_ns();
	e->exit_ns = e->enter_ns;
	struct sock_info *si = sock_lookup(sk, 0, proc_ctx);
	if (si && si->pid == 0) {
		// A connection to a listening port, not accepted yet.
		__u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);
		struct port_owner *l = bpf_map_lookup_elem(&listeners, &port);
		if (l) {
			si->pid = l->pid;
			si->tid = l->tid;
			si->cgroup_id = l->cgroup_id;
			__builtin_memcpy(si->comm, l->comm, sizeof(si->comm));
			si->role = MF_ROLE_SERVER;
		}
	}
	if (si) {
		e->socket_id = si->id;
		e->role = si->role;
		e->pid = si->pid;
		e->tid = si->tid;
		e->cgroup_id = si->cgroup_id;
		__builtin_memcpy(e->comm, si->comm, sizeof(e->comm));
	}
	if (filter_pids) {
		__u32 pid = e->pid;
		if (!bpf_map_lookup_elem(&pid_filter, &pid))
			return 0;
	}
	if (filter_cgroups) {
		__u64 cg = e->cgroup_id;
		if (!bpf_map_lookup_elem(&cgroup_filter, &cg))
			return 0;
	}
	fill_sock(e, sk);
	return 1;
}

SEC("raw_tracepoint/inet_sock_set_state")
int raw_set_state(struct bpf_raw_tracepoint_args *ctx)
{
	struct sock *sk = (struct sock *)ctx->args[0];
	int oldstate = ctx->args[1];
	int newstate = ctx->args[2];
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	// Leaving TCP_CLOSE (connect, listen) happens in the owner's call.
	int proc_ctx = oldstate == TCP_CLOSE;
	__u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (proc_ctx && newstate == TCP_LISTEN) {
		struct port_owner l = {};
		__u64 id = bpf_get_current_pid_tgid();
		l.pid = id >> 32;
		l.tid = (__u32)id;
		l.cgroup_id = bpf_get_current_cgroup_id();
		bpf_get_current_comm(l.comm, sizeof(l.comm));
		bpf_map_update_elem(&listeners, &port, &l, BPF_ANY);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		bpf_map_delete_elem(&listeners, &port);
	}
	if (owner_event(&s->e, sk, MF_KIND_STATE, proc_ctx)) {
		s->e.old_state = oldstate;
		s->e.new_state = newstate;
		emit(s, 0);
	}
	if (newstate == TCP_CLOSE) {
		__u64 key = (__u64)sk;
		struct sock_info *si = bpf_map_lookup_elem(&sock_info, &key);
		if (si)
			si->dead = 1;
	}
	return 0;
}

SEC("raw_tracepoint/tcp_retransmit_skb")
int raw_retransmit(struct bpf_raw_tracepoint_args *ctx)
{
	struct sock *sk = (struct sock *)ctx->args[0];
	struct sk_buff *skb = (struct sk_buff *)ctx->args[1];
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	if (!owner_event(&s->e, sk, MF_KIND_RETRANSMIT, 0))
		return 0;
	// TCP_SKB_CB(skb)->seq: the first field of skb->cb.
	__u32 seq = 0;
	bpf_probe_read_kernel(&seq, sizeof(seq), (void *)skb + bpf_core_field_offset(struct sk_buff, cb));
	s->e.tcp_seq = seq;
	s->e.flags |= MF_FLAG_HAS_SEQ;
	s->e.new_state = BPF_CORE_READ(sk, __sk_common.skc_state);
	emit(s, 0);
	return 0;
}
