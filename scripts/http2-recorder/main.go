// Command http2-recorder is the h2c server that scripts/record-http2.sh
// records curl against: HTTP/2 over cleartext TCP, by prior knowledge and
// by HTTP/1.1 Upgrade (golang.org/x/net/http2/h2c).
//
// Paths: /hello (200, echoes x-request-id), /missing (404), /error (500),
// /big (200, 200 KiB body), /slow (200 after 50 ms); anything else 404.
//
// usage: http2-recorder -addr 127.0.0.1:17200
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:17200", "listen address")
	flag.Parse()
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
