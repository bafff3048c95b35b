// Package aggregate turns records into metrics (AutoMetrics): network
// metrics from flow records and application (RED) metrics from l7
// records, per endpoint and per client → server edge, in 1 s and 1 min
// windows, and the universal service map built from them.
//
// An Aggregator is a pipeline.Sink: attach it to any pipeline (or feed it
// records from anywhere) and call Close once the input has ended.
//
//	agg, _ := aggregate.New(&aggregate.Config{OnWindow: func(w *aggregate.Window) { ... }})
//	p, _ := pipeline.New(pipeline.Config{..., Sinks: []pipeline.SinkConfig{{Sink: agg}}})
//	err := p.Run(ctx)
//	agg.Close() // flushes the windows still open
//
// # Views and keys
//
// Config.Views lists the metric tables. Each View has a Kind (Network:
// counts flow records into NetworkMetrics; Application: counts l7 records
// into AppMetrics) and an explicit grouping key: the Fields it keeps
// (client IP, server IP, server port, IP protocol, L7 protocol, API
// endpoint) and up to MaxTags tags attached by the pipeline's stages
// (View.Tags). DefaultViews are DeepFlow's network, network_map,
// application and application_map tables (METRICS-AND-TAGS.md). The client
// is the record's side 0 (the SYN's sender, or the requests'), the server
// side 1: edges are directed client → server.
//
// Cardinality is capped: a view's window holds at most Config.MaxSeries
// series, and records of further keys fold into its one Overflow series
// (Key.Overflow), counted in Stats.Overflow; the open windows of a view
// together hold at most 8 × MaxSeries distinct keys (past that, new keys
// fold into the overflow series too). Strings (L7 protocols,
// endpoints, tag values) are interned in a table of at most
// Config.MaxStrings entries; later ones group under OtherString.
//
// # Windows and time
//
// Time is record time, never the wall clock, so replaying a file gives the
// same metrics as running live. An l7 record lands in the window of its
// StartTime (the request's first byte); a flow record in the window of
// its EndTime (the last packet it counts: with snapshots,
// flow.Config.SnapshotInterval, the interval its packets were seen in), or
// at the watermark when it counts no packets. The watermark is the newest
// record time seen (EndTime of either record). A 1 s window closes when
// the watermark passes its end by Config.SecondLateness (default 2 s), a
// 1 min window when it passes its end by Config.Lateness (default 130 s,
// which covers the default l7 session timeout: a request that times out
// is reported 120 s after its first byte and still lands in its minute).
// A closed 1 s window is delivered to Config.OnWindow and then folded into
// its minute (a record is written once, into its second: the minute gets
// each series' sum when the second closes). A record too late for its second goes to its minute directly
// and into the view's late-second bucket (also delivered by key, as Late
// windows, for exporters that sum 1 s windows); one too late for its minute goes
// to the late-minute bucket only (Late, Stats). So, per view and metric:
//
//	Σ 1 s windows + late-second bucket = Σ 1 min windows
//	Σ 1 min windows + late-minute bucket = the records' totals
//
// where the overflow series are part of the windows.
//
// WriteL7 holds up to 8 records before counting them (it copies what it
// needs), prefetching the memory of their series meanwhile; any other
// method (WriteL4, Advance, Close, Stats, Late) first counts the held
// records, and a record 100 ms (record time) newer than a held one counts
// that one, so windows close as they would otherwise, up to 8 records
// later.
//
// Flows: a flow reported by snapshots yields several records; the
// Aggregator remembers the live flows (Config.MaxFlows) so that new_flow
// and the handshake RTTs count once per flow, at its first record, and
// closed_flow and the close-type anomalies at its last.
//
// # Latency percentiles
//
// AppMetrics.Latency is a DDSketch with RelativeAccuracy 1%: the
// logarithmic index mapping of DataDog's sketches-go and its quantile
// rule, over a sorted sparse list of buckets (a few words for a few
// distinct latencies). Any quantile read from it is within 1% of the exact
// quantile of the response durations it holds, and sketches merge
// exactly (bucket counts add) without losing that bound. Sketches live in
// the 1 min windows only: a 1 s window keeps rrt_sum, rrt_count and
// rrt_max, an empty Latency, and the bucket indexes of its latest
// latencies (up to 8 a series), which go to the minute's sketch when the
// second closes (or when the 8 are used up): the same buckets, so the same
// guarantee.
//
// # Scale-out
//
// Windows merge exactly: counters add, maxima take the larger, sketches
// merge (NetworkMetrics.Merge, AppMetrics.Merge, Rollup.Merge), so a
// server can combine the windows of many agents by (view, interval,
// start, Key). To spread that work over several servers, partition by the
// server side of the key (server IP and port, or the server's service tag
// once there is one): every edge into a server and every series of that
// server's endpoint then meet on one server, which can also build that
// part of the service map; a query for a client merges the partitions.
//
// # Cost
//
// Measured with the package's benchmarks on a shared 2-core machine under
// heavy load from other jobs (so the figures are upper bounds; CPU time
// per record, from getrusage): l7 records into the four default views,
// 1,000 series hit in random order, 0.5 to 1.1 µs; 100,000 series (each
// application view) in random order, 2.6 to 3.6 µs, about half of it in
// application_map alone (1.6 µs), the rest cache misses on the windows'
// maps and sketches; flow snapshot records, 100,000 flows, 2.3 µs. No
// allocation per record once the series exist. Memory: 100,000 series in
// both application views, with two 1 s windows and the 1 min window open,
// hold 263 MiB (about 440 bytes per series and window, the minute's
// sketch included).
//
// Concurrency: an Aggregator's methods are safe for concurrent use (one
// mutex, uncontended under a pipeline, which calls a sink one call at a
// time); OnWindow runs under that mutex and must not call the Aggregator.
// Writing a record does not allocate once its series exist in the open
// windows (keys are structs of netip.Addr, ports and interned string ids;
// windows and their sketches are recycled).
//
// Errors: New returns ErrBadView, ErrTooManyTags or ErrLateness for a bad
// Config; WriteL4, WriteL7 and Close return nil.
package aggregate
