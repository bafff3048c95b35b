package web_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/examples/server/web"
)

func TestPage_ServeHTTP(t *testing.T) {
	p := web.New(web.Config{Token: "pg", QueryToken: "q"})
	same := web.New(web.Config{Token: "one", QueryToken: "one"})
	open := web.New(web.Config{})
	login := func(h http.Handler, token string, json, secure bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, web.LoginPath, strings.NewReader(url.Values{"token": {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if json {
			r.Header.Set("Accept", "application/json")
		}
		if secure {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := login(p, "pg", false, false)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("form sign-in: %d %v", w.Code, w.Header())
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != web.CookieName || !cookies[0].HttpOnly || cookies[0].Secure ||
		cookies[0].SameSite != http.SameSiteStrictMode || strings.Contains(cookies[0].Value, "pg") {
		t.Fatalf("cookie %+v", cookies)
	}
	good := cookies[0].Value
	if c := login(p, "pg", false, true).Result().Cookies(); len(c) != 1 || !c[0].Secure || c[0].Value != good {
		t.Fatalf("cookie over TLS %+v", c)
	}
	if w := login(p, "pg", true, false); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"query":false}` {
		t.Fatalf("JSON sign-in: %d %s", w.Code, w.Body)
	}
	if w := login(same, "one", true, false); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"query":true}` {
		t.Fatalf("JSON sign-in, same query token: %d %s", w.Code, w.Body)
	}
	for _, tok := range []string{"q", "", "pgx", "p"} {
		if w := login(p, tok, true, false); w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
			t.Fatalf("sign-in with %q: %d %v", tok, w.Code, w.Result().Cookies())
		}
	}
	other := login(same, "one", false, false).Result().Cookies()[0].Value

	for _, tc := range []struct {
		name, method, path string
		h                  http.Handler
		cookie, bearer     string
		want               int
		body               string
	}{
		{"open page", "GET", "/", open, "", "", 200, `id="map"`},
		{"open: no sign-in", "POST", web.LoginPath, open, "", "", 405, ""},
		{"no cookie", "GET", "/", p, "", "", 401, `id="token-form"`},
		{"no cookie, asset", "GET", "/app.js", p, "", "", 401, ""},
		{"sign-in script", "GET", web.LoginScript, p, "", "", 200, "page_token"},
		{"cookie", "GET", "/", p, good, "", 200, `id="map"`},
		{"cookie, asset", "GET", "/style.css", p, good, "", 200, ""},
		{"another server's cookie", "GET", "/", p, other, "", 401, ""},
		{"junk cookie", "GET", "/", p, "zz", "", 401, ""},
		{"bearer", "GET", "/app.js", p, "", "pg", 200, ""},
		{"query token as bearer", "GET", "/app.js", p, "", "q", 401, ""},
		{"GET sign-in", "GET", web.LoginPath, p, "", "", 405, ""},
		{"api path", "GET", "/api/v9/x", p, good, "", 404, ""},
		{"put", "PUT", "/", p, good, "", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: web.CookieName, Value: tc.cookie})
			}
			if tc.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, r)
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.body) {
				t.Fatalf("%d, want %d with %q: %.200s", w.Code, tc.want, tc.body, w.Body)
			}
			if w.Code == 401 && w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("401 cacheable: %v", w.Header())
			}
			if csp := w.Header().Get("Content-Security-Policy"); tc.want != 404 && !strings.Contains(csp, "script-src 'self'") {
				t.Fatalf("CSP %q", csp)
			}
		})
	}
	st := p.Stats()
	// 4 refused sign-ins; no cookie x2, other and junk cookie, query bearer.
	if st.Logins != 3 || st.Unauthorized != 4+5 {
		t.Fatalf("stats %+v", st)
	}
}
