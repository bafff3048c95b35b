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
// later (and OnWindow may run within any of those methods).
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
// load from other jobs (CPU time per record, from getrusage; ranges over
// paired runs). L7 records into the four default views (the two
// application views, 1 s and 1 min windows), 100,000 series of each hit
// in random order: 1.1 to 1.5 million records per CPU second (0.7 to
// 0.9 µs each) when each record is one of 100,000 records in memory
// picked at random (reading it and its endpoint are two cache misses of
// the benchmark's own); 1.9 to 2.1 million (0.47 to 0.53 µs) when the
// record is in cache, as a decoder hands it over (BenchmarkWriteL7
// record=hot); application_map alone 2.0 to 2.3 million; 1,000 series
// 2.0 to 2.5 million. The design before this one (a Go map per window, a
// ddsketch.DDSketch per minute series, each record written into its
// second and its minute) did 0.29 to 0.38 million for the 100,000 series.
// Flow snapshot records, 100,000 flows: 0.6 to 0.7 million per CPU
// second. No allocation per record once the series exist. Memory: 100,000
// series in both application views, with two 1 s windows and the 1 min
// window open, hold 82 MiB (about 145 bytes per series and window: key
// table, cells and the minute's sketch; 255 MiB before).
//
// How: each view has one key table (open addressing, one cache line per
// slot, key included) that gives a key a dense index for as long as an
// open window holds it, and a window is an array of cells by that index;
// a record is written into its 1 s window only (its counters and its
// latency's bucket), and closing the second folds its cells into the
// minute in index order; WriteL7 holds 8 records and prefetches their
// slots and cells meanwhile; the tables and arrays ask for transparent
// huge pages (madvise), since every record hits them at random.
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
