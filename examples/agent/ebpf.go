package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/metaflow-go/metaflow/capture/ebpf"
	"github.com/metaflow-go/metaflow/capture/socket"
)

// ebpfOptions are the settings of -ebpf: socket events from the eBPF
// tracer (capture/ebpf) instead of, or beside, packets.
type ebpfOptions struct {
	on      bool
	pids    pidList
	comms   commList
	payload int
	tls     bool
	gor     bool
}

// pidList collects -pid values: comma-separated, repeatable.
type pidList []uint32

func (l *pidList) String() string { return fmt.Sprint([]uint32(*l)) }

func (l *pidList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("want process ids, not %q", s)
		}
		*l = append(*l, uint32(n))
	}
	return nil
}

// commList collects -comm values: comma-separated, repeatable.
type commList []string

func (l *commList) String() string { return strings.Join(*l, ",") }

func (l *commList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" || len(s) > 15 {
			return fmt.Errorf("want command names of 1 to 15 bytes (the kernel's comm), not %q", s)
		}
		*l = append(*l, s)
	}
	return nil
}

func registerEBPFFlags(fs *flag.FlagSet, o *ebpfOptions) {
	fs.BoolVar(&o.on, "ebpf", false, "trace the machine's sockets with eBPF (Linux, root or CAP_BPF+CAP_PERFMON, kernel BTF): records from what processes read and write, with their pids and names")
	fs.Var(&o.pids, "pid", "with -ebpf, trace only these process `ids` (comma-separated, repeatable; filtered in the kernel)")
	fs.Var(&o.comms, "comm", "with -ebpf, trace only threads with these command `names` (comma-separated, repeatable)")
	fs.BoolVar(&o.tls, "ebpf-tls", false, "with -ebpf, also capture TLS plaintext: uprobes on every libssl (OpenSSL) and on running Go programs' crypto/tls")
	fs.BoolVar(&o.gor, "ebpf-goroutines", false, "with -ebpf, track the goroutines of running Go programs (of -pid when given; rescanned every 10 s): their syscall trace ids follow goroutines and the goroutines they start, not threads")
	fs.IntVar(&o.payload, "ebpf-payload", ebpf.DefaultPayloadSize, fmt.Sprintf("with -ebpf, payload `bytes` captured per call (at most %d)", ebpf.MaxPayloadSize))
}

// checkEBPF validates the -ebpf flags against the others.
func checkEBPF(o *options) error {
	e := &o.ebpf
	switch {
	case !e.on && (len(e.pids) > 0 || len(e.comms) > 0 || e.payload != ebpf.DefaultPayloadSize || e.tls || e.gor):
		return fmt.Errorf("-pid, -comm, -ebpf-payload, -ebpf-tls and -ebpf-goroutines need -ebpf")
	case e.on && o.read != "":
		return fmt.Errorf("-ebpf traces live sockets; it cannot be combined with -r")
	case e.on && (e.payload <= 0 || e.payload > ebpf.MaxPayloadSize):
		return fmt.Errorf("-ebpf-payload must be between 1 and %d, not %d", ebpf.MaxPayloadSize, e.payload)
	}
	return nil
}

// openTracer starts the socket tracer of -ebpf. Its errors name the
// feature or capability that is missing.
func openTracer(e *ebpfOptions) (socket.Source, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("-ebpf: not supported on %s: eBPF socket tracing needs Linux", runtime.GOOS)
	}
	cfg := ebpf.Config{PayloadSize: e.payload, Pids: e.pids, Comms: e.comms}
	if e.tls {
		cfg.TLS = ebpf.TLSConfig{OpenSSL: true, GoScanProcs: true}
	}
	if e.gor {
		cfg.Goroutines = ebpf.GoroutineConfig{ScanProcs: true}
	}
	tr, err := ebpf.New(cfg)
	switch {
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("-ebpf: permission denied: run as root, or with CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE: %w", err)
	case err != nil:
		return nil, fmt.Errorf("-ebpf: %w", err)
	}
	return tr, nil
}
