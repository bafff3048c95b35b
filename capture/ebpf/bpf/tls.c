// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// tls.c: TLS plaintext from library calls, as KindData events with origin
// MF_ORIGIN_OPENSSL or MF_ORIGIN_GOTLS in the shared events ring.
//
// OpenSSL (1.1 and 3): uprobes on SSL_read, SSL_write, SSL_read_ex and
// SSL_write_ex save the buffer at entry and mark the thread in tls_active;
// the syscall probes store there the fd of the read/write the library makes
// during the call; the uretprobe copies the plaintext. A call served from
// OpenSSL's buffers makes no system call: its fd then comes from ssl_fds,
// the last fd seen for that SSL object (or given to SSL_set_fd).
//
// Go crypto/tls.(*Conn).Read and Write: a uprobe at the entry and one at
// every RET instruction (uretprobes break Go's stack unwinding). Calls are
// keyed by the goroutine's g, since a goroutine may finish a call on
// another thread. The fd is read at entry through the struct offsets the
// loader passes in the attach cookie. Go calls do not use tls_active: a
// goroutine parked in Read leaves its thread to other goroutines.
//
// The socket (addresses, id) is resolved in the kernel from the fd through
// the task's fd table, and the id taken from sock_info, the syscall
// probes' table, so that the plaintext and the ciphertext events of one
// socket carry the same SocketID.

#include "tls.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 00170000
#define S_IFSOCK 0140000

#define TLS_CHUNK MF_MAX_PAYLOAD // payload bytes per event
#define TLS_MAX_CHUNKS 16        // events per call at most (256 KiB)

// tls_chunks: events one call may be split into (1..TLS_MAX_CHUNKS); the
// bytes past chunks*TLS_CHUNK are counted in length only.
volatile const __u32 tls_chunks = 8;

// sock_info mirrors the syscall probes' table (socket.c): same name, key
// and value layout, so the loader can hand this object that map.
struct tls_sock_info {
	__u64 id;
	__u64 ino;
	__u32 pid;
	__u32 tid;
	__u8 role;
	__u8 _pad[7];
	char comm[MF_COMM_LEN];
	__u64 cgroup_id;
	__u64 last_in_id;
	__u8 last_dir;
	__u8 _pad2[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tls_sock_info);
} sock_info SEC(".maps");

// An OpenSSL call in progress, keyed by pid_tgid.
struct ssl_call {
	__u64 ssl;
	__u64 buf;
	__u64 ex_len; // _ex: the size_t * the byte count is written to
	__u64 enter_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

struct ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};

// ssl_fds: the socket fd of an SSL object, from SSL_set_fd or the last
// system call made inside one of its calls.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ssl_key);
	__type(value, __s32);
} ssl_fds SEC(".maps");

