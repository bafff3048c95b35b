package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of a Chromium (or Chrome) binary, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium in PATH (Debian: apt-get install chromium); the page test needs a headless browser")
	return ""
}

// artifactDir is where screenshots go: $METAFLOW_ARTIFACTS/web when set
// (kept after the run), else a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("METAFLOW_ARTIFACTS"); d != "" {
		d = filepath.Join(d, "web")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// side names one side of a record as the service map does: its service,
// else its pod, else its address.
func side(m map[string]any, s string) string {
	for _, k := range []string{"service_", "pod_", "ip_"} {
		if v := str(m[k+s]); v != "" {
			return v
		}
	}
	return ""
}

// pageEdge is an edge of the page's map.
type pageEdge struct {
	Client, Server, Protocol string
	Requests, Errors         int64
}

// pageRow is a visible row of the page's search table.
type pageRow struct {
	Client, Server, Protocol string
	Cells                    []string
}

const jsMap = `({
	nodes: [...document.querySelectorAll('#map g.node')].map(g => g.dataset.node),
	edges: [...document.querySelectorAll('#map .edges g.edge')].map(g => ({Client: g.dataset.client, Server: g.dataset.server,
		Protocol: g.dataset.protocol, Requests: Number(g.dataset.requests), Errors: Number(g.dataset.errors)})),
})`

const jsRows = `[...document.querySelectorAll('#rows tbody tr')].map(tr => ({Client: tr.dataset.client, Server: tr.dataset.server,
	Protocol: tr.dataset.protocol, Cells: [...tr.cells].map(c => c.textContent)}))`

const jsRED = `[...document.querySelectorAll('#red-table tbody tr')].map(tr => ({Client: '', Server: tr.dataset.service,
	Protocol: tr.dataset.protocol, Cells: [...tr.cells].map(c => c.textContent)}))`

// truncateJS is the page's truncate: n-1 characters and an ellipsis.
func truncateJS(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// l7Visible is what the page shows of an l7 record: client, server,
// protocol, request type and resource.
func l7Visible(m map[string]any) string {
	return strings.Join([]string{side(m, "0"), side(m, "1"), str(m["l7_protocol"]), str(m["request_type"]), truncateJS(str(m["request_resource"]), 80)}, "|")
}

func rowsVisible(rows []pageRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join([]string{r.Client, r.Server, r.Protocol, r.Cells[4], r.Cells[6]}, "|"))
	}
	sort.Strings(out)
	return out
}

func sortedVisible(ms []map[string]any) []string {
	var out []string
	for _, m := range ms {
		out = append(out, l7Visible(m))
	}
	sort.Strings(out)
	return out
}

