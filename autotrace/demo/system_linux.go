//go:build linux

package demo

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/metaflow-go/metaflow/internal/netns"
)

//go:embed pyservice.py
var pyService []byte

//go:embed nginx.conf.tmpl
var nginxConf string

// Config says how to run the demo once. The zero value runs 1 client for
// 10 s with the eBPF agent and the packet agents, building the programs
// from the module at RepoRoot.
type Config struct {
	// Dir holds the run's files (programs, logs, agent output, the merged
	// Records and Truth files). Required.
	Dir string
	// RepoRoot is the module root, used to build the agent and the Go
	// service when Agent or GoService is empty.
	RepoRoot string
	// Agent is an examples/agent binary; empty: built from RepoRoot.
	Agent string
	// GoService is an autotrace/demo/goservice binary; empty: built.
	GoService string
	// Clients is the number of concurrent load clients. Default 1.
	Clients int
	// Duration is how long the clients send requests. Default 10 s.
	Duration time.Duration
	// Rate caps each client's requests per second; 0: no cap.
	Rate float64
	// MaxRequests ends the load early after this many requests in all (to
	// bound a dataset's size); 0: no cap.
	MaxRequests int
	// EBPFArgs are extra flags for the eBPF agent (for example a
	// goroutine-tracking switch).
	EBPFArgs []string
	// NoEBPF and NoPackets leave out the eBPF agent or the packet agents.
	NoEBPF, NoPackets bool
	// NginxWorkers is nginx's worker_processes. Default 2.
	NginxWorkers int
	// Logger receives progress messages. Default none.
	Logger *slog.Logger
}

// Result is what Run produced.
type Result struct {
	Records string // merged observed records, JSON Lines, each stamped with tap and tap_side
	Truth   string // merged ground truth, JSON Lines of Truth
	// OTel holds the Go service's OpenTelemetry spans: OTLP/JSON, one
	// ExportTraceServiceRequest (a request's spans) a line.
	OTel string
	// Requests and Failed are the load generator's counts.
	Requests, Failed int
	// Lines counts the records kept per capture point ("ebpf", "nginx", ...).
	Lines map[string]int
}

// The topology: one /24 per link, 10.216.N.1 on the first namespace.
type link struct {
	a, b   string // roles
	subnet byte
}

var links = []link{
	{"cli", "ngx", 1}, {"ngx", "py", 2}, {"py", "go", 3}, {"go", "db", 4}, {"py", "db", 5}, {"py", "dns", 6},
	{"go", "dns", 7},
}

func addr(subnet, host byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 216, subnet, host}) }

// Service addresses (the namespaces are private, so standard ports).
var (
	nginxAddr   = netip.AddrPortFrom(addr(1, 2), 80)
	pyAddr      = netip.AddrPortFrom(addr(2, 2), 8000)
	goAddr      = netip.AddrPortFrom(addr(3, 2), 8080)
	redisGo     = netip.AddrPortFrom(addr(4, 2), 6379)
	mysqlGo     = netip.AddrPortFrom(addr(4, 2), 3306)
	redisPy     = netip.AddrPortFrom(addr(5, 2), 6379)
	mysqlPy     = netip.AddrPortFrom(addr(5, 2), 3306)
	dnsAddr     = netip.AddrPortFrom(addr(6, 2), 53)
	dnsGo       = netip.AddrPortFrom(addr(7, 2), 53)
	demoNetwork = netip.MustParsePrefix("10.216.0.0/16")
)

// tapRoles are the namespaces a packet agent captures in, and the name
// their records carry as tap.
var tapRoles = map[string]string{"ngx": "nginx", "py": "python", "go": "go", "db": "db"}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

type run struct {
	cfg   Config
	log   *slog.Logger
	ns    map[string]*netns.Namespace
	procs []*proc
	bin   string
}

