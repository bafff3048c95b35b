// Package prometheus exports the metrics of package aggregate in the
// Prometheus exposition format (github.com/prometheus/client_golang). It is
// a module of its own, so that the core library does not depend on
// client_golang.
//
//	exp := prometheus.New(nil)
//	agg, _ := aggregate.New(&aggregate.Config{OnWindow: exp.Add})
//	http.Handle("/metrics", exp.Handler())
//
// # Metrics
//
// Counters are cumulative since the Exporter started: Add sums every 1 s
// window, and the Late windows (records that missed their second), so a
// scrape sees each record about SecondLateness after it was reported. The
// latency quantiles come from the 1 min windows' sketches (1 s windows
// carry none), so they lag by a minute plus the Lateness. For
// each view (aggregate.View) the metric names are
// "<namespace>_<view>_<metric>", namespace "metaflow" by default, with
// DeepFlow's metric names turned into Prometheus's conventions:
//
//	network views (network, network_map)
//	  tx_packets_total, rx_packets_total            packet_tx, packet_rx
//	  tx_bytes_total, rx_bytes_total                byte_tx, byte_rx (frames)
//	  l4_tx_bytes_total, l4_rx_bytes_total          l4_byte_tx, l4_byte_rx (payload)
//	  rtt_seconds_sum, rtt_seconds_count            rtt_sum, rtt_count (µs → s)
//	  rtt_max_seconds (gauge)                       rtt_max, the largest since start
//	  (the same for rtt_client, rtt_server, srt, art)
//	  <name>_total for every other counter          new_flow_total, closed_flow_total,
//	                                                flow_load_total, retrans_tx_total,
//	                                                server_syn_miss_total, tcp_establish_fail_total, ...
//	application views (application, application_map)
//	  request_total, response_total, client_error_total, server_error_total, timeout_total
//	  rrt_seconds (summary)                         rrt_sum and rrt_count in seconds, with
//	                                                quantiles 0.5, 0.9, 0.99 from the merged
//	                                                DDSketch (1% relative error)
//	  rrt_max_seconds (gauge)                       rrt_max, the largest since start
//
// Labels are the view's grouping fields, named after the record keys:
// client_ip (ip_0), server_ip (ip_1), server_port, protocol ("TCP", "UDP"),
// l7_protocol, endpoint, and each View.Tags key as "<key>_0" (client side)
// or "<key>_1" (server side). The overflow series of a view carries the
// label overflow="true" and no others.
//
// Series are never dropped: their number is bounded by the Aggregator's
// caps times the keys seen since start.
//
// Concurrency: Add and scrapes (Collect) may run concurrently; one mutex
// guards the state. Errors: none; Handler serves scrape errors as HTTP 500.
package prometheus
