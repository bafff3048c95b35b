package aggregate

import (
	"cmp"
	"io"
	"net/netip"
	"slices"
	"strconv"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/tag"
)

// EdgeKey is a directed service-map edge: a client address to a server
// address and port, over one IP protocol; or, where the records carry the
// map's ServiceTag, a client service to a server service.
type EdgeKey struct {
	Client     netip.Addr
	Server     netip.Addr
	ServerPort uint16
	Protocol   uint8
	// ClientService and ServerService are the ServiceTag values of each
	// side ("" without); a side with one is named by it and its address
	// left zero, so that a service's instances make one node.
	ClientService, ServerService string
}

// ClientNode returns the edge's client node id: its service, or its
// address, "10.0.0.1".
func (k EdgeKey) ClientNode() string {
	if k.ClientService != "" {
		return k.ClientService
	}
	return k.Client.String()
}

// ServerNode returns the edge's server node id: its service, or its
// address and port, "10.0.0.2:80" ("[::1]:80").
func (k EdgeKey) ServerNode() string {
	if k.ServerService != "" {
		return k.ServerService
	}
	return netip.AddrPortFrom(k.Server, k.ServerPort).String()
}

// Edge is one edge's metrics: L4 over every flow of the edge (plain TCP,
// failed connections and UDP included) and L7 per L7 protocol.
type Edge struct {
	EdgeKey
	Net NetworkMetrics
	App map[string]*AppMetrics // by l7_protocol
}

// ServiceMap is the universal service map: nodes (client addresses, and
// server addresses with their ports) and directed client → server edges
// with their L4 and L7 metrics. Feed it the 1 min windows of an edge
// network view and an edge application view (by default network_map and
// application_map) through Add. It is not safe for concurrent use.
type ServiceMap struct {
	// NetView and AppView name the views Add takes; other windows are
	// ignored. Defaults "network_map" and "application_map".
	NetView, AppView string
	// ServiceTag, when set, names nodes by this tag (for example
	// "service") where the views group by it (View.Tags with tag.Client
	// and tag.Server) and a record carries it. Default "": addresses.
	ServiceTag string
	Edges      map[EdgeKey]*Edge
}

// NewServiceMap returns an empty map fed by the default edge views.
func NewServiceMap() *ServiceMap {
	return &ServiceMap{NetView: "network_map", AppView: "application_map", Edges: make(map[EdgeKey]*Edge)}
}

// Add merges a window into the map: 1 min windows of NetView and AppView
// only (the 1 s windows are in them already). Overflow series are left
// out (their keys are gone); Stats.Overflow counts them.
func (m *ServiceMap) Add(w *Window) {
	if w.Interval != Minute || (w.View.Name != m.NetView && w.View.Name != m.AppView) {
		return
	}
	ct, st := -1, -1
	for i, t := range w.View.Tags {
		if m.ServiceTag != "" && t.Key == m.ServiceTag {
			if t.Side == tag.Client {
				ct = i
			} else {
				st = i
			}
		}
	}
	for i := range w.Series {
		s := &w.Series[i]
		if s.Key.Overflow {
			continue
		}
		k := EdgeKey{Client: s.Key.ClientIP, Server: s.Key.ServerIP, ServerPort: s.Key.ServerPort, Protocol: s.Key.Protocol}
		if ct >= 0 && s.Key.Tags[ct] != "" {
			k.ClientService, k.Client = s.Key.Tags[ct], netip.Addr{}
		}
		if st >= 0 && s.Key.Tags[st] != "" {
			k.ServerService, k.Server, k.ServerPort = s.Key.Tags[st], netip.Addr{}, 0
		}
		e := m.Edges[k]
		if e == nil {
			e = &Edge{EdgeKey: k, App: map[string]*AppMetrics{}}
			m.Edges[k] = e
		}
		if s.Net != nil {
			e.Net.Merge(s.Net)
		}
		if s.App != nil {
			a := e.App[s.Key.L7Protocol]
			if a == nil {
				a = new(AppMetrics)
				e.App[s.Key.L7Protocol] = a
			}
			a.Merge(s.App)
		}
	}
}

// sorted returns the edges in a fixed order.
func (m *ServiceMap) sorted() []*Edge {
	es := make([]*Edge, 0, len(m.Edges))
	for _, e := range m.Edges {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *Edge) int {
		return cmp.Or(cmp.Compare(a.ClientService, b.ClientService), a.Client.Compare(b.Client),
			cmp.Compare(a.ServerService, b.ServerService), a.Server.Compare(b.Server),
			cmp.Compare(a.ServerPort, b.ServerPort), cmp.Compare(a.Protocol, b.Protocol))
	})
	return es
}

