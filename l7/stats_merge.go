package l7

import "reflect"

// Add adds o's counters (and gauges) to s, so that the Stats of several
// engines (the shards of a pipeline) can be merged. Per-protocol counters
// are matched by name; s.Protocols grows only for names it lacks.
func (s *Stats) Add(o *Stats) {
	addFields(reflect.ValueOf(s).Elem(), reflect.ValueOf(o).Elem())
	for i := range o.Protocols {
		p := &o.Protocols[i]
		j := 0
		for j < len(s.Protocols) && s.Protocols[j].Name != p.Name {
			j++
		}
		if j == len(s.Protocols) {
			s.Protocols = append(s.Protocols, ProtocolStats{Name: p.Name})
		}
		addFields(reflect.ValueOf(&s.Protocols[j]).Elem(), reflect.ValueOf(p).Elem())
	}
}

// addFields adds every integer field of src to dst (structs of one type).
// Reflection keeps Add right as counters are added to Stats.
func addFields(dst, src reflect.Value) {
	for i := 0; i < dst.NumField(); i++ {
		d := dst.Field(i)
		switch d.Kind() {
		case reflect.Uint64, reflect.Uint32, reflect.Uint:
			d.SetUint(d.Uint() + src.Field(i).Uint())
		case reflect.Int64, reflect.Int32, reflect.Int:
			d.SetInt(d.Int() + src.Field(i).Int())
		}
	}
}

// ReadStats copies the engine's counters into s, reusing s.Protocols'
// storage, so that reading stats repeatedly does not allocate. Like every
// Engine method it must be called from the goroutine driving the engine.
func (e *Engine) ReadStats(s *Stats) {
	protos := s.Protocols[:0]
	*s = e.stats
	s.OpenConns = e.nconns
	s.RestingConns = e.resting()
	s.PendingSessions = e.npending
	s.BufferedBytes = e.pool.inUse
	s.Protocols = append(protos, e.proto...)
}