// tls_sock: the socket fields of an event, resolved once per call.
struct tls_sock {
	__u64 socket_id;
	__u8 ok; // the fd is a TCP or UDP socket
	__u8 family;
	__u8 transport;
	__u8 role;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

// A Go TLS call in progress, keyed by process, g and direction.
struct go_key {
	__u64 g;
	__u32 tgid;
	__u32 dir;
};

struct go_call {
	__u64 buf;
	__u64 enter_ns;
	__u64 goid;
	__s32 fd;
	__u32 _pad;
	struct tls_sock sk; // resolved at entry: the fd may be closed by the RET
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");


// tls_sock returns the TCP or UDP socket behind fd in the current task, or
// 0, and its sockfs inode number (as socket.c's fd_sock).
static __always_inline struct sock *tls_sock(__s32 fd, __u64 *ino)
{
	if (fd < 0)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return 0;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return 0;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	if (!inode)
		return 0;
	umode_t mode = BPF_CORE_READ(inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return 0;
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	*ino = BPF_CORE_READ(inode, i_ino);
	return sk;
}

// tls_resolve fills ts from fd, when it is a TCP or UDP socket of the
// current task; the id is the syscall probes' (sock_info).
static __always_inline void tls_resolve(struct tls_sock *ts, __s32 fd)
{
	__u64 ino = 0;
	struct sock *sk = tls_sock(fd, &ino);
	if (!sk)
		return;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	ts->ok = 1;
	ts->family = family;
	ts->transport = BPF_CORE_READ(sk, sk_protocol);
	ts->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	ts->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(ts->laddr, &l, 4);
		__builtin_memcpy(ts->raddr, &r, 4);
	} else {
		BPF_CORE_READ_INTO(&ts->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&ts->raddr, sk, __sk_common.skc_v6_daddr);
	}
	__u64 key = (__u64)sk;
	struct tls_sock_info *si = bpf_map_lookup_elem(&sock_info, &key);
	if (si && (si->ino == 0 || si->ino == ino)) {
		ts->socket_id = si->id;
		ts->role = si->role;
	}
}

// tls_emit: what emit_data needs of a call.
struct tls_emit {
	__u64 buf;      // plaintext in the caller's memory
	__s64 n;        // bytes the call returned
	__u64 enter_ns;
	__u64 goid;
	__s32 fd;
	__u8 origin;
	__u8 dir;
	__u8 _pad[2];
	struct tls_sock sk;
};

// TLS_RESERVE reserves a record of the header and SZ payload bytes in the
// ring, when len fits, and fills and submits it. Records are reserved in a
// few fixed sizes (the verifier wants a constant), so a record may end
// with unused bytes: the reader goes by payload_len. Writing straight into
// the ring needs no per-CPU scratch buffer, which a preempted uprobe
// program (they run with migration, not preemption, disabled) could share
// with another.
#define TLS_RESERVE(SZ)                                                              \
	if (len <= SZ) {                                                             \
		struct {                                                             \
			struct mf_event e;                                           \
			__u8 p[SZ];                                                  \
		} *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);                  \
		if (!r) {                                                            \
			mf_count_lost();                                             \
			return;                                                      \
		}                                                                    \
		__builtin_memcpy(&r->e, h, sizeof(*h));                              \
		asm volatile("" : "+r"(len)); /* keep the clamp for the verifier */  \
		if (len > SZ)                                                        \
			len = SZ;                                                    \
		if (bpf_probe_read_user(r->p, len, (void *)src) < 0)                 \
			len = 0;                                                     \
		r->e.payload_len = len;                                              \
		bpf_ringbuf_submit(r, tls_wakeup());                                 \
		return;                                                              \
	}

// tls_wakeup: wake the reader only once wakeup_bytes wait (as mf_submit).
static __always_inline __u64 tls_wakeup(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

// emit_chunk sends one event: the header h and len (<= TLS_CHUNK) bytes
// copied from the caller's memory at src.
static __always_inline void emit_chunk(struct mf_event *h, __u64 src, __u64 len)
{
	TLS_RESERVE(256)
	TLS_RESERVE(1024)
	TLS_RESERVE(4096)
	TLS_RESERVE(TLS_CHUNK)
}

// emit_data sends the plaintext at c->buf (c->n bytes the call returned)
// as up to tls_chunks events of at most TLS_CHUNK bytes each. Each event's
// length is its own chunk's length; the last one also counts the bytes
// past the chunks (MF_FLAG_TRUNCATED then).
static __noinline int emit_data(struct tls_emit *c)
{
	struct mf_event h = {};
	__u64 id = bpf_get_current_pid_tgid();
	h.kind = MF_KIND_DATA;
	h.origin = c->origin;
	h.direction = c->dir;
	h.fd = c->fd;
	mf_fill_task(&h, id);
	if (c->sk.ok) {
		h.flags |= MF_FLAG_HAS_ADDR;
		h.family = c->sk.family;
		h.transport = c->sk.transport;
		h.role = c->sk.role;
		h.socket_id = c->sk.socket_id;
		h.lport = c->sk.lport;
		h.rport = c->sk.rport;
		__builtin_memcpy(h.laddr, c->sk.laddr, 16);
		__builtin_memcpy(h.raddr, c->sk.raddr, 16);
	}
	h.enter_ns = c->enter_ns;
	h.exit_ns = bpf_ktime_get_ns();
	h.goroutine = c->goid;
	__s64 n = c->n;
	__u64 buf = c->buf;
	__u32 chunks = tls_chunks;
	if (chunks > TLS_MAX_CHUNKS)
		chunks = TLS_MAX_CHUNKS;
	__u32 base_flags = h.flags;
	for (__u32 i = 0; i < TLS_MAX_CHUNKS; i++) {
		if (i >= chunks)
			break;
		__s64 off = (__s64)i * TLS_CHUNK;
		if (off >= n)
			break;
		__s64 left = n - off;
		__u32 len = left > TLS_CHUNK ? TLS_CHUNK : (__u32)left;
		h.flags = base_flags;
		h.length = len;
		if (i + 1 == chunks && left > TLS_CHUNK) {
			h.length = left;
			h.flags |= MF_FLAG_TRUNCATED;
		}
		emit_chunk(&h, buf + off, len);
	}
	return 0;
}

// ---- OpenSSL ----

static __always_inline int ssl_enter(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!mf_traced(id))
		return 0;
	struct ssl_call c = {};
	c.ssl = C_ARG1(ctx);
	c.buf = C_ARG2(ctx);
	if (bpf_get_attach_cookie(ctx) & TLS_COOKIE_EX)
		c.ex_len = C_ARG4(ctx);
	c.enter_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&ssl_calls, &id, &c, BPF_ANY);
	struct tls_active_val a = {.fd = (__u32)-1};
	bpf_map_update_elem(&tls_active, &id, &a, BPF_ANY);
	return 0;
}

