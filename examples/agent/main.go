package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
	read   string
	iface  string
	filter string
	write  string
	output string
	stats  bool
	every  time.Duration
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.read, "r", "", "read packets from a pcap or pcapng `file`")
	fs.StringVar(&o.iface, "i", "", "capture live on `interface` (\"any\" for all; needs CAP_NET_RAW)")
	fs.StringVar(&o.filter, "f", "", "tcpdump-syntax packet `filter`")
	fs.StringVar(&o.write, "w", "", "also write captured packets to a pcap `file` (live capture)")
	fs.StringVar(&o.output, "o", "json", "output `format`: json (JSON Lines) or text")
	fs.BoolVar(&o.stats, "stats", false, "print pipeline counters to stderr at the end")
	fs.DurationVar(&o.every, "snapshot", 0, "also report live flows every `interval` of packet time (at least 1s; 0: only when flows end)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.read == "" && o.iface == "":
		return o, errors.New("need -r FILE or -i IFACE")
	case o.read != "" && o.iface != "":
		return o, errors.New("-r and -i are exclusive")
	case o.write != "" && o.iface == "":
		return o, errors.New("-w needs -i")
	case o.every != 0 && o.every < time.Second:
		return o, fmt.Errorf("-snapshot must be at least 1s, not %v", o.every)
	case o.output != "json" && o.output != "text":
		return o, fmt.Errorf("-o must be json or text, not %q", o.output)
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	defer w.Flush()
	p, err := newPipeline(o, w)
	if err != nil {
		return err
	}
	return p.run(stderr)
}
