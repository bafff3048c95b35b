package filter_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/filter"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// golden is testdata/tcpdump.golden (scripts/filter-goldens.sh): per file,
// per expression, what tcpdump accepts.
type golden struct {
	exprs []string
	files []string
	want  map[string][]string // file -> one entry per expression
}

func readGolden(t *testing.T) *golden {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "tcpdump.golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := &golden{want: map[string][]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if fields[0] == "# file" {
			g.exprs = fields[1:]
			continue
		}
		if len(fields) != len(g.exprs)+1 {
			t.Fatalf("golden line for %s has %d fields, want %d", fields[0], len(fields), len(g.exprs)+1)
		}
		g.files = append(g.files, fields[0])
		g.want[fields[0]] = fields[1:]
	}
	if len(g.files) == 0 || len(g.exprs) == 0 {
		t.Fatal("empty golden file")
	}
	return g
}

// ranges formats packet numbers as scripts/filter-goldens.py does.
func ranges(nums []int) string {
	var parts []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(nums[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", nums[i], nums[j]))
		}
		i = j + 1
	}
	s := strings.Join(parts, ",")
	if s == "" {
		return "-"
	}
	if len(s) > 24 {
		sum := sha256.Sum256([]byte(s))
		return fmt.Sprintf("#%d:%s", len(nums), hex.EncodeToString(sum[:6]))
	}
	return s
}

// readPackets reads a whole capture file, copying each packet.
func readPackets(t testing.TB, path string) []capture.Packet {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []capture.Packet
	for {
		var p capture.Packet
		err := src.ReadPacket(&p)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		p.Data = append([]byte(nil), p.Data...)
		out = append(out, p)
	}
}

// xnetMatch runs a program with golang.org/x/net/bpf's VM, an interpreter
// independent of this package's.
func xnetMatch(t *testing.T, prog []bpf.RawInstruction, p *capture.Packet) bool {
	t.Helper()
	insts, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("program does not disassemble")
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatalf("x/net/bpf rejects the program: %v", err)
	}
	n, err := vm.Run(p.Data)
	if err != nil {
		t.Fatalf("x/net/bpf: %v", err)
	}
	return n != 0
}

func usesLen(prog []bpf.RawInstruction) bool {
	for _, in := range prog {
		if in.Op == 0x80 || in.Op == 0x81 { // ld/ldx #len
			return true
		}
	}
	return false
}

// TestFilter_Tcpdump checks, for every expression of testdata/exprs.txt and
// every file of the shared corpus plus testdata/lt-*.pcap, that Match
// accepts exactly the packets tcpdump accepts, and that the program
// Compile returns gives the same verdicts under x/net/bpf's VM.
func TestFilter_Tcpdump(t *testing.T) {
	g := readGolden(t)
	filters := make([]*filter.Filter, len(g.exprs))
	for i, e := range g.exprs {
		f, err := filter.New(e)
		if err != nil {
			t.Fatalf("New(%q): %v", e, err)
		}
		filters[i] = f
	}
	var corpus string
	for _, name := range g.files {
		path := filepath.FromSlash(name)
		if !strings.HasPrefix(name, "testdata/") {
			if corpus == "" {
				corpus = testutil.SharedPcaps(t, "")
			}
			path = filepath.Join(corpus, path)
		}
		t.Run(name, func(t *testing.T) {
			pkts := readPackets(t, path)
			for i, f := range filters {
				want := g.want[name][i]
				var nums []int
				for n := range pkts {
					if f.Match(&pkts[n]) {
						nums = append(nums, n+1)
					}
				}
				got := ranges(nums)
				if want == "ERR" {
					// tcpdump refuses the expression for this link type, or
					// proved that it rejects everything.
					if _, err := f.Program(pkts[0].LinkType); err == nil && len(nums) > 0 {
						t.Errorf("%q: tcpdump rejects the expression, Match accepts %s", g.exprs[i], got)
					}
					continue
				}
				if got != want {
					t.Errorf("%q: Match accepts %s, tcpdump %s", g.exprs[i], got, want)
				}
				prog, err := filter.Compile(g.exprs[i], pkts[0].LinkType, 0)
				if err != nil {
					t.Errorf("%q: Compile: %v", g.exprs[i], err)
					continue
				}
				for n := range pkts {
					p := &pkts[n]
					if len(p.Data) < p.Length && usesLen(prog) {
						continue // x/net/bpf's len is the captured length
					}
					if m, x := f.Match(p), xnetMatch(t, prog, p); m != x {
						t.Errorf("%q packet %d: Match %v, x/net/bpf %v", g.exprs[i], n+1, m, x)
					}
				}
			}
		})
	}
}