// Run builds the demo system, runs the load through it with the agents
// watching, stops everything and merges the agents' output and the
// services' ground truth into Result's files. Everything it started is
// stopped and every namespace deleted before it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Dir == "" {
		return nil, errors.New("demo: Config.Dir is required")
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 1
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.NginxWorkers <= 0 {
		cfg.NginxWorkers = 2
	}
	r := &run{cfg: cfg, log: cfg.Logger, ns: map[string]*netns.Namespace{}}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	defer r.cleanup()
	if err := r.prepare(); err != nil {
		return nil, err
	}
	if err := r.network(); err != nil {
		return nil, err
	}
	if err := r.services(ctx); err != nil {
		return nil, err
	}
	load, err := r.startLoad()
	if err != nil {
		return nil, err
	}
	agents, err := r.agents()
	if err != nil {
		return nil, err
	}
	res := &Result{Records: filepath.Join(cfg.Dir, "records.jsonl"), Truth: filepath.Join(cfg.Dir, "groundtruth.jsonl"),
		OTel: filepath.Join(cfg.Dir, "otel-go.jsonl")}
	res.Requests, res.Failed, err = r.runLoad(ctx, load)
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // the last responses reach every tap
	for _, a := range agents {
		r.stop(a, os.Interrupt, 30*time.Second)
	}
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.stop(r.procs[i], syscall.SIGTERM, 10*time.Second)
	}
	if res.Lines, err = r.mergeRecords(res.Records); err != nil {
		return nil, err
	}
	if err := r.mergeTruth(res.Truth); err != nil {
		return nil, err
	}
	return res, nil
}

func (r *run) path(name string) string { return filepath.Join(r.cfg.Dir, name) }

func (r *run) prepare() error {
	if os.Geteuid() != 0 {
		return errors.New("demo: needs root (network namespaces, eBPF, packet capture)")
	}
	for _, p := range []string{"ip", "nginx", "redis-server", "mariadbd", "mariadb-install-db", "mysql", "/usr/bin/python3"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("demo: %s not found: %w", p, err)
		}
	}
	if out, err := exec.Command("/usr/bin/python3", "-c", "import redis, pymysql").CombinedOutput(); err != nil {
		return fmt.Errorf("demo: python3-redis and python3-pymysql are needed: %v: %s", err, bytes.TrimSpace(out))
	}
	r.bin = r.path("bin")
	if err := os.MkdirAll(r.bin, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(r.path("logs"), 0o755); err != nil {
		return err
	}
	build := func(dst, pkg string) (string, error) {
		if r.cfg.RepoRoot == "" {
			return "", fmt.Errorf("demo: no binary for %s and no RepoRoot to build it from", pkg)
		}
		out := filepath.Join(r.bin, dst)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = r.cfg.RepoRoot
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("demo: go build %s: %v: %s", pkg, err, bytes.TrimSpace(b))
		}
		return out, nil
	}
	var err error
	if r.cfg.GoService == "" {
		if r.cfg.GoService, err = build("goservice", "./autotrace/demo/goservice"); err != nil {
			return err
		}
	}
	if r.cfg.Agent == "" {
		if r.cfg.Agent, err = build("agent", "./examples/agent"); err != nil {
			return err
		}
	}
	// The Go roles run under their own names, so the kernel's command
	// names (and the eBPF records' process names) tell them apart.
	for _, n := range []string{"mfat-api", "mfat-dns", "mfat-load"} {
		os.Remove(filepath.Join(r.bin, n))
		if err := os.Symlink(r.cfg.GoService, filepath.Join(r.bin, n)); err != nil {
			return err
		}
	}
	return os.WriteFile(r.path("pyservice.py"), pyService, 0o755)
}

func (r *run) network() error {
	for _, role := range []string{"cli", "ngx", "py", "go", "db", "dns"} {
		ns, err := netns.New("mfat-" + role + "-")
		if err != nil {
			return err
		}
		r.ns[role] = ns
		if err := ns.Sysctl("net.ipv6.conf.all.disable_ipv6", "1"); err != nil {
			return err
		}
	}
	tag := strings.TrimPrefix(r.ns["cli"].Name, "mfat-cli-")[:4]
	for _, l := range links {
		ifA := fmt.Sprintf("mfat%d%s%s", l.subnet, "a", tag)
		ifB := fmt.Sprintf("mfat%d%s%s", l.subnet, "b", tag)
		a, b := r.ns[l.a], r.ns[l.b]
		if out, err := exec.Command("ip", "link", "add", ifA, "netns", a.Name, "type", "veth", "peer", "name", ifB, "netns", b.Name).CombinedOutput(); err != nil {
			return fmt.Errorf("demo: veth %s-%s: %v: %s", l.a, l.b, err, bytes.TrimSpace(out))
		}
		macA, macB := fmt.Sprintf("02:00:0a:d8:%02x:01", l.subnet), fmt.Sprintf("02:00:0a:d8:%02x:02", l.subnet)
		for _, s := range []struct {
			ns        *netns.Namespace
			ifc, mac  string
			ip, peer  netip.Addr
			peerMAC   string
			otherSide string
		}{{a, ifA, macA, addr(l.subnet, 1), addr(l.subnet, 2), macB, l.b}, {b, ifB, macB, addr(l.subnet, 2), addr(l.subnet, 1), macA, l.a}} {
			for _, step := range [][]string{
				{"link", "set", s.ifc, "address", s.mac},
				{"addr", "add", s.ip.String() + "/24", "dev", s.ifc},
				{"link", "set", s.ifc, "up"},
				{"neigh", "replace", s.peer.String(), "lladdr", s.peerMAC, "dev", s.ifc, "nud", "permanent"},
			} {
				if err := s.ns.IP(step...); err != nil {
					return err
				}
			}
			// Wire-sized packets with correct checksums in the captures.
			s.ns.Command(context.Background(), "ethtool", "-K", s.ifc, "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off").Run()
		}
	}
	return nil
}

