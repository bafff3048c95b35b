package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// tagKeys are 15 tag keys with the cardinalities of a large cluster.
var tagKeys = []struct {
	name string
	n    int
}{
	{"region", 4}, {"az", 12}, {"host", 3000}, {"chost", 3000}, {"l3_epc", 40}, {"subnet", 300},
	{"pod_cluster", 6}, {"pod_node", 3000}, {"pod_ns", 60}, {"pod_group", 1200}, {"pod", 5000},
	{"service", 400}, {"gprocess", 20000}, {"lb", 30}, {"natgw", 10},
}

// BenchmarkStore_TagColumns writes 1,000,000 l7 rows with 15 tags a side
// into DuckDB twice, once with integer tag columns (dictionary ids, as the
// store does) and once with the tag strings, and reports rows/s, bytes on
// disk and the time of a filtered GROUP BY (requests and mean latency per
// server service of one client namespace). Run with -benchtime 1x.
func BenchmarkStore_TagColumns(b *testing.B) {
	const rows = 1_000_000
	// Each row is an endpoint pair: endpoint e has tag value
	// (e * prime) % n of each key, so tags are correlated as in life.
	const endpoints = 20000
	val := func(k, e int) int { return (e*(7919+k*104729))%tagKeys[k].n + 1 }
	for _, mode := range []string{"int", "string"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				dir := b.TempDir()
				path := filepath.Join(dir, "t.duckdb")
				db, err := sql.Open("duckdb", path)
				if err != nil {
					b.Fatal(err)
				}
				db.Exec("SET checkpoint_threshold = '1GB'")
				typ := "UINTEGER"
				if mode == "string" {
					typ = "VARCHAR"
				}
				var cols []string
				for _, k := range tagKeys {
					cols = append(cols, fmt.Sprintf("%s_0 %s, %s_1 %s", k.name, typ, k.name, typ))
				}
				if _, err := db.Exec(`CREATE TABLE l7 (start_time BIGINT, ip_0 VARCHAR, ip_1 VARCHAR, server_port UINTEGER,
					l7_protocol VARCHAR, request_resource VARCHAR, response_code BIGINT, latency BIGINT, ` + strings.Join(cols, ", ") + `)`); err != nil {
					b.Fatal(err)
				}
				// The strings, made before the clock starts.
				strs := make([][]string, len(tagKeys))
				for k, tk := range tagKeys {
					strs[k] = make([]string, tk.n+1)
					for i := 1; i <= tk.n; i++ {
						strs[k][i] = tk.name + "-" + strconv.Itoa(i) + "-6d4f9c"
					}
				}
				ips := make([]string, endpoints)
				for e := range ips {
					ips[e] = fmt.Sprintf("10.%d.%d.%d", e>>16, (e>>8)&255, e&255)
				}
				vals := make([]driver.Value, 8+2*len(tagKeys))
				conn, _ := db.Conn(context.Background())
				start := time.Now()
				err = conn.Raw(func(dc any) error {
					a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "l7")
					if err != nil {
						return err
					}
					for r := 0; r < rows; r++ {
						c, s := r%endpoints, (r*31+7)%endpoints
						vals[0], vals[1], vals[2], vals[3] = int64(r), ips[c], ips[s], uint32(80)
						vals[4], vals[5], vals[6], vals[7] = "HTTP", "/api/v1/items", int64(200), int64(r%5000)
						for k := range tagKeys {
							vc, vs := val(k, c), val(k, s)
							if mode == "int" {
								vals[8+2*k], vals[9+2*k] = uint32(vc), uint32(vs)
							} else {
								vals[8+2*k], vals[9+2*k] = strs[k][vc], strs[k][vs]
							}
						}
						if err := a.AppendRow(vals...); err != nil {
							return err
						}
					}
					return a.Close()
				})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := conn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
					b.Fatal(err)
				}
				write := time.Since(start)
				conn.Close()
				// Filtered GROUP BY: one namespace's clients, per server
				// service; the integer form filters and groups by id and
				// names the 400 groups afterwards.
				q := `SELECT service_1, count(*), avg(latency) FROM l7 WHERE pod_ns_0 = ? GROUP BY service_1`
				ns := val(8, 1) // a namespace that occurs
				var arg any = uint32(ns)
				if mode == "string" {
					arg = strs[8][ns]
				}
				qstart := time.Now()
				groups := 0
				for i := 0; i < 5; i++ {
					rs, err := db.Query(q, arg)
					if err != nil {
						b.Fatal(err)
					}
					groups = 0
					for rs.Next() {
						var svc any
						var n int64
						var avg float64
						rs.Scan(&svc, &n, &avg)
						if mode == "int" {
							_ = strs[11][int(svc.(uint32))] // the name, from the dictionary
						}
						groups++
					}
					rs.Close()
				}
				qt := time.Since(qstart) / 5
				db.Close()
				st, _ := os.Stat(path)
				b.ReportMetric(float64(rows)/write.Seconds(), "rows/s")
				b.ReportMetric(float64(st.Size())/1e6, "MB")
				b.ReportMetric(float64(qt.Microseconds())/1000, "groupby-ms")
				b.ReportMetric(float64(groups), "groups")
			}
		})
	}
}
