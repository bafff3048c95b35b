package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ModuleRoot returns the repository root: the directory holding the
// library's go.mod (module github.com/metaflow-go/metaflow), walking up from
// the test's working directory past nested modules such as examples/.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.HasPrefix(b, []byte("module github.com/metaflow-go/metaflow\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// SharedPcaps returns the folder of the shared capture corpus for one
// protocol (sub may be "" for the corpus root), or skips the test when the
// corpus is absent. METAFLOW_PCAPS overrides the default location,
// ../shared/pcaps beside the module root.
func SharedPcaps(t testing.TB, sub string) string {
	t.Helper()
	root := os.Getenv("METAFLOW_PCAPS")
	if root == "" {
		root = filepath.Join(filepath.Dir(ModuleRoot(t)), "shared", "pcaps")
	}
	dir := filepath.Join(root, sub)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("shared capture corpus not found at %s", dir)
	}
	return dir
}

// Testdata returns the path of a file under the module's testdata folder.
func Testdata(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(ModuleRoot(t), "testdata", name)
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN)")
	}
}

// RequireCommand skips the test unless every named program is on PATH, and
// returns nothing.
func RequireCommand(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("needs %s on PATH", n)
		}
	}
}

// SkipShort skips a slow test under -short.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow; skipped with -short")
	}
}

// RequireEBPF skips the test unless it can load and attach eBPF tracing
// programs: root, kernel BTF at /sys/kernel/btf/vmlinux, and tracefs
// mounted at /sys/kernel/tracing (mounted here when possible, as the
// syscall tracepoints need it).
func RequireEBPF(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF, CAP_PERFMON) to load eBPF programs")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skipf("needs kernel BTF: %v", err)
	}
	if _, err := os.Stat("/sys/kernel/tracing/events/syscalls"); err != nil {
		if out, err := exec.Command("mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing").CombinedOutput(); err != nil {
			t.Logf("mount tracefs: %v: %s (raw tracepoints only)", err, bytes.TrimSpace(out))
		}
	}
}