static __always_inline int ssl_exit(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &id);
	if (!c)
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct ssl_key k = {.ssl = c->ssl, .tgid = id >> 32};
	__s32 fd = -1;
	struct tls_active_val *a = bpf_map_lookup_elem(&tls_active, &id);
	if (a && (__s32)a->fd >= 0) {
		fd = a->fd;
		bpf_map_update_elem(&ssl_fds, &k, &fd, BPF_ANY);
	} else {
		__s32 *known = bpf_map_lookup_elem(&ssl_fds, &k);
		if (known)
			fd = *known;
	}
	__s64 n = (int)C_RET(ctx);
	if (cookie & TLS_COOKIE_EX) {
		__u64 got = 0;
		if (n == 1 && c->ex_len)
			bpf_probe_read_user(&got, sizeof(got), (void *)c->ex_len);
		n = n == 1 ? (__s64)got : 0;
	}
	if (n > 0) {
		struct tls_emit m = {};
		m.buf = c->buf;
		m.n = n;
		m.enter_ns = c->enter_ns;
		m.fd = fd;
		m.origin = MF_ORIGIN_OPENSSL;
		m.dir = cookie & TLS_COOKIE_READ ? MF_INGRESS : MF_EGRESS;
		tls_resolve(&m.sk, fd);
		emit_data(&m);
	}
	bpf_map_delete_elem(&ssl_calls, &id);
	bpf_map_delete_elem(&tls_active, &id);
	return 0;
}

SEC("uprobe/ssl_enter")
int tls_ssl_enter(struct pt_regs *ctx)
{
	return ssl_enter(ctx);
}

SEC("uretprobe/ssl_exit")
int tls_ssl_exit(struct pt_regs *ctx)
{
	return ssl_exit(ctx);
}

// SSL_set_fd(ssl, fd): remember the fd for calls that make no system call.
SEC("uprobe/ssl_set_fd")
int tls_ssl_set_fd(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!mf_traced(id))
		return 0;
	struct ssl_key k = {.ssl = C_ARG1(ctx), .tgid = id >> 32};
	__s32 fd = (__s32)C_ARG2(ctx);
	bpf_map_update_elem(&ssl_fds, &k, &fd, BPF_ANY);
	return 0;
}

// SSL_free(ssl): forget its fd, so that an SSL object allocated later at
// the same address does not inherit it.
SEC("uprobe/ssl_free")
int tls_ssl_free(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_key k = {.ssl = C_ARG1(ctx), .tgid = id >> 32};
	bpf_map_delete_elem(&ssl_fds, &k);
	return 0;
}

// ---- Go crypto/tls ----

// go_fd follows tls.Conn.conn (an interface: itab, data) to the *net.TCPConn,
// its net.conn.fd (*netFD) and netFD.pfd.Sysfd.
static __always_inline __s32 go_fd(__u64 conn, __u64 cookie)
{
	if (!(cookie & GO_COOKIE_KNOWN) || !conn)
		return -1;
	__u64 data = 0, netfd = 0;
	__s64 sysfd = -1;
	if (bpf_probe_read_user(&data, sizeof(data), (void *)(conn + (cookie & 0xffff) + 8)) < 0 || !data)
		return -1;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (void *)(data + ((cookie >> 16) & 0xffff))) < 0 || !netfd)
		return -1;
	if (bpf_probe_read_user(&sysfd, sizeof(sysfd), (void *)(netfd + ((cookie >> 32) & 0xffff))) < 0)
		return -1;
	if (sysfd < 0 || sysfd > 0x7fffffff)
		return -1;
	return (__s32)sysfd;
}

SEC("uprobe/go_tls_enter")
int tls_go_enter(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!mf_traced(id))
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct go_key k = {.g = GO_G(ctx), .tgid = id >> 32, .dir = cookie & GO_COOKIE_READ ? MF_INGRESS : MF_EGRESS};
	struct go_call c = {};
	c.buf = GO_ARG2(ctx);
	c.enter_ns = bpf_ktime_get_ns();
	c.fd = go_fd(GO_ARG1(ctx), cookie);
	tls_resolve(&c.sk, c.fd);
	__u64 goid_off = (cookie >> 48) & 0x3fff; // 0: unknown
	if ((cookie & GO_COOKIE_KNOWN) && goid_off)
		bpf_probe_read_user(&c.goid, sizeof(c.goid), (void *)(k.g + goid_off));
	bpf_map_update_elem(&go_calls, &k, &c, BPF_ANY);
	return 0;
}

// At a RET of Read or Write: n in the first result register.
SEC("uprobe/go_tls_ret")
int tls_go_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct go_key k = {.g = GO_G(ctx), .tgid = id >> 32, .dir = cookie & GO_COOKIE_READ ? MF_INGRESS : MF_EGRESS};
	struct go_call *c = bpf_map_lookup_elem(&go_calls, &k);
	if (!c)
		return 0;
	__s64 n = (__s64)GO_RET1(ctx);
	if (n > 0) {
		struct tls_emit m = {};
		m.buf = c->buf;
		m.n = n;
		m.enter_ns = c->enter_ns;
		m.goid = c->goid;
		m.fd = c->fd;
		m.origin = MF_ORIGIN_GOTLS;
		m.dir = k.dir;
		m.sk = c->sk;
		emit_data(&m);
	}
	bpf_map_delete_elem(&go_calls, &k);
	return 0;
}
