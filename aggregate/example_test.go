package aggregate_test

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/metaflow-go/metaflow/aggregate"
	"github.com/metaflow-go/metaflow/l7"
)

// Example feeds l7 records to an Aggregator by hand (a pipeline would call
// WriteL7 as a sink) and prints the 1 min window of the application_map
// view (the exact median is 1400us; the sketch is within 1%), then the
// service map.
func Example() {
	sm := aggregate.NewServiceMap()
	agg, _ := aggregate.New(&aggregate.Config{OnWindow: func(w *aggregate.Window) {
		sm.Add(w)
		if w.Interval == aggregate.Minute && w.View.Name == "application_map" {
			for _, s := range w.Series {
				fmt.Printf("%s %v -> %v:%d %s: %d requests, %d server errors, p50 %.0fus\n",
					w.Start.Format(time.TimeOnly), s.Key.ClientIP, s.Key.ServerIP, s.Key.ServerPort, s.Key.L7Protocol,
					s.App.Request, s.App.ServerError, s.App.Latency.Quantile(0.5))
			}
		}
	}})
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for i := range 10 {
		t := start.Add(time.Duration(i) * 100 * time.Millisecond)
		r := &l7.Record{
			StartTime: t.UnixNano(), EndTime: t.Add(time.Duration(1000+i*100) * time.Microsecond).UnixNano(),
			Client:    netip.MustParseAddrPort("10.0.0.1:40000"),
			Server:    netip.MustParseAddrPort("10.0.0.2:80"),
			Transport: l7.TCP, L7Protocol: "HTTP", Endpoint: []byte("/api"),
			HasRequest: true, HasResponse: true, HasStatus: true,
		}
		if i == 9 {
			r.Status = l7.StatusServerError
		}
		agg.WriteL7(r)
	}
	agg.Close()
	sm.WriteDOT(os.Stdout)
	// Output:
	// 10:00:00 10.0.0.1 -> 10.0.0.2:80 HTTP: 10 requests, 1 server errors, p50 1408us
	// digraph servicemap {
	// 	rankdir=LR;
	// 	node [fontname="Helvetica", fontsize=10];
	// 	edge [fontname="Helvetica", fontsize=9];
	// 	"10.0.0.1" [shape=ellipse];
	// 	"10.0.0.2:80" [shape=box];
	// 	"10.0.0.1" -> "10.0.0.2:80" [label="TCP HTTP\n0 flows, 10 req, 1 err"];
	// }
}
