package ebpf

// The goroutine tracking objects (goroutine_*_bpfel.{go,o}) are generated
// from bpf/goroutine.c like the socket objects: ./generate.sh or go generate.

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -tags linux -target amd64,arm64 goroutine bpf/goroutine.c -- -I./bpf -O2 -g -Wall -Werror
