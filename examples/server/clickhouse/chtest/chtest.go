// Package chtest starts Debian's clickhouse-server (18.16) for tests: a
// child process on free ports of 41300-41399 with its configuration and
// data in the test's temporary directory, stopped at the test's end. Tests
// skip, saying why, when the program is not installed.
package chtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// StartServer starts clickhouse-server and returns its native protocol
// address once it accepts connections.
func StartServer(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		t.Skip("clickhouse-server not installed (apt-get install clickhouse-server): the native write path is not tested")
	}
	dir := t.TempDir()
	port := 0
	for p := 41300; p < 41398; p += 2 {
		l1, err1 := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		l2, err2 := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		if l1 != nil {
			l1.Close()
		}
		if l2 != nil {
			l2.Close()
		}
		if err1 == nil && err2 == nil {
			port = p
			break
		}
	}
	if port == 0 {
		t.Fatal("chtest: no free port in 41300-41399")
	}
	users := filepath.Join(dir, "users.xml")
	cfg := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(users, []byte(`<yandex><profiles><default></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`<yandex><logger><level>warning</level><console>1</console></logger>
<tcp_port>%d</tcp_port><http_port>%d</http_port><listen_host>127.0.0.1</listen_host>
<path>%s/data/</path><tmp_path>%s/tmp/</tmp_path><users_config>%s</users_config>
<default_profile>default</default_profile><default_database>default</default_database>
<mark_cache_size>104857600</mark_cache_size></yandex>`, port, port+1, dir, dir, users)), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "server.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+cfg)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("chtest: clickhouse-server did not listen on %s: %s", addr, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