// start runs a program in a namespace (role "" for the host's), its
// output in logs/<name>.log.
func (r *run) start(name, role string, args ...string) (*proc, error) {
	var cmd *exec.Cmd
	if role == "" {
		cmd = exec.Command(args[0], args[1:]...)
	} else {
		cmd = r.ns[role].Command(context.Background(), args[0], args[1:]...)
	}
	logf, err := os.Create(r.path("logs/" + name + ".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("demo: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	r.procs = append(r.procs, p)
	r.log.Info("started", "name", name, "pid", cmd.Process.Pid)
	return p, nil
}

// stop signals p and waits, killing it after wait.
func (r *run) stop(p *proc, sig os.Signal, wait time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(wait):
		r.log.Warn("killing", "name", p.name)
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (r *run) cleanup() {
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.stop(r.procs[i], syscall.SIGKILL, 5*time.Second)
	}
	for _, ns := range r.ns {
		ns.Delete()
	}
}

// waitTCP waits until a TCP listener answers at a in role's namespace.
func (r *run) waitTCP(role string, a netip.AddrPort, p *proc) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("demo: %s exited: %v (see %s)", p.name, p.err, r.path("logs/"+p.name+".log"))
		default:
		}
		var c net.Conn
		err := r.ns[role].Do(func() (err error) {
			c, err = net.DialTimeout("tcp4", a.String(), time.Second)
			return err
		})
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("demo: %s does not listen on %s", p.name, a)
}

