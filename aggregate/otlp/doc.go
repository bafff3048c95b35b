// Package otlp sends the metrics of package aggregate to an OTLP/HTTP
// receiver (an OpenTelemetry collector, or any backend that speaks
// OTLP): each closed window becomes one ExportMetricsServiceRequest
// (go.opentelemetry.io/proto/otlp), POSTed as protobuf to Config.Endpoint.
// It is a module of its own, so that the core library does not depend on
// the OpenTelemetry protocol packages.
//
//	exp := otlp.New(&otlp.Config{Endpoint: "http://collector:4318/v1/metrics"})
//	agg, _ := aggregate.New(&aggregate.Config{OnWindow: exp.Add})
//	... pipeline.Run ...
//	agg.Close()
//	exp.Close() // sends what is queued
//
// # Metrics
//
// Points are deltas over their window (AggregationTemporality DELTA, start
// and time the window's bounds): 1 min windows by default (every record
// but those past the lateness, exactly), or 1 s windows with Config.Second
// (Late windows included, as points at the second they were delivered).
// Names follow OpenTelemetry's conventions: lower case, dotted, the unit
// in the unit field rather than the name, durations in seconds:
//
//	metaflow.<view>.<name>          Sum, monotonic, int: every counter of
//	                                aggregate.NetworkFields and AppFields
//	                                under its DeepFlow name (packet_tx, byte_tx,
//	                                new_flow, server_syn_miss, request, timeout, ...);
//	                                units {packet}, By, {flow}, {request}, ...
//	metaflow.<view>.<latency>       Summary, s: count and sum of rtt, rtt_client,
//	                                rtt_server, srt, art (network) and rrt
//	                                (application, with quantiles 0.5, 0.9, 0.99
//	                                from its DDSketch: 1% relative error;
//	                                1 min windows only: 1 s ones carry no sketch)
//	metaflow.<view>.<latency>.max   Gauge, s: the window's largest value
//
// Attributes are the view's grouping fields, with OpenTelemetry's
// semantic-convention names where one fits: client.address (ip_0),
// server.address (ip_1), server.port, network.transport ("tcp", "udp"),
// metaflow.l7_protocol, metaflow.endpoint, and each View.Tags key as
// "<key>_0" or "<key>_1"; the overflow series has metaflow.overflow=true.
// The resource has service.name (Config.ServiceName, default "metaflow").
//
// Concurrency: Add may be called from any goroutine (it only converts and
// queues); one goroutine sends. Errors: a request that fails (transport
// error or a status other than 2xx) is counted in Stats and dropped, as is
// a window that finds the queue full; Close returns the last send error.
package otlp
