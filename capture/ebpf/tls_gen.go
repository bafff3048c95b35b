package ebpf

// The TLS uprobe objects (tls_*_bpfel.{go,o}) are generated from bpf/tls.c
// like the socket objects: ./generate.sh or go generate.

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -tags linux -target amd64,arm64 tls bpf/tls.c -- -I./bpf -O2 -g -Wall -Werror
