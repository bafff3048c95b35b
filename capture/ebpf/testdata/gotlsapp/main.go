// Command gotlsapp is the Go TLS uprobe tests' target: an HTTPS server and
// its clients in one process. It serves on 127.0.0.1:PORT with a fresh
// self-signed certificate, runs -clients goroutines that each make -requests
// requests over one keep-alive connection, checks every response, and exits
// 0 when all succeeded. It prints "listening ADDR" once it listens; with
// -wait it then waits for SIGUSR1, so that a tracer can find it running
// before the traffic starts.
//
// Each request is GET /c<client>/r<request>; the server answers
// 200 with the body "pong c<client>/r<request>" padded to -size bytes.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:26410", "listen address")
	clients := flag.Int("clients", 8, "concurrent clients")
	requests := flag.Int("requests", 100, "requests per client")
	size := flag.Int("size", 64, "response body size")
	wait := flag.Bool("wait", false, "after listening, wait for SIGUSR1 before the clients start")
	flag.Parse()
	if err := run(*addr, *clients, *requests, *size, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "gotlsapp:", err)
		os.Exit(1)
	}
}

func run(addr string, clients, requests, size int, wait bool) error {
	start := make(chan os.Signal, 1)
	signal.Notify(start, syscall.SIGUSR1)
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body := "pong " + strings.TrimPrefix(r.URL.Path, "/")
			if len(body) < size {
				body += strings.Repeat(".", size-len(body))
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			io.WriteString(w, body)
		}),
		// HTTP/1.1 only: the tests look for request lines in the plaintext.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	fmt.Println("listening", ln.Addr())
	tlsLn := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	go srv.Serve(tlsLn)
	defer srv.Close()
	if wait {
		select {
		case <-start:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("no SIGUSR1 within 30 s")
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
				MaxIdleConns:      1,
				ForceAttemptHTTP2: false,
			}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for r := 0; r < requests; r++ {
				path := fmt.Sprintf("c%d/r%d", c, r)
				resp, err := cl.Get("https://" + addr + "/" + path)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				if !strings.HasPrefix(string(b), "pong "+path) || len(b) < size {
					errs <- fmt.Errorf("%s: body %.40q", path, b)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return nil
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
