package aggregate

// Rollup is an owned accumulation of windows: the sum of every series it
// was given, by Key. It is how windows outlive OnWindow, and how a server
// combines the windows of several agents (Merge). The zero value is not
// ready: use NewRollup. A Rollup is not safe for concurrent use.
type Rollup struct {
	Net map[Key]*NetworkMetrics
	App map[Key]*AppMetrics
}

// NewRollup returns an empty Rollup.
func NewRollup() *Rollup {
	return &Rollup{Net: make(map[Key]*NetworkMetrics), App: make(map[Key]*AppMetrics)}
}

// Add merges a window's series into r, copying what it keeps.
func (r *Rollup) Add(w *Window) {
	for i := range w.Series {
		r.addSeries(&w.Series[i])
	}
}

func (r *Rollup) addSeries(s *Series) {
	if s.Net != nil {
		m := r.Net[s.Key]
		if m == nil {
			m = new(NetworkMetrics)
			r.Net[s.Key] = m
		}
		m.Merge(s.Net)
	}
	if s.App != nil {
		m := r.App[s.Key]
		if m == nil {
			m = new(AppMetrics)
			r.App[s.Key] = m
		}
		m.Merge(s.App)
	}
}

// Merge adds every series of o into r.
func (r *Rollup) Merge(o *Rollup) {
	for k, m := range o.Net {
		r.addSeries(&Series{Key: k, Net: m})
	}
	for k, m := range o.App {
		r.addSeries(&Series{Key: k, App: m})
	}
}

// TotalNet returns the sum of r's network series.
func (r *Rollup) TotalNet() NetworkMetrics {
	var t NetworkMetrics
	for _, m := range r.Net {
		t.Merge(m)
	}
	return t
}

// TotalApp returns the sum of r's application series.
func (r *Rollup) TotalApp() AppMetrics {
	var t AppMetrics
	for _, m := range r.App {
		t.Merge(m)
	}
	return t
}
