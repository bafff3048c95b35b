package query

import (
	"database/sql"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

// MetricsAnswer is the answer of /api/v1/metrics/network and
// /api/v1/metrics/application: one series per group, its points in time
// order.
type MetricsAnswer struct {
	Table    string         `json:"table"`    // the metric table read, for example "application.1m"
	Interval string         `json:"interval"` // "1s" or "1m"
	Series   []MetricSeries `json:"series"`
}

// MetricSeries is one group's time series: Group names it with tag
// strings ("service", "endpoint", "l7_protocol", "client", "server").
type MetricSeries struct {
	Group  map[string]string `json:"group"`
	Points []MetricPoint     `json:"points"`
}

// MetricPoint is one window: its start (unix nanoseconds) and every
// metric of the table (sums; maxima for the "_max" ones) with the derived
// ones (rate, error, error_ratio, rrt_avg for application; the
// *_avg latencies and the *_fail sums for network).
type MetricPoint struct {
	Time   int64              `json:"time"`
	Values map[string]float64 `json:"values"`
}

// MetricsMaxAge is how old the metrics a query reads may be under
// sustained ingest: a query writes the windows in memory first when the
// last write is older, or when ingest paused for a second.
const MetricsMaxAge = 5 * time.Second

// metricFilters are the key columns a metrics query may filter on, with
// whether the value is a number.
var metricFilters = map[string]bool{
	"ip_0": false, "ip_1": false, "server_port": true, "protocol": true, "l7_protocol": false, "endpoint": false,
}

func (a *API) registerMetrics(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/metrics/network", a.wrap(func(r *http.Request) (any, error) { return a.metrics(r, "network") }))
	mux.HandleFunc("GET /api/v1/metrics/application", a.wrap(func(r *http.Request) (any, error) { return a.metrics(r, "application") }))
}

func findTable(view, interval string) *store.MetricTable {
	for _, t := range store.MetricTables() {
		if t.Name == view+"."+interval {
			return &t
		}
	}
	return nil
}

// nodeSQL names a side in SQL: its service id, its pod id, and its IP when
// it has neither.
func nodeSQL(side string, withPod bool) []string {
	if !withPod {
		return []string{"service_id_" + side, "0", "CASE WHEN service_id_" + side + " = 0 THEN ip_" + side + " || ':' || server_port END"}
	}
	return []string{"service_id_" + side, "pod_id_" + side, "CASE WHEN service_id_" + side + " = 0 AND pod_id_" + side + " = 0 THEN ip_" + side + " END"}
}

func (a *API) metrics(r *http.Request, kind string) (any, error) {
	q := r.URL.Query()
	interval := q.Get("interval")
	if interval == "" {
		interval = "1m"
	}
	if interval != "1s" && interval != "1m" {
		return nil, bad("interval=%q: want 1s or 1m", interval)
	}
	group := q.Get("group")
	if group == "" {
		group = "service"
	}
	view := kind
	switch {
	case group == "edge":
		view += "_map"
	case group == "service", group == "endpoint" && kind == "application":
	default:
		return nil, bad("group=%q: want service, edge or (application) endpoint", group)
	}
	t := findTable(view, interval)
	if t == nil {
		return nil, bad("no metric table %s.%s", view, interval)
	}
	conds, args, none, err := a.metricWhere(r, t)
	if err != nil {
		return nil, err
	}
	ans := &MetricsAnswer{Table: t.Name, Interval: interval, Series: []MetricSeries{}}
	if none {
		return ans, nil
	}
	if err := a.st.FlushMetricsOlder(MetricsMaxAge); err != nil {
		return nil, err
	}
	// Group columns: server node (and client node for edges), then the
	// l7 protocol and endpoint where grouped by.
	var gcols []string
	if group == "edge" {
		gcols = append(append(gcols, nodeSQL("0", true)...), nodeSQL("1", true)...)
	} else {
		gcols = nodeSQL("1", false)
	}
	hasL7, hasEP := false, group == "endpoint"
	for _, k := range t.Keys {
		if k == "l7_protocol" {
			hasL7 = true
		}
	}
	if hasL7 {
		gcols = append(gcols, "l7_protocol")
	} else {
		gcols = append(gcols, "''")
	}
	if hasEP {
		gcols = append(gcols, "endpoint")
	} else {
		gcols = append(gcols, "''")
	}
	sel := "time, " + strings.Join(gcols, ", ")
	for _, m := range t.Metrics {
		f := "sum"
		if m.Max {
			f = "max"
		}
		sel += fmt.Sprintf(", %s(%s)::DOUBLE", f, m.Name)
	}
	rows, err := a.st.DB().Query("SELECT "+sel+" FROM "+store.Quote(t.Name)+whereSQL(conds)+" GROUP BY ALL ORDER BY time", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dict := a.st.Dict()
	secs := 1.0
	if interval == "1m" {
		secs = 60
	}
	series := map[string]*MetricSeries{}
	points := map[string]map[int64]*MetricPoint{}
	for rows.Next() {
		var tm int64
		var ids [4]uint32
		var addr [2]sql.NullString
		var l7p, ep string
		dst := []any{&tm}
		if group == "edge" {
			dst = append(dst, &ids[0], &ids[1], &addr[0], &ids[2], &ids[3], &addr[1])
		} else {
			dst = append(dst, &ids[2], &ids[3], &addr[1])
		}
		dst = append(dst, &l7p, &ep)
		vals := make([]float64, len(t.Metrics))
		for i := range vals {
			dst = append(dst, &vals[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		g := map[string]string{}
		switch group {
		case "edge":
			g["client"] = node(dict, ids[0], ids[1], addr[0])
			g["server"] = node(dict, ids[2], ids[3], addr[1])
		default:
			g["service"] = node(dict, ids[2], 0, addr[1])
		}
		if hasL7 {
			g["l7_protocol"] = l7p
		}
		if hasEP {
			g["endpoint"] = ep
		}
		gk := fmt.Sprint(g)
		s := series[gk]
		if s == nil {
			s = &MetricSeries{Group: g}
			series[gk] = s
			points[gk] = map[int64]*MetricPoint{}
		}
		p := points[gk][tm]
		if p == nil {
			p = &MetricPoint{Time: tm, Values: map[string]float64{}}
			points[gk][tm] = p
		}
		for i, m := range t.Metrics {
			if m.Max {
				p.Values[m.Name] = max(p.Values[m.Name], vals[i])
			} else {
				p.Values[m.Name] += vals[i]
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := series[k]
		for _, p := range points[k] {
			derive(p.Values, t.Network, secs)
			s.Points = append(s.Points, *p)
		}
		sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].Time < s.Points[j].Time })
		ans.Series = append(ans.Series, *s)
	}
	return ans, nil
}

// derive adds the metrics computed at query time.
func derive(v map[string]float64, network bool, secs float64) {
	avg := func(name string) {
		if c := v[name+"_count"]; c > 0 {
			v[name+"_avg"] = v[name+"_sum"] / c
		} else {
			v[name+"_avg"] = 0
		}
	}
	if !network {
		v["rate"] = v["request"] / secs
		v["error"] = v["client_error"] + v["server_error"] + v["timeout"]
		v["error_ratio"] = 0
		if v["request"] > 0 {
			v["error_ratio"] = v["error"] / v["request"]
		}
		avg("rrt")
		return
	}
	for _, n := range []string{"rtt", "rtt_client", "rtt_server", "srt", "art"} {
		avg(n)
	}
	v["client_establish_fail"] = v["client_ack_miss"] + v["client_source_port_reuse"] + v["client_establish_other_rst"]
	v["server_establish_fail"] = v["server_syn_miss"] + v["server_reset"] + v["server_queue_lack"] + v["server_establish_other_rst"]
	v["tcp_establish_fail"] = v["client_establish_fail"] + v["server_establish_fail"]
	v["tcp_transfer_fail"] = v["client_rst_flow"] + v["server_rst_flow"] + v["client_half_close_flow"] + v["server_half_close_flow"] + v["tcp_timeout"]
	v["tcp_rst_fail"] = v["client_rst_flow"] + v["server_rst_flow"] + v["client_establish_other_rst"] + v["server_establish_other_rst"] + v["server_reset"]
}

// metricWhere builds the conditions of r's filters on metric table t: from
// and to bound the window start; key columns and tags ("<key>_<side>",
// side 0 only on edge tables) match exactly, tags through the dictionary
// (none: a value it does not know, nothing matches).
func (a *API) metricWhere(r *http.Request, t *store.MetricTable) (conds []string, args []any, none bool, err error) {
	keys := map[string]bool{}
	for _, k := range a.st.TagKeys() {
		keys[k] = true
	}
	has := map[string]bool{}
	for _, k := range t.Keys {
		has[k] = true
	}
	dict := a.st.Dict()
	for name, vals := range r.URL.Query() {
		v := vals[0]
		switch name {
		case "interval", "group":
			continue
		case "from", "to":
			cond, t, err := timeBound("time", name, v)
			if err != nil {
				return nil, nil, false, err
			}
			conds, args = append(conds, cond), append(args, t)
			continue
		}
		if num, ok := metricFilters[name]; ok && has[name] {
			if num {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return nil, nil, false, bad("%s=%q: want an integer", name, v)
				}
				conds = append(conds, name+" = ?")
				args = append(args, n)
			} else {
				conds = append(conds, name+" = ?")
				args = append(args, v)
			}
			continue
		}
		if i := strings.LastIndexByte(name, '_'); i > 0 && i == len(name)-2 && keys[name[:i]] &&
			(name[i+1:] == "1" || name[i+1:] == "0" && t.Edge) {
			id, ok := dict.Lookup(name[:i], v)
			if !ok {
				none = true
				continue
			}
			conds = append(conds, name[:i]+"_id_"+name[i+1:]+" = ?")
			args = append(args, id)
			continue
		}
		return nil, nil, false, bad("unknown filter %q for %s", name, t.Name)
	}
	return conds, args, none, nil
}