// protocols returns an edge's L7 protocols, sorted.
func (e *Edge) protocols() []string {
	ps := make([]string, 0, len(e.App))
	for p := range e.App {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// WriteJSON writes the map as one JSON object (node ids are services
// where ServiceTag names them):
//
//	{"nodes":[{"id":"10.0.0.1","role":"client"},{"id":"10.0.0.2:80","role":"server"}],
//	 "edges":[{"client":"10.0.0.1","server":"10.0.0.2:80","protocol":"TCP",
//	           "network":{"packet_tx":..., every NetworkFields name},
//	           "application":[{"l7_protocol":"HTTP","request":..., every AppFields name,
//	                           "rrt_p50":..,"rrt_p90":..,"rrt_p99":..}]}]}
//
// A node that is both a client and a server (at that port) has role
// "both"; latencies are µs.
func (m *ServiceMap) WriteJSON(w io.Writer) error {
	es := m.sorted()
	roles := map[string]byte{}
	var order []string
	role := func(id string, r byte) {
		if _, ok := roles[id]; !ok {
			order = append(order, id)
		}
		roles[id] |= r
	}
	for _, e := range es {
		role(e.ClientNode(), 1)
		role(e.ServerNode(), 2)
	}
	b := []byte(`{"nodes":[`)
	for i, id := range order {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendQuote(b, id)
		b = append(b, `,"role":"`...)
		b = append(b, [...]string{"", "client", "server", "both"}[roles[id]]...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"edges":[`...)
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n"+`{"client":`...)
		b = strconv.AppendQuote(b, e.ClientNode())
		b = append(b, `,"server":`...)
		b = strconv.AppendQuote(b, e.ServerNode())
		b = append(b, `,"protocol":`...)
		b = strconv.AppendQuote(b, flow.ProtocolName(e.Protocol))
		b = append(b, `,"network":{`...)
		for j, f := range NetworkFields {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, f.Name)
			b = append(b, ':')
			b = strconv.AppendUint(b, f.Value(&e.Net), 10)
		}
		b = append(b, `},"application":[`...)
		for j, p := range e.protocols() {
			a := e.App[p]
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"l7_protocol":`...)
			b = strconv.AppendQuote(b, p)
			for _, f := range AppFields {
				b = append(b, ',')
				b = strconv.AppendQuote(b, f.Name)
				b = append(b, ':')
				b = strconv.AppendUint(b, f.Value(a), 10)
			}
			for _, q := range AppQuantiles {
				b = append(b, `,"rrt_p`...)
				b = append(b, quantileName(q)...)
				b = append(b, `":`...)
				b = strconv.AppendFloat(b, a.Latency.Quantile(q), 'f', 0, 64)
			}
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}\n"...)
	_, err := w.Write(b)
	return err
}

// quantileName is "50" for 0.5, "99" for 0.99, "999" for 0.999.
func quantileName(q float64) string {
	s := strconv.FormatFloat(q, 'f', -1, 64)
	if len(s) > 2 && s[:2] == "0." {
		s = s[2:]
		if len(s) == 1 {
			s += "0"
		}
	}
	return s
}

// WriteDOT writes the map as a Graphviz digraph: clients as ellipses,
// servers as boxes, one arrow per edge labelled with its protocol, L7
// protocols, flows and requests; edges with failed connections or resets
// and no request are red and dashed.
func (m *ServiceMap) WriteDOT(w io.Writer) error {
	b := []byte("digraph servicemap {\n\trankdir=LR;\n\tnode [fontname=\"Helvetica\", fontsize=10];\n\tedge [fontname=\"Helvetica\", fontsize=9];\n")
	es := m.sorted()
	seen := map[string]bool{}
	node := func(id, shape string) {
		if seen[id] {
			return
		}
		seen[id] = true
		b = append(b, '\t')
		b = strconv.AppendQuote(b, id)
		b = append(b, " [shape="...)
		b = append(b, shape...)
		b = append(b, "];\n"...)
	}
	for _, e := range es {
		node(e.ClientNode(), "ellipse")
		node(e.ServerNode(), "box")
	}
	for _, e := range es {
		var req, errs uint64
		label := flow.ProtocolName(e.Protocol)
		for _, p := range e.protocols() {
			a := e.App[p]
			req += a.Request
			errs += a.ClientError + a.ServerError + a.Timeout
			label += " " + p
		}
		label += "\\n" + strconv.FormatUint(e.Net.NewFlow, 10) + " flows"
		if req > 0 {
			label += ", " + strconv.FormatUint(req, 10) + " req"
		}
		if errs > 0 {
			label += ", " + strconv.FormatUint(errs, 10) + " err"
		}
		fails := e.Net.TCPEstablishFail() + e.Net.TCPRstFail()
		if fails > 0 {
			label += "\\n" + strconv.FormatUint(fails, 10) + " failed/reset"
		}
		b = append(b, '\t')
		b = strconv.AppendQuote(b, e.ClientNode())
		b = append(b, " -> "...)
		b = strconv.AppendQuote(b, e.ServerNode())
		b = append(b, ` [label="`...)
		b = append(b, label...)
		b = append(b, '"')
		if fails > 0 && req == 0 {
			b = append(b, `, color=red, style=dashed`...)
		}
		b = append(b, "];\n"...)
	}
	b = append(b, "}\n"...)
	_, err := w.Write(b)
	return err
}