func (r *run) services(ctx context.Context) error {
	// MariaDB: a fresh datadir, no grant tables (any user logs in without
	// a password), the demo's table created through its unix socket.
	data := r.path("mysql")
	if out, err := exec.CommandContext(ctx, "mariadb-install-db", "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		return fmt.Errorf("demo: mariadb-install-db: %v: %s", err, bytes.TrimSpace(out))
	}
	sock := r.path("mysql.sock")
	my, err := r.start("mariadbd", "db", "mariadbd", "--no-defaults", "--datadir="+data, "--user=root",
		"--port=3306", "--bind-address=0.0.0.0", "--socket="+sock, "--pid-file="+r.path("mysql.pid"),
		"--skip-log-bin", "--innodb-buffer-pool-size=16M", "--skip-grant-tables", "--skip-name-resolve",
		"--max-connections=1000", "--thread-cache-size=200")
	if err != nil {
		return err
	}
	if err := r.waitTCP("db", mysqlGo, my); err != nil {
		return err
	}
	var sql strings.Builder
	sql.WriteString("CREATE DATABASE demo; CREATE TABLE demo.items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2)); INSERT INTO demo.items VALUES ")
	for i := range 100 {
		if i > 0 {
			sql.WriteString(",")
		}
		fmt.Fprintf(&sql, "(%d,'item-%d',%d.%02d)", i, i, 1+i%50, i%100)
	}
	if out, err := exec.CommandContext(ctx, "mysql", "--no-defaults", "-S", sock, "-uroot", "-e", sql.String()).CombinedOutput(); err != nil {
		return fmt.Errorf("demo: create the demo table: %v: %s", err, bytes.TrimSpace(out))
	}
	rd, err := r.start("redis-server", "db", "redis-server", "--bind", "0.0.0.0", "--port", "6379", "--dir", r.cfg.Dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no", "--logfile", "", "--maxclients", "2000")
	if err != nil {
		return err
	}
	if err := r.waitTCP("db", redisGo, rd); err != nil {
		return err
	}
	if _, err := r.start("dns", "dns", filepath.Join(r.bin, "mfat-dns"), "dns", "-listen", dnsAddr.String()+","+dnsGo.String(),
		"-answer", redisPy.Addr().String(), "-truth", r.path("truth-dns.jsonl")); err != nil {
		return err
	}
	api, err := r.start("api", "go", filepath.Join(r.bin, "mfat-api"), "api", "-listen", goAddr.String(),
		"-redis", redisGo.String(), "-mysql", mysqlGo.String(), "-truth", r.path("truth-go.jsonl"),
		"-dns", dnsGo.String(), "-otel", r.path("otel-go.jsonl"))
	if err != nil {
		return err
	}
	if err := r.waitTCP("go", goAddr, api); err != nil {
		return err
	}
	py, err := r.start("python", "py", "/usr/bin/python3", r.path("pyservice.py"), pyAddr.Addr().String(),
		strconv.Itoa(int(pyAddr.Port())), r.path("truth-python.jsonl"), dnsAddr.String(), redisPy.String(),
		mysqlPy.String(), goAddr.String())
	if err != nil {
		return err
	}
	if err := r.waitTCP("py", pyAddr, py); err != nil {
		return err
	}
	ngxDir := r.path("nginx")
	if err := os.MkdirAll(ngxDir, 0o755); err != nil {
		return err
	}
	var conf bytes.Buffer
	if err := template.Must(template.New("nginx").Parse(nginxConf)).Execute(&conf, map[string]any{
		"Dir": ngxDir, "Workers": r.cfg.NginxWorkers, "Listen": nginxAddr.String(), "Upstream": pyAddr.String(),
	}); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ngxDir, "nginx.conf"), conf.Bytes(), 0o644); err != nil {
		return err
	}
	ngx, err := r.start("nginx", "ngx", "nginx", "-p", ngxDir, "-c", filepath.Join(ngxDir, "nginx.conf"), "-e", filepath.Join(ngxDir, "error.log"))
	if err != nil {
		return err
	}
	return r.waitTCP("ngx", nginxAddr, ngx)
}