func TestCompile_Errors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		pos  int
		tok  string
	}{
		{"tcp and prot", 8, "prot"},
		{"host 1.2.3.4 and port", 21, ""},
		{"port 80 or udp or 53", 18, "53"},
		{"(port 80) or 443", 13, "443"},
		{"host", 4, ""},
		{"tcp port", 8, ""},
		{"port 70000", 5, "70000"},
		{"port nosuchservice", 5, "nosuchservice"},
		{"portrange 1", 10, "1"},
		{"host example.com", 5, "example.com"},
		{"net 10.1.2.3/8", 4, "10.1.2.3"},
		{"net 10.0.0.0/33", 13, "33"},
		{"net 10.0.0.0 mask 255.0.255.0", 18, "255.0.255.0"},
		{"ip6 host 1.2.3.4", 9, "1.2.3.4"},
		{"ip host ::1", 8, "::1"},
		{"ip port 80", 8, "80"},
		{"tcp host 1.2.3.4", 9, "1.2.3.4"},
		{"vlan 5000", 5, "5000"},
		{"ip proto tcp", 9, "tcp"},
		{"ip proto 256", 9, "256"},
		{"(tcp", 4, ""},
		{"tcp)", 3, ")"},
		{"tcp[13] & 2 !=", 14, ""},
		{"tcp[13:3] = 1", 7, "3"},
		{"ip[0] / 0 = 1", 6, "/"},
		{"1.2.3.4", 0, "1.2.3.4"},
		{"not", 3, ""},
		{"tcp and", 7, ""},
		{"host 1.2.3.4 $", 13, "$"},
		{"src or dst", 10, ""},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := filter.Compile(tc.expr, capture.LinkEthernet, 0)
			var se *filter.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want *filter.SyntaxError", err, err)
			}
			if se.Pos != tc.pos || se.Token != tc.tok {
				t.Errorf("got %v (pos %d token %q), want pos %d token %q", err, se.Pos, se.Token, tc.pos, tc.tok)
			}
			if _, err := filter.New(tc.expr); err == nil {
				t.Errorf("New accepts it")
			}
		})
	}
	const want = `filter: unexpected "prot" at 8: expected primitive`
	if _, err := filter.Compile("tcp and prot", capture.LinkEthernet, 0); err == nil || err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
}

func TestCompile_LinkErrors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		link capture.LinkType
	}{
		{"vlan", capture.LinkLinuxSLL},
		{"ip or vlan 5", capture.LinkNull},
		{"ether host 1:2:3:4:5:6", capture.LinkRaw},
		{"ether broadcast", capture.LinkLinuxSLL2},
		{"tcp", capture.LinkType(147)},
	} {
		_, err := filter.Compile(tc.expr, tc.link, 0)
		var se *filter.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q, %v): %v, want *filter.SyntaxError", tc.expr, tc.link, err)
		}
	}
	// New accepts what some link type can express; Match rejects the others.
	f, err := filter.New("vlan")
	if err != nil {
		t.Fatal(err)
	}
	p := capture.Packet{LinkType: capture.LinkLinuxSLL, Data: make([]byte, 64), Length: 64}
	if f.Match(&p) {
		t.Error("vlan matches a Linux cooked frame")
	}
}

