package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "agent:", err)
		}
		os.Exit(2)
	}
}

// options are the command-line settings.
type options struct {
	read     string
	iface    string
	filter   string
	write    string
	output   string
	stats    bool
	every    time.Duration
	shards   int
	fanout   bool
	progress bool
	cpuProf  string
	memProf  string
	hints    portHints
	protos   string // -protocols: decoder names, comma-separated; "" all, "none" no L7
	ebpf     ebpfOptions
}

// portHints collects repeated -port-hint PORT=NAME flags.
type portHints map[uint16]string

func (h *portHints) String() string { return fmt.Sprint(map[uint16]string(*h)) }

func (h *portHints) Set(v string) error {
	port, name, ok := strings.Cut(v, "=")
	n, err := strconv.ParseUint(port, 10, 16)
	if !ok || err != nil || n == 0 || name == "" {
		return fmt.Errorf("want PORT=DECODER (e.g. 7000=Redis), not %q", v)
	}
	if *h == nil {
		*h = portHints{}
	}
	(*h)[uint16(n)] = name
	return nil
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.read, "r", "", "read packets from a pcap or pcapng `file`")
	fs.StringVar(&o.iface, "i", "", "capture live on `interface` (\"any\" for all; needs CAP_NET_RAW)")
	fs.StringVar(&o.filter, "f", "", "tcpdump-syntax packet `filter`")
	fs.StringVar(&o.write, "w", "", "also write captured packets to a pcap `file` (live capture; flushed every second)")
	fs.StringVar(&o.output, "o", "json", "output `format`: json (JSON Lines) or text")
	fs.BoolVar(&o.stats, "stats", false, "print every counter of every stage to stderr at the end")
	fs.DurationVar(&o.every, "snapshot", 0, "also report live flows every `interval` of packet time (at least 1s; 0: only when flows end)")
	fs.IntVar(&o.shards, "shards", runtime.GOMAXPROCS(0), "number of flow table + L7 engine `shards`, each on its own goroutine")
	fs.BoolVar(&o.fanout, "fanout", false, "with -i: one AF_PACKET socket per shard in a kernel fan-out group, each read by its own shard (less CPU per packet; flows in VXLAN or Geneve tunnels and IPv6 fragments may be split between shards)")
	fs.BoolVar(&o.progress, "progress", isTerminal(stderr), "show replay progress on stderr (default: when stderr is a terminal)")
	fs.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile to `file`")
	fs.StringVar(&o.memProf, "memprofile", "", "write a heap profile to `file` at the largest live heap (checked every 250 ms; forces a collection each time the heap has grown by a tenth)")
	fs.StringVar(&o.protos, "protocols", "", "decode only these L7 `protocols` (built-in decoder names, comma-separated, e.g. HTTP,DNS; \"none\": flows only; default all)")
	fs.Var(&o.hints, "port-hint", "try decoder `PORT=NAME` first for flows on PORT (repeatable; e.g. 7000=Redis)")
	registerMetricsFlags(fs)       // -map, -metrics-addr, -otlp-endpoint (metrics.go)
	registerEBPFFlags(fs, &o.ebpf) // -ebpf, -pid, -comm, -ebpf-payload (ebpf.go)
	registerTagsFlags(fs)          // -tags, -tags-proc, -vpc (tags.go)
	registerServerFlags(fs)        // -server, -server-token, -spool, -spool-max, -server-wait (server.go)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.read == "" && o.iface == "" && !o.ebpf.on:
		return o, errors.New("need -r FILE, -i IFACE or -ebpf")
	case o.read != "" && o.iface != "":
		return o, errors.New("-r and -i are exclusive")
	case o.write != "" && o.iface == "":
		return o, errors.New("-w needs -i")
	case o.fanout && o.iface == "":
		return o, errors.New("-fanout needs -i")
	case o.every != 0 && o.every < time.Second:
		return o, fmt.Errorf("-snapshot must be at least 1s, not %v", o.every)
	case o.output != "json" && o.output != "text":
		return o, fmt.Errorf("-o must be json or text, not %q", o.output)
	case o.shards < 1 || o.shards > 256:
		return o, fmt.Errorf("-shards must be between 1 and 256, not %d", o.shards)
	}
	if err := checkEBPF(&o); err != nil {
		return o, err
	}
	return o, nil
}

// run runs the agent until the input ends or SIGINT/SIGTERM arrives; in
// both cases every record is written before it returns.
func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := newAgent(o, stdout, stderr)
	if err != nil {
		return err
	}
	var heap *heapPeak
	if o.memProf != "" {
		heap = startHeapPeak(o.memProf, 250*time.Millisecond)
	}
	err = a.run(ctx)
	if heap != nil {
		if perr := heap.finish(); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
