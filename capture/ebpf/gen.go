package ebpf

// The eBPF objects are generated from bpf/*.c with clang and committed, so
// that building the package needs neither clang nor the kernel headers.
// Regenerate with ./generate.sh (or go generate) after changing bpf/.

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -tags linux -target amd64,arm64 socket bpf/socket.c -- -I./bpf -O2 -g -Wall -Werror