// TestCompile_Valid checks the programs of many expressions on every link
// type: valid for the kernel's checker (jumps forward and in range, ending
// in a return, scratch memory in range) and for x/net/bpf.
func TestCompile_Valid(t *testing.T) {
	exprs := []string{
		"", "tcp", "not tcp", "host 10.0.0.1 or 10.0.0.2 or 10.0.0.3",
		"src host 10.0.0.1 and dst net 192.168.0.0/16", "src or dst port 53", "src and dst port 53",
		"ip6 src net 2001:db8::/32", "portrange 1000-2000", "udp dst portrange 53-54",
		"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) != 0",
		"tcp[(tcp[12]>>4)*4] = 0x47", "ip[ip[0]&0xf] > 3", "len - 14 < 100", "-1 = 0xffffffff",
		"icmp6[icmp6type] = icmp6-echo", "arp[7] = 2", "ether[0] & 1 = 1", "ip proto \\gre",
		"host (10.0.0.1 or 10.0.0.2) and port (80 or 443)", "net 10 or net 172.16 or net 192.168.1",
		"greater 100 and less 1500", "vlan 10 and vlan 20 and host 10.0.0.1",
	}
	// A long expression needs far jumps.
	var long []string
	for i := range 100 {
		long = append(long, fmt.Sprintf("host 10.0.%d.%d", i/250, i%250))
	}
	exprs = append(exprs, strings.Join(long, " or "), "not ("+strings.Join(long, " or ")+") and tcp")
	links := []capture.LinkType{capture.LinkEthernet, capture.LinkLinuxSLL, capture.LinkLinuxSLL2,
		capture.LinkNull, capture.LinkLoop, capture.LinkRaw, capture.LinkIPv4, capture.LinkIPv6}
	for _, e := range exprs {
		for _, l := range links {
			prog, err := filter.Compile(e, l, 1500)
			if err != nil {
				var se *filter.SyntaxError
				if !errors.As(err, &se) || l == capture.LinkEthernet {
					t.Errorf("Compile(%q, %v): %v", e, l, err)
				}
				continue
			}
			if err := checkProgram(prog); err != nil {
				t.Errorf("Compile(%q, %v): %v", e, l, err)
			}
		}
	}
}

// checkProgram applies the rules of the kernel's classic BPF checker
// (sk_chk_filter) that a generator can get wrong.
func checkProgram(prog []bpf.RawInstruction) error {
	if len(prog) == 0 || len(prog) > 4096 {
		return fmt.Errorf("%d instructions", len(prog))
	}
	if _, ok := bpf.Disassemble(prog); !ok {
		return fmt.Errorf("does not disassemble")
	}
	for i, in := range prog {
		switch in.Op & 0x07 {
		case 0x05: // jmp
			if in.Op == 0x05 { // ja
				if uint64(i)+1+uint64(in.K) >= uint64(len(prog)) {
					return fmt.Errorf("instruction %d: ja out of range", i)
				}
			} else if i+1+int(in.Jt) >= len(prog) || i+1+int(in.Jf) >= len(prog) {
				return fmt.Errorf("instruction %d: jump out of range", i)
			}
		case 0x00, 0x01: // ld, ldx
			if in.Op&0xe0 == 0x60 && in.K >= 16 {
				return fmt.Errorf("instruction %d: scratch memory %d", i, in.K)
			}
		case 0x02, 0x03: // st, stx
			if in.K >= 16 {
				return fmt.Errorf("instruction %d: scratch memory %d", i, in.K)
			}
		case 0x04: // alu
			if (in.Op == 0x34 || in.Op == 0x94) && in.K == 0 {
				return fmt.Errorf("instruction %d: division by constant 0", i)
			}
		}
	}
	if last := prog[len(prog)-1]; last.Op&0x07 != 0x06 {
		return fmt.Errorf("does not end in a return")
	}
	if _, err := bpf.NewVM(mustDisassemble(prog)); err != nil {
		return fmt.Errorf("x/net/bpf: %v", err)
	}
	return nil
}

