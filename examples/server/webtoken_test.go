package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWeb_PageToken loads the page in headless Chromium from a server with
// a page token apart from the query token: a wrong page token in the URL
// fragment is refused on the sign-in page; the right one sets the
// (HttpOnly) cookie, leaves the URL, and the page loads its data with the
// fragment's query token; a form sign-in with the query token is refused.
func TestWeb_PageToken(t *testing.T) {
	bin := chromium(t)
	const ing, qry, pg = "w-ingest", "w-query", "w-page"
	ts := startServer(t, options{db: filepath.Join(t.TempDir(), "webtoken.duckdb"), ingestToken: ing, queryToken: qry, pageToken: pg, maxBytes: 64 << 20})
	if _, st := replay(t, "../../testdata/l7/http-nginx.pcap", ts.url, ing); st.Acked != st.Batches || st.Acked == 0 {
		t.Fatalf("sender %+v", st)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.WindowSize(1200, 900),
		chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	defer cancelT()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	status := `document.querySelector('#login-status') && document.querySelector('#login-status').textContent`

	// A wrong page token in the fragment: the sign-in says so.
	do("wrong page token", chromedp.Navigate(ts.url+"/#page_token=nope&token="+qry),
		chromedp.Poll[chromedp.Void](status+` === 'the token in the URL was refused'`, chromedp.WithPollingTimeout(10*time.Second)))
	// The query token typed into the sign-in form is not the page's.
	do("query token in the form", chromedp.SendKeys(chromedp.CSS("#token-input"), qry), chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
		chromedp.Poll[chromedp.Void](status+` === 'wrong token'`, chromedp.WithPollingTimeout(10*time.Second)))
	// The page token in the fragment: signed in, the page loads.
	do("blank", chromedp.Navigate("about:blank")) // else the next URL only changes the fragment: no load
	do("page token", chromedp.Navigate(ts.url+"/#page_token="+pg+"&token="+qry), chromedp.WaitReady(chromedp.CSS("#map")))
	do("ready", chromedp.Poll[chromedp.Void](`document.body.dataset.ready === 'true'`, chromedp.WithPollingTimeout(15*time.Second)))
	if href := eval[string](t, ctx, `location.href`); strings.Contains(href, "page_token") || strings.Contains(href, qry) {
		t.Fatalf("tokens left in the URL: %s", href)
	}
	if c := eval[string](t, ctx, `document.cookie`); c != "" {
		t.Fatalf("the page cookie is readable by scripts: %q", c)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#map g.node').length`); n == 0 {
		t.Fatal("no node on the map")
	}
	var st Stats
	if code := getJSON(t, ts.url+"/api/v1/stats", qry, &st); code != 200 || st.Page.Logins != 1 || st.Page.Unauthorized < 3 || st.Query.Unauthorized != 0 {
		t.Fatalf("stats %d: page %+v query %+v", code, st.Page, st.Query)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err == nil {
		p := filepath.Join(artifactDir(t), "page-token.png")
		os.WriteFile(p, png, 0o644)
		t.Logf("screenshot %s; page %+v", p, st.Page)
	}
}
