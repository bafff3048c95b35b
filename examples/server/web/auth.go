package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strings"
	"sync/atomic"
)

// Paths of the page token's sign-in.
const (
	LoginPath   = "/login"    // POST token=...: sets the cookie
	LoginScript = "/login.js" // the sign-in page's script, served without the token
)

// CookieName is the cookie that carries the proof of the page token.
const CookieName = "metaflow_page"

//go:embed login/login.html
var loginHTML []byte

//go:embed login/login.js
var loginJS []byte

// Config configures a Page. The zero value serves the page to anyone.
type Config struct {
	// Token, when set, is required for every file of the page: as the
	// cookie the sign-in sets (POST LoginPath with the form field token)
	// or as "Authorization: Bearer <Token>". Default "": no token.
	Token string
	// QueryToken is the query API's token. The sign-in only tells the
	// page whether Token is also the query token, so that the page can
	// use it for the API without asking twice. Default "".
	QueryToken string
}

// Stats counts a Page's requests.
type Stats struct {
	Requests     uint64 `json:"requests"`
	Unauthorized uint64 `json:"unauthorized"` // no or a wrong token or cookie, a refused sign-in
	Logins       uint64 `json:"logins"`       // sign-ins that set the cookie
}

// Page serves the page's files, behind the page token when one is set.
// It is safe for concurrent use.
type Page struct {
	cfg    Config
	cookie string // hex HMAC-SHA256 of a fixed label keyed by the token
	files  http.Handler
	stats  struct{ requests, unauth, logins atomic.Uint64 }
}

// New returns the page of cfg.
func New(cfg Config) *Page {
	p := &Page{cfg: cfg, files: http.FileServerFS(Files())}
	if cfg.Token != "" {
		m := hmac.New(sha256.New, []byte(cfg.Token))
		m.Write([]byte("metaflow page cookie v1"))
		p.cookie = hex.EncodeToString(m.Sum(nil))
	}
	return p
}

// Stats returns the counters.
func (p *Page) Stats() Stats {
	return Stats{Requests: p.stats.requests.Load(), Unauthorized: p.stats.unauth.Load(), Logins: p.stats.logins.Load()}
}

func constEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authorized reports whether r carries the page cookie or the token.
func (p *Page) authorized(r *http.Request) bool {
	if p.cfg.Token == "" {
		return true
	}
	if c, err := r.Cookie(CookieName); err == nil && constEq(c.Value, p.cookie) {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && constEq(got, p.cfg.Token)
}

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// ServeHTTP serves the page: the sign-in when a token is set and r lacks
// it (401), else the files.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.stats.requests.Add(1)
	if strings.HasPrefix(r.URL.Path, "/api/") { // an endpoint this server does not have
		http.Error(w, "web: no API endpoint "+r.URL.Path, http.StatusNotFound)
		return
	}
	h := w.Header()
	securityHeaders(h)
	if p.cfg.Token != "" {
		switch r.URL.Path {
		case LoginPath:
			p.login(w, r)
			return
		case LoginScript:
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				break
			}
			h.Set("Content-Type", "text/javascript; charset=utf-8")
			h.Set("Cache-Control", "no-cache")
			w.Write(loginJS)
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "web: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !p.authorized(r) {
		p.unauthorized(w)
		return
	}
	h.Set("Cache-Control", "no-cache")
	p.files.ServeHTTP(w, r)
}

// unauthorized answers 401 with the sign-in page.
func (p *Page) unauthorized(w http.ResponseWriter) {
	p.stats.unauth.Add(1)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("WWW-Authenticate", `Bearer realm="metaflow page"`)
	w.WriteHeader(http.StatusUnauthorized)
	w.Write(loginHTML)
}

// login checks the form's token and sets the cookie: a JSON answer
// {"query": bool} to a request that accepts JSON (the sign-in's script),
// else a redirect to the page (a plain form post).
func (p *Page) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "web: POST the token to sign in", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "web: bad sign-in form", http.StatusBadRequest)
		return
	}
	tok := r.PostForm.Get("token")
	if !constEq(tok, p.cfg.Token) {
		p.stats.unauth.Add(1)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "web: wrong page token", http.StatusUnauthorized)
		return
	}
	p.stats.logins.Add(1)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: p.cookie, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		if p.cfg.QueryToken != "" && constEq(tok, p.cfg.QueryToken) {
			w.Write([]byte(`{"query":true}` + "\n"))
		} else {
			w.Write([]byte(`{"query":false}` + "\n"))
		}
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
