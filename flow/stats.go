package flow

// Add adds o's counters to s, so that the Stats of several tables (the
// shards of a pipeline) can be merged. Gauges (ActiveFlows, SlabBytes) add up
// too.
func (s *Stats) Add(o *Stats) {
	s.Packets += o.Packets
	s.Counted += o.Counted
	s.Flows += o.Flows
	s.ActiveFlows += o.ActiveFlows
	s.Records += o.Records
	s.Snapshots += o.Snapshots
	s.Reopened += o.Reopened
	s.DroppedFlows += o.DroppedFlows
	s.NotL4 += o.NotL4
	s.FragMatched += o.FragMatched
	s.FragUnmatched += o.FragUnmatched
	s.SlabBytes += o.SlabBytes
}
