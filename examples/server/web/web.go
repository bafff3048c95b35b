package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Files returns the page's files (index.html, app.js, style.css) rooted at
// the page's directory.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil { // the embed directive guarantees the directory
		panic(err)
	}
	return sub
}

// Handler serves the page at / and its assets beside it; paths under
// /api/ that reach it are endpoints the server does not have (404). Responses carry a
// Content-Security-Policy that allows only the page's own origin, so the
// page cannot load anything from elsewhere, and "no-cache" so that a new
// server binary's page is picked up at once.
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") { // an endpoint this server does not have
			http.Error(w, "web: no API endpoint "+r.URL.Path, http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "web: method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