func mustDisassemble(prog []bpf.RawInstruction) []bpf.Instruction {
	insts, _ := bpf.Disassemble(prog)
	return insts
}

func TestCompile_Snaplen(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, 262144}, {-1, 262144}, {96, 96}, {65535, 65535}} {
		prog, err := filter.Compile("", capture.LinkEthernet, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if len(prog) != 1 || prog[0].Op != 0x06 || prog[0].K != uint32(tc.want) {
			t.Errorf("snaplen %d: %v, want ret #%d", tc.in, prog, tc.want)
		}
	}
}

func TestFilter_MatchAllocs(t *testing.T) {
	pkts := readPackets(t, filepath.Join("testdata", "lt-vlan.pcap"))
	f, err := filter.New("vlan and (tcp port 80 or udp) and not host 10.9.9.9 or tcp[tcpflags] & tcp-syn != 0")
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		f.Match(&pkts[i%len(pkts)])
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocs per Match, want 0", allocs)
	}
}

func BenchmarkMatch(b *testing.B) {
	for _, tc := range []struct{ name, expr string }{
		{"tcp", "tcp"},
		{"host", "host 192.168.1.4 or host 10.8.8.8"},
		{"port", "tcp port 80 or udp port 53"},
		{"complex", "(tcp or udp) and not (port 80 or port 443 or port 53) and net 10.0.0.0/8"},
		{"tcpflags", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := filter.New(tc.expr)
			if err != nil {
				b.Fatal(err)
			}
			pkts := readPackets(b, filepath.Join("testdata", "lt-ether.pcap"))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f.Match(&pkts[i])
				if i++; i == len(pkts) {
					i = 0
				}
			}
		})
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"tcp", "host 10.0.0.1 or 10.0.0.2", "vlan 5 and tcp port 80", "tcp[tcpflags] & tcp-syn != 0",
		"not (ip6 and src net fe80::/10)", "ip[ip[0]&0xf:2] > len - 4", "portrange 1-1023 and less 100",
		"ether host 00:0c:29:9a:6f:0a", "net 10.0.0.0 mask 255.0.0.0", "proto \\tcp", "(((((tcp)))))",
	} {
		f.Add(s, uint16(1))
	}
	pkt := readPackets(f, filepath.Join("testdata", "lt-vlan.pcap"))
	f.Fuzz(func(t *testing.T, expr string, link uint16) {
		lt := capture.LinkType(link)
		prog, err := filter.Compile(expr, lt, 0)
		if err != nil {
			var se *filter.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want *filter.SyntaxError", err, err)
			}
			return
		}
		if err := checkProgram(prog); err != nil {
			t.Fatalf("Compile(%q, %v): %v", expr, lt, err)
		}
		if fl, err := filter.New(expr); err == nil {
			for i := range pkt {
				fl.Match(&pkt[i])
			}
		}
	})
}

func TestCompile_Deep(t *testing.T) {
	for _, e := range []string{
		strings.Repeat("(", 100000) + "tcp" + strings.Repeat(")", 100000),
		strings.Repeat("not ", 100000) + "tcp",
		strings.Repeat("-", 100000) + "1 = 1",
		"ip[" + strings.Repeat("ip[", 10000) + "0" + strings.Repeat("]", 10001) + " = 1",
	} {
		_, err := filter.Compile(e, capture.LinkEthernet, 0)
		var se *filter.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%.20s...: %v, want *filter.SyntaxError", e, err)
		}
	}
	// Moderate nesting is fine.
	if _, err := filter.Compile(strings.Repeat("(", 50)+"tcp"+strings.Repeat(")", 50), capture.LinkEthernet, 0); err != nil {
		t.Error(err)
	}
}
