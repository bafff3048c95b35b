package encoding_test

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/tag"
)

// The generator of the SmartEncoding benchmark: l4_flow_log rows between
// endpoints of a large Kubernetes estate, with DeepFlow's 15 resource tags
// on both sides and realistic cardinalities: 5 regions, 15 zones, 300 hosts
// (the Kubernetes nodes), 3,000 cloud hosts, 100 VPCs, 500 subnets, 3
// clusters, 50 namespaces, 800 workloads, 5,000 pods (each with its
// container), 400 services, 30 ingresses and 2,000 processes. Clients and
// servers are drawn with a Zipf law (a few hot endpoints, a long tail).
// Everything is derived from a fixed seed: the same rows every run.
//
// The records get their tags as an agent's do: from an autotag.Stage over
// a snapshot that describes every endpoint's address (a /32 each), which
// attaches the snapshot's tag list of each side to the record.

const (
	nRegion    = 5
	nAZ        = 15
	nHost      = 300
	nCHost     = 3000
	nEPC       = 100
	nSubnet    = 500
	nCluster   = 3
	nNS        = 50
	nGroup     = 800
	nPod       = 5000
	nService   = 400
	nIngress   = 30
	nGProcess  = 2000
	nEndpoints = nPod + nCHost // pods and plain cloud hosts
)

var words = []string{"checkout", "cart", "payment", "catalog", "search", "user", "auth", "order",
	"inventory", "shipping", "email", "recommend", "ads", "gateway", "billing", "report"}

// endpoint is one side of a flow: its address and tags (interned strings,
// as a tagging stage hands them out).
type endpoint struct {
	ip   netip.Addr
	port uint16 // the service port when it serves
	tags []tag.Tag
}

type genRow struct {
	start          int64
	dur            uint32
	cli, srv       uint16
	cport          uint16
	pktTx, pktRx   uint32
	byteTx, byteRx uint32
	rtt, srt, art  uint32
	retrans        uint8
	close          uint8
	l7             uint8
}

type generator struct {
	eps   []endpoint
	rows  []genRow
	stage *autotag.Stage     // tags the records from a snapshot of eps
	own   bool               // copy the stage's tags into the record's own (tag.Set.Add): no tag.List
	ownTS [fillChunk]tag.Set // the own tags of the records being built
}

var (
	genOnce sync.Once
	gen     *generator
	genRows = 1_000_000
)

// getGenerator returns the rows, 1,000,000 unless $ENCODING_BENCH_ROWS
// says otherwise (for quick profiles).
func getGenerator() *generator {
	genOnce.Do(func() {
		if n, err := strconv.Atoi(os.Getenv("ENCODING_BENCH_ROWS")); err == nil && n > 0 {
			genRows = n
		}
		gen = newGenerator(genRows)
	})
	return gen
}

func hex64(r *rand.Rand) string {
	const hx = "0123456789abcdef"
	var b [64]byte
	for i := range b {
		b[i] = hx[r.IntN(16)]
	}
	return string(b[:])
}

