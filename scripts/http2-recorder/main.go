// Command http2-recorder is the h2c server that scripts/record-http2.sh
// records curl against: HTTP/2 over cleartext TCP, by prior knowledge and
// by HTTP/1.1 Upgrade (golang.org/x/net/http2/h2c).
//
// Paths: /hello (200, echoes x-request-id), /missing (404), /error (500),
// /big (200, 200 KiB body), /slow (200 after 50 ms); anything else 404.
//
// With -client, it is instead an HTTP/2 prior-knowledge client that sends
// GET requests for its arguments concurrently on one connection (curl 7.88
// cannot multiplex a prior-knowledge connection), with the tracing headers
// given by -H name:value.
//
// usage: http2-recorder -addr 127.0.0.1:17200
//
//	http2-recorder -client [-H name:value ...] URL...
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ",") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:17200", "listen address")
	client := flag.Bool("client", false, "be a prior-knowledge client of the URLs in the arguments")
	var hdrs headerFlags
	flag.Var(&hdrs, "H", "request header name:value (client)")
	flag.Parse()
	if *client {
		runClient(flag.Args(), hdrs)
		return
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("X-Request-Id"); id != "" {
			w.Header().Set("X-Request-Id", id)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello " + r.URL.RawQuery + "\n"))
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(big)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte("slow\n"))
	})
	mux.HandleFunc("/", http.NotFound)
	srv := &http.Server{Addr: *addr, Handler: h2c.NewHandler(mux, &http2.Server{})}
	log.Fatal(srv.ListenAndServe())
}

func runClient(urls []string, hdrs []string) {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	c := &http.Client{Transport: tr}
	// One request first so that the others share its connection.
	get(c, urls[0], hdrs)
	var wg sync.WaitGroup
	for _, u := range urls[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(c, u, hdrs)
		}()
	}
	wg.Wait()
	tr.CloseIdleConnections()
}

func get(c *http.Client, u string, hdrs []string) {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hdrs {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := c.Do(req)
	if err != nil {
		log.Printf("%s: %v", u, err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	log.Printf("%s: %s", u, resp.Status)
}
