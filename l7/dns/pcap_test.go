package dns

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/capture/decode"
	corpus "github.com/metaflow-go/metaflow/internal/l7test"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// serverPorts are the DNS server ports of the test captures.
func isServerPort(p uint16) bool { return p == 53 || p == 8053 || p == 5353 }

type tcpConn struct {
	p    *Parser
	half [2]l7test.InOrder
}

// replayLines parses every DNS message of the capture directly with
// Parsers (one per UDP datagram flow and per TCP connection, with an
// in-order reassembly that reports holes as gaps) and renders each as a
// golden line. Parse errors become "error" lines.
func replayLines(t testing.TB, path string) []string {
	var out []string
	conns := map[[2]netip.AddrPort]*tcpConn{}
	udp := newParser(l7.UDP)
	line := func(frame int, proto string, src, dst netip.AddrPort, p *Parser, m *l7.Message) string {
		h := p.Header()
		qname, qtype := string(m.RequestResource), ""
		if qname == "." {
			qname = "<Root>"
		}
		if h.QDCount > 0 {
			qtype = strconv.Itoa(int(h.QType))
		}
		qr, rcode, answers := "0", "", ""
		if m.Kind == l7.KindResponse {
			qr, rcode, answers = "1", strconv.Itoa(int(h.Flags&0xf)), digest(m.Result)
		}
		return strings.Join([]string{strconv.Itoa(frame), proto, src.String(), dst.String(),
			strconv.Itoa(int(m.ID)), qr, qname, qtype, rcode, strconv.Itoa(int(h.ANCount)), answers}, "\t")
	}
	for _, pk := range l7test.Packets(t, path) {
		if len(pk.Payload) == 0 && pk.Flags&decode.TCPSyn == 0 {
			continue
		}
		dir := l7.ToServer
		if isServerPort(pk.Src.Port()) {
			dir = l7.ToClient
		}
		var m l7.Message
		if pk.UDP {
			if !isServerPort(pk.Src.Port()) && !isServerPort(pk.Dst.Port()) {
				continue
			}
			n, ok, err := udp.Parse(pk.Payload, dir, &m)
			if n != len(pk.Payload) {
				t.Errorf("frame %d: UDP Parse consumed %d of %d", pk.Frame, n, len(pk.Payload))
			}
			if err != nil {
				out = append(out, strconv.Itoa(pk.Frame)+"\terror\t"+err.Error())
			} else if ok {
				out = append(out, line(pk.Frame, "udp", pk.Src, pk.Dst, udp, &m))
			}
			continue
		}
		key := [2]netip.AddrPort{pk.Src, pk.Dst}
		if dir == l7.ToClient {
			key = [2]netip.AddrPort{pk.Dst, pk.Src}
		}
		c := conns[key]
		if c == nil {
			c = &tcpConn{p: newParser(l7.TCP)}
			conns[key] = c
		}
		h := &c.half[dir]
		gap, ok := h.Add(pk.Seq, pk.Flags&decode.TCPSyn != 0, pk.Payload)
		if !ok {
			continue
		}
		if gap > 0 {
			c.p.Gap(dir, gap)
		}
		for len(h.Buf) > 0 {
			m.Reset()
			n, ok, err := c.p.Parse(h.Buf, dir, &m)
			if err == l7.ErrNeedMore {
				break
			}
			if n > len(h.Buf) {
				t.Fatalf("frame %d: n %d > %d", pk.Frame, n, len(h.Buf))
			}
			if ok {
				out = append(out, line(pk.Frame, "tcp", pk.Src, pk.Dst, c.p, &m))
			}
			if err != nil {
				out = append(out, strconv.Itoa(pk.Frame)+"\terror\t"+err.Error())
				c.p.Gap(dir, -1)
				if n == 0 {
					n = len(h.Buf)
				}
			}
			h.Buf = h.Buf[n:]
		}
	}
	return out
}

// typeNumbers maps mnemonics back to record types.
var typeNumbers = func() map[string]int {
	m := map[string]int{}
	for t := range 65536 {
		if n := TypeName(uint16(t)); n != "" {
			m[n] = t
		}
	}
	return m
}()

// digest renders response_result as the golden's answers column: numeric
// types, with the value of A, AAAA, CNAME, NS, PTR (names without the
// trailing dot) and MX (its exchange). A result cut at its bound ends in
// "…" after its last whole item.
func digest(result []byte) string {
	var items []string
	cut := strings.HasSuffix(string(result), "...")
	rest := strings.TrimSuffix(string(result), "...")
	for rest != "" {
		// Split at the next ';' outside a quoted string.
		i, quoted := 0, false
		for ; i < len(rest); i++ {
			switch c := rest[i]; {
			case c == '\\':
				i++
			case c == '"':
				quoted = !quoted
			case c == ';' && !quoted:
				goto split
			}
		}
	split:
		item := rest[:min(i, len(rest))]
		rest = rest[min(i+1, len(rest)):]
		if cut && rest == "" {
			break // the cut item
		}
		if item == "TC" {
			continue
		}
		typ, val, _ := strings.Cut(item, " ")
		n, ok := typeNumbers[typ]
		if !ok {
			n, _ = strconv.Atoi(strings.TrimPrefix(typ, "TYPE"))
		}
		out := strconv.Itoa(n)
		switch n {
		case TypeMX:
			_, val, _ = strings.Cut(val, " ")
			fallthrough
		case TypeA, TypeAAAA, TypeCNAME, TypeNS, TypePTR:
			if val != "." {
				val = strings.TrimSuffix(val, ".")
			} else {
				val = "<Root>"
			}
			out += " " + val
		}
		items = append(items, out)
	}
	s := strings.Join(items, ";")
	if cut {
		s += "…"
	}
	return s
}