// TestWeb_Page loads the page in headless Chromium against a server holding
// replayed captures and checks what it shows against the API and against
// the records the agent printed.
func TestWeb_Page(t *testing.T) {
	bin := chromium(t)
	const token = "page-token"
	ts := startServer(t, options{db: filepath.Join(t.TempDir(), "web.duckdb"), token: token, maxBytes: 64 << 20})
	var all4, all7 []map[string]any
	for _, name := range []string{"dns", "http-nginx", "http-ipv6", "mysql", "redis"} {
		jc, st := replay(t, "../../testdata/l7/"+name+".pcap", ts.url, token)
		if st.Acked != st.Batches || st.Refused != 0 {
			t.Fatalf("%s: sender %+v", name, st)
		}
		all4 = append(all4, jc.l4...)
		all7 = append(all7, jc.l7...)
	}
	// The metric endpoints write the windows in memory once ingest has
	// paused for a second (or every 5 s): wait until the replays' metrics
	// are readable, so that the page loads them.
	for deadline := time.Now().Add(15 * time.Second); ; {
		var ma struct{ Series []json.RawMessage }
		if code := getJSON(t, ts.url+"/api/v1/metrics/application?interval=1m&group=service", token, &ma); code == 200 && len(ma.Series) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("metrics: no series 15 s after the replays")
		}
		time.Sleep(200 * time.Millisecond)
	}
	arts := artifactDir(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	if err := chromedp.Do(bctx); err != nil { // starts the browser: no timeout on this first call
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
	shot := func(name string) {
		t.Helper()
		eval[bool](t, ctx, `window.scrollTo(0, 0), true`) // the sticky header back on top
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(arts, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", p)
	}
	searches := func() int {
		return eval[int](t, ctx, `Number(document.querySelector('#rows').dataset.searches || 0)`)
	}
	// waitSearch waits until the page finished a search after the one
	// numbered before.
	waitSearch := func(before int) {
		t.Helper()
		do("wait for the search", chromedp.Poll[chromedp.Void](fmt.Sprintf(`Number(document.querySelector('#rows').dataset.searches || 0) > %d && document.querySelector('#status').textContent === ''`, before),
			chromedp.WithPollingTimeout(10*time.Second)))
	}
	visible := func() []pageRow {
		t.Helper()
		return eval[[]pageRow](t, ctx, jsRows)
	}

	// Without the token in the URL the server answers the page token's
	// sign-in (-token is the page's token too); the token typed there
	// sets the page cookie and, being the query token as well, opens the API.
	do("load", chromedp.Navigate(ts.url+"/"), chromedp.WaitVisible(chromedp.CSS("#token-input")))
	do("token", chromedp.SendKeys(chromedp.CSS("#token-input"), token), chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
		chromedp.WaitReady(chromedp.CSS("#map")))
	do("ready", chromedp.Poll[chromedp.Void](`document.body.dataset.ready === 'true'`, chromedp.WithPollingTimeout(15*time.Second)))

	// The map: its nodes and edges are the API's and the records' pairs.
	pm := eval[struct {
		Nodes []string
		Edges []pageEdge
	}](t, ctx, jsMap)
	shot("1-loaded")
	var sm struct {
		Edges []struct {
			Client, Server string
			L7Protocol     string `json:"l7_protocol"`
			Requests       int64
		}
	}
	if code := getJSON(t, ts.url+"/api/v1/servicemap", token, &sm); code != 200 {
		t.Fatalf("servicemap: %d", code)
	}
	apiEdges, recEdges, pageEdges := map[string]int64{}, map[string]int64{}, map[string]int64{}
	recNodes := map[string]bool{}
	for _, e := range sm.Edges {
		apiEdges[e.Client+" -> "+e.Server+" "+e.L7Protocol] += e.Requests
	}
	for _, m := range all7 {
		recEdges[side(m, "0")+" -> "+side(m, "1")+" "+str(m["l7_protocol"])]++
		recNodes[side(m, "0")], recNodes[side(m, "1")] = true, true
	}
	for _, e := range pm.Edges {
		pageEdges[e.Client+" -> "+e.Server+" "+e.Protocol] += e.Requests
	}
	if len(pm.Edges) < 5 || fmt.Sprint(pageEdges) != fmt.Sprint(apiEdges) || fmt.Sprint(pageEdges) != fmt.Sprint(recEdges) {
		t.Fatalf("map edges\npage:    %v\napi:     %v\nrecords: %v", pageEdges, apiEdges, recEdges)
	}
	sort.Strings(pm.Nodes)
	var wantNodes []string
	for n := range recNodes {
		wantNodes = append(wantNodes, n)
	}
	sort.Strings(wantNodes)
	if fmt.Sprint(pm.Nodes) != fmt.Sprint(wantNodes) {
		t.Fatalf("map nodes\npage:    %v\nrecords: %v", pm.Nodes, wantNodes)
	}

	// RED: the table's rows are the API's, in its order, with the numbers
	// of the records.
	var red struct{ Rows []RED }
	if code := getJSON(t, ts.url+"/api/v1/red", token, &red); code != 200 {
		t.Fatalf("red: %d", code)
	}
	pr := eval[[]pageRow](t, ctx, jsRED)
	if len(pr) != len(red.Rows) || len(pr) < 4 {
		t.Fatalf("RED: page has %d rows, the API %d", len(pr), len(red.Rows))
	}
	perService := map[string]int64{}
	for _, m := range all7 {
		perService[str(m["service_1"])+" "+str(m["l7_protocol"])]++
	}
	for i, x := range red.Rows {
		got := pr[i]
		req := strings.ReplaceAll(got.Cells[3], ",", "")
		errs := strings.ReplaceAll(got.Cells[5], ",", "")
		if got.Server != x.Service || got.Protocol != x.L7Protocol || req != strconv.FormatInt(x.Requests, 10) || errs != strconv.FormatInt(x.Errors, 10) {
			t.Fatalf("RED row %d: page %v, API %+v", i, got.Cells, x)
		}
		if perService[x.Service+" "+x.L7Protocol] != x.Requests {
			t.Fatalf("RED %s %s: %d requests, the records have %d", x.Service, x.L7Protocol, x.Requests, perService[x.Service+" "+x.L7Protocol])
		}
	}

	// Metrics over time from the metric tables' endpoint: one line per
	// series of the API (the 8 busiest).
	{
		var ma struct {
			Series []struct{ Group map[string]string }
		}
		if code := getJSON(t, ts.url+"/api/v1/metrics/application?interval=1m&group=service", token, &ma); code != 200 {
			t.Fatalf("metrics: %d", code)
		}
		do("metrics", chromedp.Poll[chromedp.Void](`!document.querySelector('#metrics-section').hidden && document.querySelectorAll('[data-chart="Requests/s"] path.line').length > 0`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if n := eval[int](t, ctx, `document.querySelectorAll('[data-chart="Requests/s"] path.line').length`); n != min(len(ma.Series), 8) || n == 0 {
			t.Fatalf("requests chart: %d lines, the API has %d series", n, len(ma.Series))
		}
		t.Logf("metrics: %d series charted", len(ma.Series))
	}

	// The unfiltered request list shows the first page of everything.
	if n := len(visible()); n != min(len(all7), 100) {
		t.Fatalf("unfiltered: %d rows visible, want %d", n, min(len(all7), 100))
	}
	// "More" loads the next page (the cursor of the API).
	if len(all7) <= 100 || len(all7) > 200 {
		t.Fatalf("%d l7 records: the paging check wants 101 to 200", len(all7))
	}
	n := searches()
	do("more", chromedp.Click(chromedp.CSS("#more")))
	waitSearch(n)
	if got := rowsVisible(visible()); fmt.Sprint(got) != fmt.Sprint(sortedVisible(all7)) {
		t.Fatalf("after More: %d rows, want all %d", len(got), len(all7))
	}
	if more := eval[string](t, ctx, `document.querySelector('#row-count').dataset.more`); more != "false" {
		t.Fatalf("after the last page: more=%s", more)
	}

	// A click on a RED row: the requests its service served.
	var want []map[string]any
	for _, m := range all7 {
		if str(m["service_1"]) == "svc-6379" {
			want = append(want, m)
		}
	}
	n = searches()
	do("click RED row", chromedp.Click(chromedp.CSS(`#red-table tbody tr[data-service="svc-6379"]`)))
	waitSearch(n)
	if got := rowsVisible(visible()); len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(sortedVisible(want)) {
		t.Fatalf("after a click on RED svc-6379:\npage:    %q\nrecords: %q", got, sortedVisible(want))
	}

	// A click on a node: the requests it served or sent.
	const node = "svc-80"
	want = want[:0]
	for _, m := range all7 {
		if side(m, "0") == node || side(m, "1") == node {
			want = append(want, m)
		}
	}
	if len(want) < 5 || len(want) > 100 {
		t.Fatalf("%d records of %s: pick another node", len(want), node)
	}
	n = searches()
	do("click node", chromedp.Click(chromedp.CSS(`#map g.node[data-node="`+node+`"] rect`)))
	waitSearch(n)
	if got := rowsVisible(visible()); fmt.Sprint(got) != fmt.Sprint(sortedVisible(want)) {
		t.Fatalf("after a click on %s:\npage:    %q\nrecords: %q", node, got, sortedVisible(want))
	}
	if selected := eval[int](t, ctx, `document.querySelectorAll('#map g.node.selected').length`); selected != 1 {
		t.Fatalf("%d selected nodes", selected)
	}
	{ // the metric charts narrow to the selected service
		do("metrics of the node", chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-chart="Requests/s"] path.line').length === 1 && document.querySelector('[data-chart="Requests/s"] .legend').textContent.startsWith('`+node+`')`,
			chromedp.WithPollingTimeout(10*time.Second)))
	}
	shot("2-node")

	// A click on an edge: the requests of that client, server and
	// protocol. The smallest edge of the map, so that all of them fit.
	e := pm.Edges[0]
	for _, x := range pm.Edges {
		if x.Requests < e.Requests || x.Requests == e.Requests && x.Client+x.Server < e.Client+e.Server {
			e = x
		}
	}
	want = want[:0]
	for _, m := range all7 {
		if side(m, "0") == e.Client && side(m, "1") == e.Server && str(m["l7_protocol"]) == e.Protocol {
			want = append(want, m)
		}
	}
	n = searches()
	// Dispatched on the edge's element: edges are thin curves, and a
	// click at a point might land on a crossing one.
	sel := fmt.Sprintf(`#map .edges g.edge[data-client=%q][data-server=%q][data-protocol=%q]`, e.Client, e.Server, e.Protocol)
	eval[bool](t, ctx, `document.querySelector('`+sel+`').dispatchEvent(new MouseEvent('click', {bubbles: true}))`)
	waitSearch(n)
	if got := rowsVisible(visible()); len(got) != int(e.Requests) || fmt.Sprint(got) != fmt.Sprint(sortedVisible(want)) {
		t.Fatalf("after a click on %+v:\npage:    %q\nrecords: %q", e, got, sortedVisible(want))
	}
	shot("3-edge")

	// Search by fields (the selection cleared first), then by a tag.
	for _, tc := range []struct {
		query string
		match func(map[string]any) bool
	}{
		{"request_type=POST", func(m map[string]any) bool { return str(m["request_type"]) == "POST" }},
		{"service_1=svc-53 request_type=AAAA", func(m map[string]any) bool {
			return str(m["service_1"]) == "svc-53" && str(m["request_type"]) == "AAAA"
		}},
		{`request_resource="/a.json"`, func(m map[string]any) bool { return str(m["request_resource"]) == "/a.json" }},
	} {
		want = want[:0]
		for _, m := range all7 {
			if tc.match(m) {
				want = append(want, m)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: no records", tc.query)
		}
		n = searches()
		do("clear", chromedp.Click(chromedp.CSS("#clear")))
		waitSearch(n)
		n = searches()
		do("search "+tc.query, chromedp.SendKeys(chromedp.CSS("#search"), tc.query), chromedp.Click(chromedp.CSS(`#search-form button[type=submit]`)))
		waitSearch(n)
		if got := rowsVisible(visible()); fmt.Sprint(got) != fmt.Sprint(sortedVisible(want)) {
			t.Fatalf("search %s:\npage:    %q\nrecords: %q", tc.query, got, sortedVisible(want))
		}
	}
	shot("4-search")

	// A row's fields: times as the API sent them. The captures' times are
	// microseconds, which survive a float64; nanoseconds would not, so the
	// page keeps the source text of large integers (keepExact), checked
	// here on one that a float64 rounds.
	if !eval[bool](t, ctx, `JSON.parse('{"t":1795657545114548123}', keepExact).exact.t === '1795657545114548123'`) {
		t.Fatal("keepExact lost the digits of a nanosecond time")
	}
	do("detail", chromedp.Click(chromedp.CSS(`#rows tbody tr`)), chromedp.WaitVisible(chromedp.CSS(`#detail-table`)))
	shown := eval[string](t, ctx, `[...document.querySelectorAll('#detail-table tr')].find(tr => tr.cells[0].textContent === 'start_time').cells[1].textContent`)
	req, _ := http.NewRequest("GET", ts.url+"/api/v1/l7?"+url.Values{"request_resource": {"/a.json"}}.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var exact struct{ Rows []map[string]any }
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	err = dec.Decode(&exact)
	resp.Body.Close()
	found := false
	for _, r := range exact.Rows {
		found = found || strings.HasSuffix(shown, "("+fmt.Sprint(r["start_time"])+")")
	}
	if err != nil || !found {
		t.Fatalf("detail start_time %q is none of the API's %v (%v)", shown, exact.Rows, err)
	}

	// The trace of a request (the last search's row carries a W3C trace
	// id) as a flame graph: one bar per span of the trace endpoint's answer.
	{
		var tid string
		for _, m := range want {
			if tid = str(m["trace_id"]); tid != "" {
				break
			}
		}
		var tr struct{ Spans []map[string]any }
		if code := getJSON(t, ts.url+"/api/v1/trace?"+url.Values{"trace_id": {tid}}.Encode(), token, &tr); tid == "" || code != 200 || len(tr.Spans) == 0 {
			t.Fatalf("trace %q: %d, %d spans", tid, code, len(tr.Spans))
		}
		do("trace", chromedp.Click(chromedp.CSS(`#rows tbody tr`)), chromedp.Click(chromedp.CSS(`#trace-button`)),
			chromedp.Poll[chromedp.Void](`!document.querySelector('#trace-section').hidden && document.querySelectorAll('#flame g.span').length > 0`,
				chromedp.WithPollingTimeout(10*time.Second)))
		if n := eval[int](t, ctx, `document.querySelectorAll('#flame g.span').length`); n != len(tr.Spans) {
			t.Fatalf("flame graph: %d spans, the API has %d", n, len(tr.Spans))
		}
		shot("4-trace")
		t.Logf("trace %s: %d spans", tid, len(tr.Spans))
	}

	// RED per endpoint: the API's rows; a click on one lists the requests
	// of that service and endpoint (endpoint, else resource).
	var redEP struct{ Rows []RED }
	if code := getJSON(t, ts.url+"/api/v1/red?group=endpoint", token, &redEP); code != 200 {
		t.Fatalf("red by endpoint: %d", code)
	}
	do("RED per endpoint", chromedp.Click(chromedp.CSS(`[data-red-group="endpoint"]`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('#red-table tbody tr').length === %d && document.querySelector('#red-table tbody tr[data-endpoint="/a.json"]') !== null`, len(redEP.Rows)),
			chromedp.WithPollingTimeout(10*time.Second)))
	want = want[:0]
	for _, m := range all7 {
		ep := str(m["endpoint"])
		if ep == "" {
			ep = str(m["request_resource"])
		}
		if str(m["service_1"]) == "svc-80" && ep == "/a.json" {
			want = append(want, m)
		}
	}
	n = searches()
	do("clear", chromedp.Click(chromedp.CSS("#clear"))) // the search box's filter would apply too
	waitSearch(n)
	n = searches()
	do("click RED endpoint", chromedp.Click(chromedp.CSS(`#red-table tbody tr[data-service="svc-80"][data-endpoint="/a.json"]`)))
	waitSearch(n)
	if got := rowsVisible(visible()); len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(sortedVisible(want)) {
		t.Fatalf("after a click on RED svc-80 /a.json:\npage:    %q\nrecords: %q", got, sortedVisible(want))
	}

	// The same selection on the flows tab: the flows of that service (a
	// flow has no endpoint).
	n = searches()
	do("flows of the selection", chromedp.Click(chromedp.CSS(`[data-table="l4"]`)))
	waitSearch(n)
	wantF := 0
	for _, m := range all4 {
		if str(m["service_1"]) == "svc-80" && str(m["l7_protocol"]) == "HTTP" {
			wantF++
		}
	}
	gotF := visible()
	for _, r := range gotF {
		if r.Server != "svc-80" {
			t.Fatalf("flows of svc-80: a row of %s", r.Server)
		}
	}
	if wantF == 0 || len(gotF) != wantF {
		t.Fatalf("flows of svc-80: %d rows, the records have %d", len(gotF), wantF)
	}
	n = searches()
	do("back to requests", chromedp.Click(chromedp.CSS(`[data-table="l7"]`)))
	waitSearch(n)

	// A time range: the captures are older than the last 15 minutes, so
	// nothing is in it; everything is back with "everything stored".
	n = searches()
	do("range", chromedp.Click(chromedp.CSS("#clear")), chromedp.SetValue(chromedp.CSS("#range"), "900"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#range').dispatchEvent(new Event('change'))`))
	do("wait range", chromedp.Poll[chromedp.Void](fmt.Sprintf(`Number(document.querySelector('#rows').dataset.searches) > %d && document.querySelectorAll('#rows tbody tr').length === 0 && document.querySelectorAll('#map g.node').length === 0 && document.querySelectorAll('#red-table tbody tr').length === 0`, n),
		chromedp.WithPollingTimeout(10*time.Second)))
	n = searches()
	do("range all", chromedp.SetValue(chromedp.CSS("#range"), "all"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#range').dispatchEvent(new Event('change'))`))
	do("wait all", chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('#map g.node').length === %d`, len(pm.Nodes)), chromedp.WithPollingTimeout(10*time.Second)))
	waitSearch(n)

	// A bad filter: the API's message, shown.
	do("bad filter", chromedp.SetValue(chromedp.CSS("#search"), "no_such_field=1"), chromedp.Click(chromedp.CSS(`#search-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('#status').classList.contains('error')`, chromedp.WithPollingTimeout(5*time.Second)))
	if status := eval[string](t, ctx, `document.querySelector('#status').textContent`); !strings.Contains(status, "unknown filter") {
		t.Fatalf("status after a bad filter: %q", status)
	}

	// Flows: the l4 table lists every flow.
	n = searches()
	eval[string](t, ctx, `document.querySelector('#search').value = ''`) // SetValue refuses an empty value
	do("flows", chromedp.Click(chromedp.CSS(`[data-table="l4"]`)))
	waitSearch(n)
	got := visible()
	wantFlows := map[string]int{}
	for _, m := range all4 {
		wantFlows[side(m, "0")+" -> "+side(m, "1")]++
	}
	gotFlows := map[string]int{}
	for _, r := range got {
		gotFlows[r.Client+" -> "+r.Server]++
	}
	if len(all4) > 100 || fmt.Sprint(gotFlows) != fmt.Sprint(wantFlows) {
		t.Fatalf("flows\npage:    %v\nrecords: %v", gotFlows, wantFlows)
	}
	shot("5-flows")
	t.Logf("%d l7 and %d l4 records, %d nodes, %d edges, %d RED rows", len(all7), len(all4), len(pm.Nodes), len(pm.Edges), len(pr))
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %.60s: %v", expr, err)
	}
	return v
}
