// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// tls.h: register access for the TLS library uprobes (tls.c), per target
// architecture, without depending on the kernel's struct pt_regs of the
// architecture vmlinux.h was dumped on.

#ifndef __MF_TLS_H
#define __MF_TLS_H

#include "common.h"

#if defined(__TARGET_ARCH_arm64)
// The uprobe context on arm64 is struct user_pt_regs.
struct tls_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
#define C_ARG1(x) (((struct tls_regs *)(x))->regs[0])
#define C_ARG2(x) (((struct tls_regs *)(x))->regs[1])
#define C_ARG3(x) (((struct tls_regs *)(x))->regs[2])
#define C_ARG4(x) (((struct tls_regs *)(x))->regs[3])
#define C_RET(x) (((struct tls_regs *)(x))->regs[0])
// Go's register ABI on arm64: R0.. arguments and results, R28 the g.
#define GO_ARG1(x) (((struct tls_regs *)(x))->regs[0])
#define GO_ARG2(x) (((struct tls_regs *)(x))->regs[1])
#define GO_ARG3(x) (((struct tls_regs *)(x))->regs[2])
#define GO_RET1(x) (((struct tls_regs *)(x))->regs[0])
#define GO_G(x) (((struct tls_regs *)(x))->regs[28])
#else
// x86-64 System V: rdi, rsi, rdx, rcx; result rax.
#define C_ARG1(x) ((x)->di)
#define C_ARG2(x) ((x)->si)
#define C_ARG3(x) ((x)->dx)
#define C_ARG4(x) ((x)->cx)
#define C_RET(x) ((x)->ax)
// Go's register ABI on amd64: RAX, RBX, RCX, RDI, ... arguments and
// results; R14 holds the current g.
#define GO_ARG1(x) ((x)->ax)
#define GO_ARG2(x) ((x)->bx)
#define GO_ARG3(x) ((x)->cx)
#define GO_RET1(x) ((x)->ax)
#define GO_G(x) ((x)->r14)
#endif

// Attach cookies (bpf_get_attach_cookie), set by the Go loader per probe.
// OpenSSL probes: bit 0 the direction (1 read), bit 1 the _ex variant.
#define TLS_COOKIE_READ (1ull << 0)
#define TLS_COOKIE_EX (1ull << 1)
// Go probes: bits 0-15 tls.Conn.conn, 16-31 net.conn.fd, 32-47
// netFD.pfd.Sysfd, 48-61 g.goid (0: unknown), bit 62 read, bit 63 offsets
// known.
#define GO_COOKIE_READ (1ull << 62)
#define GO_COOKIE_KNOWN (1ull << 63)

#endif // __MF_TLS_H