// TestOracle compares every message the Parser decodes from each capture
// with the line tshark derived for it: header, question, answer count and
// the answers (types, and values of the common types) in response_result.
func TestOracle(t *testing.T) {
	files := corpus.Captures(t, "dns", "dns")
	if len(files) == 0 {
		t.Skip("no DNS captures")
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want := corpus.GoldenLines(t, "dns", name)
			got := replayLines(t, path)
			if exp, ok := oracleExceptions[name]; ok {
				want = exp.apply(want)
			}
			// A result cut at its bound matches the first answers.
			for i, g := range got {
				if j := strings.LastIndex(g, "\t"); i < len(want) && strings.HasSuffix(g, "…") {
					if strings.HasPrefix(want[i], strings.TrimSuffix(g, "…")) {
						got[i] = want[i]
					} else {
						t.Errorf("cut result %q is no prefix of %q", g[j+1:], want[i])
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("messages differ from tshark's\n got:\n%s\nwant:\n%s",
					strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// exception adjusts tshark's lines where it and this decoder differ on
// purpose (see the comments at each entry).
type exception struct {
	replace map[string]string // whole golden line -> expected line
}

func (e exception) apply(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if r, ok := e.replace[l]; ok {
			if r == "" {
				continue
			}
			l = r
		}
		out = append(out, l)
	}
	return out
}

var oracleExceptions = map[string]exception{
	// tshark dissects an UPDATE's zone and prerequisite sections under
	// dns.zone.* and dns.count.{zones,prerequisites}, so its qry fields
	// are empty; the decoder reads the zone section as the question (the
	// formats are the same) and its answer count is the prerequisites'.
	"arkime_dns-update.pcap": {replace: map[string]string{
		"1\tudp\t10.0.0.1:51031\t10.0.0.2:53\t26905\t0\t\t\t\t\t":  "1\tudp\t10.0.0.1:51031\t10.0.0.2:53\t26905\t0\txxxxxxxxx.com\t6\t\t1\t",
		"2\tudp\t10.0.0.2:53\t10.0.0.1:51031\t26905\t1\t\t\t4\t\t": "2\tudp\t10.0.0.2:53\t10.0.0.1:51031\t26905\t1\txxxxxxxxx.com\t6\t4\t0\t",
	}},
	// An exploit sample: the responses' second question and a CNAME hold
	// names longer than 255 octets. tshark shows "<Name too long>" and
	// goes on; the decoder rejects the message (ErrBadName).
	"ndpi_malformed_dns.pcap": {replace: map[string]string{
		"2\tudp\t127.0.0.1:53\t127.0.0.1:50435\t33972\t1\twww.xt.com\t1\t0\t2\t1 66.66.66.66;5 <Name too long>": "2\terror\tl7: DNS parse error: dns: bad name: l7: malformed message",
		"3\tudp\t127.0.0.1:53\t127.0.0.1:50435\t33972\t1\twww.xt.com\t1\t0\t2\t1 66.66.66.66;5 <Name too long>": "3\terror\tl7: DNS parse error: dns: bad name: l7: malformed message",
		"5\tudp\t127.0.0.1:53\t127.0.0.1:50435\t33972\t1\twww.xt.com\t1\t0\t2\t1 66.66.66.66;5 <Name too long>": "5\terror\tl7: DNS parse error: dns: bad name: l7: malformed message",
		"6\tudp\t127.0.0.1:53\t127.0.0.1:50435\t33972\t1\twww.xt.com\t1\t0\t2\t1 66.66.66.66;5 <Name too long>": "6\terror\tl7: DNS parse error: dns: bad name: l7: malformed message",
	}},
}

type seed struct {
	t    l7.Transport
	dir  l7.Direction
	data []byte
}

// seedPayloads returns the DNS payloads of the captures (UDP datagrams and
// TCP segments as captured) as fuzz seeds.
func seedPayloads(t testing.TB) []seed {
	var out []seed
	for _, path := range corpus.Captures(t, "dns", "dns") {
		for _, pk := range l7test.Packets(t, path) {
			if len(pk.Payload) == 0 || (!isServerPort(pk.Src.Port()) && !isServerPort(pk.Dst.Port())) {
				continue
			}
			s := seed{t: l7.TCP, dir: l7.ToServer, data: pk.Payload}
			if pk.UDP {
				s.t = l7.UDP
			}
			if isServerPort(pk.Src.Port()) {
				s.dir = l7.ToClient
			}
			out = append(out, s)
		}
	}
	return out
}