// agents starts the eBPF agent on the host and a packet agent in each
// tapped namespace, and waits for them to attach.
func (r *run) agents() ([]*proc, error) {
	var out []*proc
	if !r.cfg.NoEBPF {
		args := append([]string{r.cfg.Agent, "-ebpf", "-pid", strings.Join(r.pids(), ","), "-o", "json", "-stats"}, r.cfg.EBPFArgs...)
		p, err := r.startOut("agent-ebpf", "", "rec-ebpf.jsonl", args...)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if !r.cfg.NoPackets {
		roles := make([]string, 0, len(tapRoles))
		for role := range tapRoles {
			roles = append(roles, role)
		}
		sort.Strings(roles)
		for _, role := range roles {
			p, err := r.startOut("agent-"+role, role, "rec-"+role+".jsonl", r.cfg.Agent, "-i", "any", "-o", "json", "-stats")
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	// The agents print nothing when ready: give them time to attach.
	time.Sleep(3 * time.Second)
	for _, p := range out {
		select {
		case <-p.done:
			return nil, fmt.Errorf("demo: %s exited: %v (see %s)", p.name, p.err, r.path("logs/"+p.name+".log"))
		default:
		}
	}
	return out, nil
}

// startOut is start with stdout to file (stderr to the log).
func (r *run) startOut(name, role, file string, args ...string) (*proc, error) {
	var cmd *exec.Cmd
	if role == "" {
		cmd = exec.Command(args[0], args[1:]...)
	} else {
		cmd = r.ns[role].Command(context.Background(), args[0], args[1:]...)
	}
	f, err := os.Create(r.path(file))
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(r.path("logs/" + name + ".log"))
	if err != nil {
		f.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		logf.Close()
		return nil, fmt.Errorf("demo: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		logf.Close()
		close(p.done)
	}()
	r.procs = append(r.procs, p)
	r.log.Info("started", "name", name, "pid", cmd.Process.Pid)
	return p, nil
}

// startLoad starts the load generator, waiting for its go file, so that
// its pid is known before the eBPF agent starts.
func (r *run) startLoad() (*proc, error) {
	args := []string{filepath.Join(r.bin, "mfat-load"), "load", "-url", "http://" + nginxAddr.String() + "/order",
		"-clients", strconv.Itoa(r.cfg.Clients), "-duration", r.cfg.Duration.String(),
		"-truth", r.path("truth-client.jsonl"), "-go", r.path("go")}
	if r.cfg.MaxRequests > 0 {
		args = append(args, "-max", strconv.Itoa(r.cfg.MaxRequests))
	}
	if r.cfg.Rate > 0 {
		args = append(args, "-rate", strconv.FormatFloat(r.cfg.Rate, 'f', -1, 64))
	}
	os.Remove(r.path("go"))
	return r.start("load", "cli", args...)
}

// runLoad lets the load generator go and waits for it to end.
func (r *run) runLoad(ctx context.Context, p *proc) (ok, failed int, err error) {
	if err := os.WriteFile(r.path("go"), nil, 0o644); err != nil {
		return 0, 0, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		r.stop(p, syscall.SIGKILL, time.Second)
		return 0, 0, fmt.Errorf("demo: load: %w", ctx.Err())
	}
	out, _ := os.ReadFile(r.path("logs/load.log"))
	if p.err != nil {
		return 0, 0, fmt.Errorf("demo: load: %v: %s", p.err, bytes.TrimSpace(out))
	}
	if _, err := fmt.Sscanf(string(bytes.TrimSpace(out)), "requests ok=%d failed=%d", &ok, &failed); err != nil {
		return 0, 0, fmt.Errorf("demo: load output %q: %v", out, err)
	}
	r.log.Info("load done", "ok", ok, "failed", failed)
	return ok, failed, nil
}

// pids returns the process ids of the demo's programs (nginx's workers
// too) for the eBPF agent's -pid.
func (r *run) pids() []string {
	var out []string
	for _, p := range r.procs {
		if strings.HasPrefix(p.name, "agent-") {
			continue
		}
		pid := p.cmd.Process.Pid
		out = append(out, strconv.Itoa(pid))
		if p.name == "nginx" {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
			out = append(out, strings.Fields(string(b))...)
		}
	}
	return out
}

// mergeRecords writes every agent's lines into one file, each stamped
// with its capture point: {"tap":...,"tap_side":...,<the record>}. Lines
// not involving the demo's network are dropped.
func (r *run) mergeRecords(dst string) (map[string]int, error) {
	out, err := os.Create(dst)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	counts := map[string]int{}
	type peek struct {
		Type    string `json:"type"`
		IP0     string `json:"ip_0"`
		IP1     string `json:"ip_1"`
		PID0    uint32 `json:"process_id_0"`
		PID1    uint32 `json:"process_id_1"`
		TapSide string `json:"tap_side"`
	}
	files := []struct{ tap, file, role string }{{"ebpf", "rec-ebpf.jsonl", ""}}
	for role, tap := range tapRoles {
		files = append(files, struct{ tap, file, role string }{tap, "rec-" + role + ".jsonl", role})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].tap < files[j].tap })
	for _, f := range files {
		in, err := os.Open(r.path(f.file))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		own := map[netip.Addr]bool{}
		for _, l := range links {
			if l.a == f.role {
				own[addr(l.subnet, 1)] = true
			}
			if l.b == f.role {
				own[addr(l.subnet, 2)] = true
			}
		}
		err = eachLine(in, func(n int, line []byte) error {
			var p peek
			if err := json.Unmarshal(line, &p); err != nil || len(line) < 2 || line[0] != '{' {
				return fmt.Errorf("demo: %s line %d: not a JSON object: %v", f.file, n, err)
			}
			a0, _ := netip.ParseAddr(p.IP0)
			a1, _ := netip.ParseAddr(p.IP1)
			if !demoNetwork.Contains(a0) && !demoNetwork.Contains(a1) {
				return nil
			}
			side := ""
			switch {
			case p.TapSide != "":
			case f.role == "" && p.PID0 != 0 && p.PID1 == 0:
				side = "c-p"
			case f.role == "" && p.PID1 != 0 && p.PID0 == 0:
				side = "s-p"
			case f.role != "" && own[a0]:
				side = "c"
			case f.role != "" && own[a1]:
				side = "s"
			}
			w.WriteString(`{"tap":"` + f.tap + `"`)
			if side != "" {
				w.WriteString(`,"tap_side":"` + side + `"`)
			}
			w.WriteByte(',')
			w.Write(line[1:])
			w.WriteByte('\n')
			counts[f.tap]++
			return nil
		})
		in.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return counts, out.Close()
}

// nginxLine is one line of nginx's JSON access log (nginx.conf.tmpl).
type nginxLine struct {
	PID               int    `json:"pid"`
	RequestID         string `json:"request_id"`
	Local             string `json:"local"`
	Remote            string `json:"remote"`
	Msec              string `json:"msec"`
	RequestTime       string `json:"request_time"`
	Request           string `json:"request"`
	Status            int    `json:"status"`
	UpstreamAddr      string `json:"upstream_addr"`
	UpstreamResponse  string `json:"upstream_response_time"`
	UpstreamConnect   string `json:"upstream_connect_time"`
	Connection        int64  `json:"connection"`
	ConnectionRequest int64  `json:"connection_requests"`
}

func secs(s string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// mergeTruth writes every service's ground truth into one file. nginx's
// access log becomes Truth lines whose one call (to the Python service)
// takes its local address from the Python line with the same
// X-Request-ID, and its times from nginx's millisecond fields.
func (r *run) mergeTruth(dst string) error {
	var all []Truth
	py := map[string]*Truth{}
	for _, name := range []string{"client", "python", "go", "dns"} {
		f, err := os.Open(r.path("truth-" + name + ".jsonl"))
		if err != nil {
			return fmt.Errorf("demo: ground truth of %s: %w", name, err)
		}
		ts, err := ReadTruth(f)
		f.Close()
		if err != nil {
			return err
		}
		all = append(all, ts...)
	}
	for i := range all {
		if all[i].Service == "python" && all[i].XRequestID != "" {
			py[all[i].XRequestID] = &all[i]
		}
	}
	f, err := os.Open(r.path("nginx/access.log"))
	if err != nil {
		return fmt.Errorf("demo: nginx access log: %w", err)
	}
	var ngx []Truth
	err = eachLine(f, func(n int, line []byte) error {
		var l nginxLine
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("demo: nginx access log line %d: %w", n, err)
		}
		end, ok1 := secs(l.Msec)
		total, ok2 := secs(l.RequestTime)
		if !ok1 || !ok2 {
			return fmt.Errorf("demo: nginx access log line %d: bad times %q %q", n, l.Msec, l.RequestTime)
		}
		endT := time.Unix(0, int64(end))
		t := Truth{Service: "nginx", Kind: "proxy", PID: l.PID, ID: "nginx-" + l.RequestID, Protocol: "HTTP",
			Local: l.Local, Remote: l.Remote, Start: endT.Add(-total).UTC().Format(time.RFC3339Nano),
			End: endT.UTC().Format(time.RFC3339Nano), Request: l.Request, Status: l.Status, XRequestID: l.RequestID,
			Calls: []Call{}}
		if up, ok := secs(l.UpstreamResponse); ok && l.UpstreamAddr != "" {
			c := Call{Protocol: "HTTP", Remote: l.UpstreamAddr, Start: endT.Add(-up).UTC().Format(time.RFC3339Nano),
				End: t.End, Request: l.Request, Approx: true}
			if p := py[l.RequestID]; p != nil {
				c.Local = p.Remote
				// nginx's times have millisecond steps: widen them to
				// hold the Python service's own.
				c.Start = earlier(c.Start, p.Start)
				if earlier(c.End, p.End) == c.End {
					c.End = p.End
				}
			}
			if l.UpstreamConnect != "" && l.UpstreamConnect != "0.000" && l.UpstreamConnect != "-" {
				c.Request += " (new connection)"
			}
			t.Calls = append(t.Calls, c)
		}
		ngx = append(ngx, t)
		return nil
	})
	f.Close()
	if err != nil {
		return err
	}
	all = append(all, ngx...)
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	for i := range all {
		if err := enc.Encode(&all[i]); err != nil {
			out.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// earlier returns the earlier of two RFC 3339 times (a if b does not
// parse).
func earlier(a, b string) string {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	if err1 == nil && err2 == nil && tb.Before(ta) {
		return b
	}
	return a
}
