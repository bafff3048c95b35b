package web

import (
	"embed"
	"io/fs"
	"net/http"
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

// Handler serves the page at / and its assets beside it, without a token
// (New with a zero Config); paths under /api/ that reach it are endpoints
// the server does not have (404). Responses carry a
// Content-Security-Policy that allows only the page's own origin, so the
// page cannot load anything from elsewhere, and "no-cache" so that a new
// server binary's page is picked up at once.
func Handler() http.Handler { return New(Config{}) }
