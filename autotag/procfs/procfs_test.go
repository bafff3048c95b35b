package procfs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/tag"
)

const (
	hexA = "b070c83de53aca26bf7be9aebbbb602d8c1107366e344131348f66386a42237e"
	uidA = "f9ad709f-a8dc-417f-bfcd-889ad7e07b2d"
)

func TestParseCgroup(t *testing.T) {
	for _, tc := range []struct {
		name, data, id, uid string
	}{
		{"containerd systemd v2", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(uidA, "-", "_") + ".slice/cri-containerd-" + hexA + ".scope\n", hexA, uidA},
		{"cgroupfs v1 and v2", "12:memory:/kubepods/besteffort/pod" + uidA + "/" + hexA + "\n0::/kubepods/besteffort/pod" + uidA + "/" + hexA + "\n", hexA, uidA},
		{"guaranteed pod", "0::/kubepods.slice/kubepods-pod" + strings.ReplaceAll(uidA, "-", "_") + ".slice/crio-" + hexA + ".scope", hexA, uidA},
		{"docker cgroupfs", "0::/docker/" + hexA + "\n", hexA, ""},
		{"docker systemd", "0::/system.slice/docker-" + hexA + ".scope\n", hexA, ""},
		{"podman payload", "0::/machine.slice/libpod-" + hexA + ".scope/container\n", hexA, ""},
		{"podman conmon", "0::/machine.slice/libpod-conmon-" + hexA + ".scope\n", "", ""},
		{"crio conmon", "0::/kubepods.slice/kubepods-pod" + strings.ReplaceAll(uidA, "-", "_") + ".slice/crio-conmon-" + hexA + ".scope\n", "", uidA},
		{"pod sandbox only", "0::/kubepods/pod" + uidA + "\n", "", uidA},
		{"host service", "0::/system.slice/cron.service\n1:cpu:/\n", "", ""},
		{"short id", "4:memory:/process/b19bedc4054c54286cac09957c0eb3e7\n", "", ""},
		{"upper-case id", "0::/docker/" + strings.ToUpper(hexA) + "\n", "", ""},
		{"bad uid", "0::/kubepods/podnot-a-uid/" + hexA + "\n", hexA, ""},
		{"no colon", "garbage\n::\n", "", ""},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, uid := ParseCgroup([]byte(tc.data))
			if id != tc.id || uid != tc.uid {
				t.Fatalf("got (%q, %q), want (%q, %q)", id, uid, tc.id, tc.uid)
			}
		})
	}
}

