package main

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/internal/netns"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// BenchmarkAgent_LiveCPU runs the agent with -i (JSON records to
// /dev/null) and tcpdump -w /dev/null side by side on the same veth, in a
// network namespace, while the peer namespace sends b.N UDP datagrams
// (106 bytes on the wire) at 100,000 packets/s or as fast as the sender
// goes. Each capturer's CPU time (user + system, all its threads, from
// /proc) from just before the traffic to 1.5 s after it, so that both
// have handed over their last blocks, is reported per million packets it
// delivered, with the fraction the kernel dropped. Run it with a fixed
// count, e.g. -benchtime 1000000x (10 s at 100 kpps). LIVE_AGENT_ARGS adds
// flags to the agent's (e.g. "-cpuprofile /tmp/live.prof"); LIVE_AGENT_BIN
// runs that agent binary instead of one built from this tree.
func BenchmarkAgent_LiveCPU(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireCommand(b, "ip")
	testutil.RequireCommand(b, "tcpdump")
	bin := os.Getenv("LIVE_AGENT_BIN")
	if bin == "" {
		bin = buildAgent(b)
	}
	for _, rate := range []struct {
		name string
		pps  int
	}{{"100kpps", 100_000}, {"max", 0}} {
		b.Run(rate.name, func(b *testing.B) { benchLive(b, bin, rate.pps) })
	}
}

func benchLive(b *testing.B, bin string, pps int) {
	pair := netns.NewPairT(b, "mflb", 64)
	dst := netip.AddrPortFrom(pair.AddrA, 31064)
	netns.UDPSink(b, pair.A, dst)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	agentErr := filepath.Join(b.TempDir(), "agent.err")
	errFile, err := os.Create(agentErr)
	if err != nil {
		b.Fatal(err)
	}
	defer errFile.Close()
	args := append([]string{"-i", pair.IfA, "-o", "json", "-stats"}, strings.Fields(os.Getenv("LIVE_AGENT_ARGS"))...)
	agent := pair.A.Command(ctx, bin, args...)
	agent.Stderr = errFile // stdout: /dev/null
	var dumpErr strings.Builder
	dump := pair.A.Command(ctx, "tcpdump", "-i", pair.IfA, "-n", "-B", "16384", "-w", "/dev/null")
	dump.Stderr = &dumpErr
	for _, c := range []*exec.Cmd{agent, dump} {
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		defer c.Process.Kill()
	}
	time.Sleep(time.Second) // both listening

	send := netns.NewUDPBatch(b, pair.B, dst)
	agentCPU, dumpCPU := procCPU(agent.Process.Pid), procCPU(dump.Process.Pid)
	b.SetBytes(14 + 20 + 8 + 64)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += send.Batch() {
		n := min(send.Batch(), b.N-i)
		send.Send(n)
		if pps > 0 {
			if d := time.Until(start.Add(time.Duration(i+n) * time.Second / time.Duration(pps))); d > 0 {
				time.Sleep(d)
			}
		}
	}
	b.StopTimer()
	sent := time.Since(start)
	time.Sleep(1500 * time.Millisecond) // the block timeout, and the agent's output flush
	agentCPU, dumpCPU = procCPU(agent.Process.Pid)-agentCPU, procCPU(dump.Process.Pid)-dumpCPU

	for _, c := range []*exec.Cmd{agent, dump} {
		c.Process.Signal(syscall.SIGINT)
	}
	agent.Wait()
	dump.Wait()
	stats, _ := os.ReadFile(agentErr)
	aGot, aDrop := agentCaptured(string(stats))
	dGot, dDrop := netns.TcpdumpCounts(dumpErr.String())
	report := func(who string, got, drop uint64, cpu time.Duration) {
		b.ReportMetric(float64(drop)/float64(b.N), who+"-drops/op")
		if got > 0 {
			b.ReportMetric(cpu.Seconds()*1e3/(float64(got)/1e6), who+"-cpu-ms/Mpkt")
		}
	}
	report("agent", aGot, aDrop, agentCPU)
	report("tcpdump", dGot, dDrop, dumpCPU)
	b.ReportMetric(float64(b.N)/sent.Seconds(), "sent-pkt/s")
	if b.N >= 100_000 && (aGot+aDrop < uint64(b.N) || dGot+dDrop < uint64(b.N)) {
		b.Errorf("sent %d, agent saw %d+%d dropped, tcpdump %d+%d\nagent: %s\ntcpdump: %s", b.N, aGot, aDrop, dGot, dDrop, stats, dumpErr.String())
	}
}

// procCPU returns the CPU time a process's threads have used so far, from
// /proc/PID/task/*/schedstat (nanoseconds).
func procCPU(pid int) time.Duration {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			ns += v
		}
	}
	return time.Duration(ns)
}

// agentCaptured reads the capture line of the agent's -stats.
func agentCaptured(stats string) (packets, dropped uint64) {
	for _, line := range strings.Split(stats, "\n") {
		if !strings.HasPrefix(line, "capture: ") {
			continue
		}
		for _, kv := range strings.Fields(line)[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseUint(v, 10, 64)
			switch k {
			case "packets":
				packets = n
			case "dropped":
				dropped = n
			}
		}
	}
	return packets, dropped
}