func newGenerator(n int) *generator {
	r := rand.New(rand.NewPCG(13, 2026))
	regions := []string{"us-east-1", "us-west-2", "eu-central-1", "ap-southeast-1", "cn-beijing"}
	name := func(prefix string, i int) string { return prefix + "-" + strconv.Itoa(i) }
	var az, host, chost, epc, subnet, ns, group, pod, svc, ingress, gproc, ctr []string
	for i := range nAZ {
		az = append(az, regions[i%nRegion]+string(rune('a'+i/nRegion)))
	}
	for i := range nHost {
		host = append(host, "ip-10-"+strconv.Itoa(i/250)+"-"+strconv.Itoa(i%250)+"-"+strconv.Itoa(10+i%200)+".ec2.internal")
	}
	for range nCHost {
		chost = append(chost, "i-0"+hex64(r)[:16])
	}
	for i := range nEPC {
		epc = append(epc, name("vpc-prod", i))
	}
	for i := range nSubnet {
		subnet = append(subnet, "subnet-"+hex64(r)[:17]+"-"+strconv.Itoa(i))
	}
	for i := range nNS {
		ns = append(ns, words[i%len(words)]+"-"+[]string{"prod", "staging", "dev", "canary"}[i%4]+"-"+strconv.Itoa(i))
	}
	for i := range nGroup {
		group = append(group, words[i%len(words)]+"-"+words[(i/len(words))%len(words)]+"-deployment-"+strconv.Itoa(i))
	}
	for i := range nPod {
		g := group[i%nGroup]
		pod = append(pod, strings.TrimSuffix(g, "-deployment-"+strconv.Itoa(i%nGroup))+"-"+hex64(r)[:10]+"-"+hex64(r)[:5])
		ctr = append(ctr, hex64(r))
	}
	for i := range nService {
		svc = append(svc, words[i%len(words)]+"-svc-"+strconv.Itoa(i))
	}
	for i := range nIngress {
		ingress = append(ingress, name("ingress-nginx", i))
	}
	for i := range nGProcess {
		gproc = append(gproc, []string{"java", "python3", "node", "envoy", "nginx", "redis-server", "mysqld", "gunicorn"}[i%8]+"#"+strconv.Itoa(i))
	}
	clusters := []string{"prod-a", "prod-b", "staging"}
	ports := []uint16{80, 443, 8080, 3306, 6379, 9092, 5432, 8443, 9090, 11211}
	g := &generator{eps: make([]endpoint, nEndpoints)}
	for i := range g.eps {
		e := &g.eps[i]
		e.ip = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		var ts []tag.Tag
		add := func(k, v string) { ts = append(ts, tag.Tag{Key: k, Value: v}) }
		if i < nPod {
			node := (i * 7) % nHost
			grp := i % nGroup
			vpc := node % nEPC
			add("region", regions[vpc%nRegion])
			add("az", az[vpc%nAZ])
			add("host", host[node])
			add("chost", chost[node])
			add("l3_epc", epc[vpc])
			add("subnet", subnet[(node*3+i%3)%nSubnet])
			add("pod_cluster", clusters[grp%nCluster])
			add("pod_node", host[node])
			add("pod_ns", ns[grp%nNS])
			add("pod_group", group[grp])
			add("pod", pod[i])
			if grp < 2*nService && grp%2 == 0 {
				add("service", svc[grp/2])
				e.port = ports[(grp/2)%len(ports)]
				if grp/2 < nIngress {
					add("ingress", ingress[grp/2])
				}
			}
			add("gprocess", gproc[i%nGProcess])
			add("container_id", ctr[i])
		} else {
			c := i - nPod
			vpc := c % nEPC
			add("region", regions[vpc%nRegion])
			add("az", az[vpc%nAZ])
			add("host", host[c%nHost])
			add("chost", chost[c])
			add("l3_epc", epc[vpc])
			add("subnet", subnet[c%nSubnet])
			add("gprocess", gproc[(c*13)%nGProcess])
			e.port = ports[c%len(ports)]
		}
		e.tags = ts
	}
	// The tagging stage: one address entry per endpoint.
	addrs := make([]autotag.AddrEntry, len(g.eps))
	for i := range g.eps {
		a := &addrs[i]
		a.Prefix = netip.PrefixFrom(g.eps[i].ip, 32)
		for _, t := range g.eps[i].tags {
			if !a.Resource.SetTag(t.Key, t.Value) {
				panic("generator: unknown tag key " + t.Key)
			}
		}
	}
	tg := autotag.New()
	tg.Updater("generator").Update(&autotag.Entries{Addrs: addrs})
	g.stage = tg.NewStage(autotag.StageConfig{})
	// Servers are endpoints with a port; clients anything.
	var servers []uint16
	for i := range g.eps {
		if g.eps[i].port != 0 {
			servers = append(servers, uint16(i))
		}
	}
	perm := r.Perm(nEndpoints)
	zc := rand.NewZipf(r, 1.1, 8, nEndpoints-1)
	zs := rand.NewZipf(r, 1.2, 4, uint64(len(servers)-1))
	t0 := int64(1_790_000_000) * 1e9
	g.rows = make([]genRow, n)
	for i := range g.rows {
		row := &g.rows[i]
		row.start = t0 + int64(i)*60e3 + r.Int64N(1e6) // 1M rows a minute
		row.cli = uint16(perm[zc.Uint64()])
		row.srv = servers[zs.Uint64()]
		row.cport = uint16(32768 + r.IntN(28000))
		row.dur = uint32(r.ExpFloat64() * 20000)
		row.pktTx = 1 + uint32(r.ExpFloat64()*12)
		row.pktRx = 1 + uint32(r.ExpFloat64()*15)
		row.byteTx = row.pktTx*66 + uint32(r.ExpFloat64()*900)
		row.byteRx = row.pktRx*66 + uint32(r.ExpFloat64()*8000)
		row.rtt = 50 + uint32(r.ExpFloat64()*400)
		row.srt = 20 + uint32(r.ExpFloat64()*300)
		row.art = row.srt + uint32(r.ExpFloat64()*5000)
		if r.IntN(50) == 0 {
			row.retrans = uint8(1 + r.IntN(5))
		}
		row.close = uint8([]flow.CloseType{flow.CloseFinish, flow.CloseFinish, flow.CloseFinish, flow.CloseTimeout,
			flow.CloseForcedReport, flow.CloseTCPServerRst, flow.CloseTCPClientRst}[r.IntN(7)])
		row.l7 = uint8(r.IntN(4))
	}
	return g
}

