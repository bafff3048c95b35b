// Command goroutineapp is the goroutine tracking tests' target: a Go
// net/http server whose handlers make outbound TCP calls from the
// handler's goroutine and from goroutines it starts, and the TCP echo
// server those calls go to.
//
//	goroutineapp -mode echo -addr 127.0.0.1:PORT
//	goroutineapp -mode server -addr 127.0.0.1:PORT -echo 127.0.0.1:PORT2 -log FILE
//
// Both print "listening ADDR" once they listen and run until SIGTERM.
//
// The server answers GET /r/ID. Request ID makes 1 + ID%3 calls, each a new
// connection to the echo server that writes "call ID K\n" and reads it
// back:
//
//	ID%3 == 0: call 0 from the handler's goroutine;
//	ID%3 == 1: a child goroutine started first makes call 1 while the
//	           handler makes call 0;
//	ID%3 == 2: the handler makes call 0, then starts a child that starts a
//	           grandchild; the child makes call 1, the grandchild call 2.
//
// The ground truth goes to -log, one line per call, written at SIGTERM:
// "ID K WHO GOID LPORT" (WHO: handler, child or grandchild; GOID the
// calling goroutine's id as runtime.Stack prints it; LPORT the call's
// local port), independent of anything a tracer observes.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

func main() {
	mode := flag.String("mode", "server", "echo or server")
	addr := flag.String("addr", "127.0.0.1:41500", "listen address")
	echo := flag.String("echo", "127.0.0.1:41501", "server: the echo server's address")
	logPath := flag.String("log", "", "server: ground truth file")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var s *server
	switch *mode {
	case "echo":
		go serveEcho(ln)
	case "server":
		s = &server{echo: *echo}
		go http.Serve(ln, s)
	default:
		fmt.Fprintln(os.Stderr, "unknown -mode", *mode)
		os.Exit(2)
	}
	fmt.Println("listening", ln.Addr())
	<-sig
	if s != nil && *logPath != "" {
		s.mu.Lock()
		err := os.WriteFile(*logPath, s.log.Bytes(), 0o644)
		s.mu.Unlock()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadBytes('\n')
				if err != nil {
					return
				}
				if _, err := c.Write(line); err != nil {
					return
				}
			}
		}()
	}
}

type server struct {
	echo string
	mu   sync.Mutex
	log  bytes.Buffer
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
	if err != nil || id < 0 {
		http.Error(w, "want /r/ID", http.StatusNotFound)
		return
	}
	var errs [3]error
	var wg sync.WaitGroup
	switch id % 3 {
	case 0:
		errs[0] = s.call(id, 0, "handler")
	case 1:
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[1] = s.call(id, 1, "child")
		}()
		errs[0] = s.call(id, 0, "handler")
	case 2:
		errs[0] = s.call(id, 0, "handler")
		wg.Add(1)
		go func() {
			defer wg.Done()
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[2] = s.call(id, 2, "grandchild")
			}()
			errs[1] = s.call(id, 1, "child")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
	}
	fmt.Fprintf(w, "ok %d\n", id)
}

// call makes one outbound call and logs it.
func (s *server) call(id, k int, who string) error {
	c, err := net.Dial("tcp", s.echo)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := fmt.Sprintf("call %d %d\n", id, k)
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo answered %q to %q", got, msg)
	}
	lport := c.LocalAddr().(*net.TCPAddr).Port
	s.mu.Lock()
	fmt.Fprintf(&s.log, "%d %d %s %d %d\n", id, k, who, goid(), lport)
	s.mu.Unlock()
	return nil
}

// goid returns the calling goroutine's id from its stack trace header,
// "goroutine N [running]:".
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := strings.Fields(string(buf[:n]))
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.ParseUint(f[1], 10, 64)
	return v
}
