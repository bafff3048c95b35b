#!/usr/bin/env bash
# Regenerates the committed eBPF objects (socket_*_bpfel.{go,o}) from bpf/
# with clang, as go:generate in gen.go says. Needs clang, llvm and libbpf-dev.
set -euo pipefail
cd "$(dirname "$0")"
go generate ./gen.go