var l7Names = []string{"HTTP", "gRPC", "MySQL", ""}

// fill writes row i into r, tagged by the generator's autotag.Stage.
func (g *generator) fill(i int, r *flow.Record) {
	row := &g.rows[i]
	cli, srv := &g.eps[row.cli], &g.eps[row.srv]
	tags := r.Tags
	tags.Reset()
	*r = flow.Record{
		FlowID:    uint64(i + 1),
		StartTime: row.start,
		EndTime:   row.start + int64(row.dur)*1000,
		Duration:  int64(row.dur),
		IP0:       cli.ip, IP1: srv.ip,
		ClientPort: row.cport, ServerPort: srv.port,
		Protocol:   decode.ProtoTCP,
		L7Protocol: l7Names[row.l7],
		CloseType:  flow.CloseType(row.close),
		PacketTx:   uint64(row.pktTx), PacketRx: uint64(row.pktRx),
		ByteTx: uint64(row.byteTx), ByteRx: uint64(row.byteRx),
		L4ByteTx: uint64(row.byteTx - row.pktTx*66), L4ByteRx: uint64(row.byteRx - row.pktRx*66),
		RTT: row.rtt, RTTClient: row.rtt / 3, RTTServer: row.rtt - row.rtt/3,
		HasRTT: true, HasRTTClient: true, HasRTTServer: true,
		SRTMax: row.srt, SRTSum: row.srt * row.pktTx, SRTCount: row.pktTx,
		ARTMax: row.art, ARTSum: row.art, ARTCount: 1,
		RetransTx: uint32(row.retrans),
		SynCount:  1, SynAckCount: 1, FinCount: 2,
		L7Request: row.pktTx / 2, L7Response: row.pktTx / 2,
		Tags: tags,
	}
	g.stage.ProcessL4(r)
	if g.own {
		own := &g.ownTS[i%fillChunk] // run builds fillChunk records at a time
		own.Reset()
		for side := range tag.Side(2) {
			for _, t := range r.Tags.Side(side) {
				own.Add(side, t.Key, t.Value)
			}
		}
		r.Tags = *own
	}
}

// dictionaries returns a server dictionary holding every tag value of the
// estate and an agent synced with it: the steady state.
func (g *generator) dictionaries() (*encoding.Dictionary, *encoding.AgentDict) {
	server := encoding.NewDictionary(nil)
	for _, e := range g.eps {
		for _, t := range e.tags {
			if _, err := server.Assign(t.Key, t.Value); err != nil {
				panic(err)
			}
		}
	}
	agent := encoding.NewAgentDict()
	if err := agent.Apply(server.Sync(0, 0)); err != nil {
		panic(err)
	}
	return server, agent
}
