#!/usr/bin/env bash
# Regenerates the committed eBPF objects (*_bpfel.{go,o}) from bpf/
# with clang, as the go:generate lines of the package say. Needs clang, llvm and libbpf-dev.
set -euo pipefail
cd "$(dirname "$0")"
go generate .