func TestParseNet(t *testing.T) {
	data, err := os.ReadFile("testdata/proc/4768/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	var got []Socket
	if err := ParseNet(data, func(s Socket) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Local != netip.MustParseAddrPort("127.0.0.1:26501") || got[0].State != 0x0A || got[0].Inode != 672138 {
		t.Fatalf("tcp: %+v", got)
	}
	got = nil
	data, _ = os.ReadFile("testdata/proc/4768/net/udp6")
	if err := ParseNet(data, func(s Socket) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Local != netip.MustParseAddrPort("[::]:26502") {
		t.Fatalf("udp6: %+v", got)
	}
	v6 := "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 0000000000000000FFFF00000100007F:0050 00000000000000000000000001000000:D431 01 00000000:00000000 00:00000000 00000000     0        0 99 1\n" +
		"   1: B80D01200000000000000000EFBEADDE:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1\n"
	got = nil
	if err := ParseNet([]byte(v6), func(s Socket) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if got[0].Local != netip.MustParseAddrPort("127.0.0.1:80") || got[0].Remote != netip.MustParseAddrPort("[::1]:54321") ||
		got[1].Local != netip.MustParseAddrPort("[2001:db8::dead:beef]:8080") {
		t.Fatalf("tcp6: %+v", got)
	}
	for _, bad := range []string{
		"",
		"no header\n",
		"local_address\n 0: 0100007F:1F90\n",
		"local_address\n 0: 0100007G:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n",
		"local_address\n 0: 0100007F:1F9 00000000:0000 0A 0:0 0:0 0 0 0 1\n",
		"local_address\n 0: 0100007F:1F90 00000000:0000 ZZ 0:0 0:0 0 0 0 1\n",
		"local_address\n 0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 -1\n",
		"local_address\n 0: 0100007F1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n",
	} {
		err := ParseNet([]byte(bad), func(Socket) {})
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrFormat) || pe.Line < 1 {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// expectation is what record.sh set up for one process.
type expectation struct {
	PID         uint32 `json:"pid"`
	Comm        string `json:"comm"`
	ContainerID string `json:"container_id"`
	PodUID      string `json:"pod_uid"`
	Listen      []struct {
		Proto uint8  `json:"proto"`
		Local string `json:"local"`
	} `json:"listen"`
}

// recordedTree rebuilds a proc tree from testdata/proc in a temporary
// folder: files as recorded, fd.txt and ns.txt as the symbolic links they
// describe.
func recordedTree(t *testing.T) (string, []expectation) {
	t.Helper()
	root := t.TempDir()
	src := "testdata/proc"
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(root, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch d.Name() {
		case "fd.txt", "ns.txt":
			dir := filepath.Join(filepath.Dir(dst), strings.TrimSuffix(d.Name(), ".txt"))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			sc := bufio.NewScanner(strings.NewReader(string(data)))
			for sc.Scan() {
				name, target, ok := strings.Cut(sc.Text(), " ")
				if !ok {
					return fmt.Errorf("%s: bad line %q", p, sc.Text())
				}
				if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
					return err
				}
			}
			return nil
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	var exp []expectation
	data, err := os.ReadFile(filepath.Join(src, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &exp); err != nil {
		t.Fatal(err)
	}
	return root, exp
}

// TestSource_ScanRecorded scans the recorded trees of processes in cgroups
// laid out as containerd, CRI-O, docker and podman lay theirs out (see
// testdata/record.sh) and checks every process, container, pod and
// listening socket that the recording set up.
func TestSource_ScanRecorded(t *testing.T) {
	root, exp := recordedTree(t)
	src := New(Config{Root: root})
	e, err := src.Scan()
	if err != nil {
		t.Fatal(err)
	}
	tg := autotag.New()
	tg.Updater("procfs").Update(e)
	snap := tg.Snapshot()
	if len(e.Processes) != len(exp) {
		t.Errorf("%d processes, want %d", len(e.Processes), len(exp))
	}
	pids := map[uint32]bool{}
	for _, x := range exp {
		pids[x.PID] = true
		p := snap.Process(x.PID)
		if p == nil {
			t.Errorf("pid %d missing", x.PID)
			continue
		}
		if p.GProcess != x.Comm || p.ContainerID != x.ContainerID || p.PodUID != x.PodUID {
			t.Errorf("pid %d: (%q, %q, %q), want (%q, %q, %q)", x.PID, p.GProcess, p.ContainerID, p.PodUID, x.Comm, x.ContainerID, x.PodUID)
		}
		for _, l := range x.Listen {
			ap := netip.MustParseAddrPort(l.Local)
			if pid, ok := snap.Socket(l.Proto, ap); !ok || pid != x.PID {
				t.Errorf("socket %d %v: pid %d %v, want %d", l.Proto, ap, pid, ok, x.PID)
			}
		}
	}
	// The python process's connection to itself: both ends are its own.
	established := 0
	for _, k := range e.Sockets {
		if !pids[k.PID] {
			t.Errorf("socket %+v of an unrecorded process", k)
		}
		if k.PID == exp[0].PID && k.Proto == 6 && k.Local.Port() != 26501 {
			established++
		}
	}
	if established != 1 {
		t.Errorf("%d client sockets of pid %d, want 1: %+v", established, exp[0].PID, e.Sockets)
	}
	if st := src.Stats(); st.Scans != 1 || st.Processes != int64(len(exp)) || st.BadTables != 0 {
		t.Errorf("stats: %+v", st)
	}

	// A packet flow to the python listener gets its process, container
	// and (with a Kubernetes-like source naming the pod uid) pod tags.
	tg.Updater("pods").Update(&autotag.Entries{Pods: []autotag.PodEntry{{UID: exp[0].PodUID, Resource: autotag.Resource{Pod: "web-0", PodNS: "shop"}}}})
	r := &flow.Record{IP0: netip.MustParseAddr("127.0.0.1"), ClientPort: 40000, IP1: netip.MustParseAddr("127.0.0.1"), ServerPort: 26501, Protocol: 6}
	tg.NewStage(autotag.StageConfig{}).ProcessL4(r)
	for k, want := range map[string]string{"gprocess": exp[0].Comm, "container_id": exp[0].ContainerID, "pod": "web-0", "pod_ns": "shop"} {
		if v, _ := r.Tags.Get(tag.Server, k); v != want {
			t.Errorf("server %s = %q, want %q (%v)", k, v, want, r.Tags.Side(tag.Server))
		}
	}
	if r.Tags.Len() != len(r.Tags.Side(tag.Server)) {
		t.Errorf("client side tagged: %v", r.Tags.Side(tag.Client))
	}
}

func TestMain(m *testing.M) {
	if addr := os.Getenv("PROCFS_TEST_LISTEN"); addr != "" {
		// The child of TestSource_Live: listen, say so, wait for stdin to close.
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		fmt.Println("ready")
		buf := make([]byte, 1)
		os.Stdin.Read(buf)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSource_Live scans the real /proc: the test's own process and a child
// listening on 127.0.0.1:26510, with the test's connection to it.
func TestSource_Live(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux /proc")
	}
	const addr = "127.0.0.1:26510"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROCFS_TEST_LISTEN="+addr)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("child: %q", line)
	}
	conn, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	tg := autotag.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := New(Config{Interval: time.Hour})
	done := make(chan error, 1)
	go func() { done <- tg.Run(ctx, src) }()
	deadline := time.Now().Add(10 * time.Second)
	for tg.Snapshot().Process(uint32(os.Getpid())) == nil {
		if time.Now().After(deadline) {
			t.Fatal("no scan")
		}
		time.Sleep(10 * time.Millisecond)
	}
	snap := tg.Snapshot()
	comm := filepath.Base(os.Args[0])
	if len(comm) > 15 {
		comm = comm[:15]
	}
	child := uint32(cmd.Process.Pid)
	for _, pid := range []uint32{uint32(os.Getpid()), child} {
		if p := snap.Process(pid); p == nil || p.GProcess != comm {
			t.Errorf("pid %d: %+v, want comm %q", pid, p, comm)
		}
	}
	if pid, ok := snap.Socket(6, netip.MustParseAddrPort(addr)); !ok || pid != child {
		t.Errorf("listener %s: pid %d %v, want %d", addr, pid, ok, child)
	}
	local := netip.MustParseAddrPort(conn.LocalAddr().String())
	if pid, ok := snap.Socket(6, local); !ok || pid != uint32(os.Getpid()) {
		t.Errorf("client socket %v: pid %d %v, want %d", local, pid, ok, os.Getpid())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSource_RunNoRoot(t *testing.T) {
	src := New(Config{Root: filepath.Join(t.TempDir(), "none")})
	if err := src.Run(context.Background(), autotag.New().Updater("x")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Run: %v", err)
	}
}

func FuzzParseNet(f *testing.F) {
	for _, p := range []string{"testdata/proc/4768/net/tcp", "testdata/proc/4768/net/udp6", "testdata/proc/4768/net/tcp6"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		err := ParseNet(data, func(s Socket) {
			n++
			if !s.Local.IsValid() || !s.Remote.IsValid() {
				t.Fatalf("invalid address in %+v", s)
			}
		})
		var pe *ParseError
		if err != nil && (!errors.As(err, &pe) || pe.Line < 1) {
			t.Fatalf("error %v (%T)", err, err)
		}
	})
}

func FuzzParseCgroup(f *testing.F) {
	for _, p := range []string{"testdata/proc/4768/cgroup", "testdata/proc/4851/cgroup"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		id, uid := ParseCgroup(data)
		if id != "" && !isHexID(id) {
			t.Fatalf("container id %q", id)
		}
		if uid != "" && !isUID(uid) {
			t.Fatalf("pod uid %q", uid)
		}
	})
}
