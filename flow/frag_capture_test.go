package flow

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

// TestTable_FragmentsCapture replays captures with fragmented datagrams and
// checks that every fragment lands on a flow or is counted as unmatched.
// The fragments without ports are what tshark shows as IP fragments that carry
// no TCP/UDP header: -Y '(ip.flags.mf == True or ip.frag_offset > 0 or
// ipv6.fraghdr) and not udp and not tcp'.
func TestTable_FragmentsCapture(t *testing.T) {
	dir := testutil.SharedPcaps(t, "dns")
	for _, tc := range []struct {
		file               string
		matched, unmatched uint64
	}{
		// 7 datagrams of 2 fragments: the first has no ports, the second
		// completes the datagram.
		{"ndpi_dns_fragmented.pcap", 7, 0},
		// 3 port-less fragments; one (frame 4, ident 1) is the last
		// fragment of a datagram whose other fragments were not captured,
		// so no flow can claim it.
		{"zeek_ipv6-fragmented-dns.pcap", 2, 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s absent", path)
			}
			var pkts uint64
			tab := NewTable(Config{Timeouts: noTimeouts, OnRecord: func(r *Record) { pkts += r.PacketTx + r.PacketRx }})
			fed := replay(t, path, tab, nil)
			tab.Flush()
			st := tab.Stats()
			if st.FragMatched != tc.matched || st.FragUnmatched != tc.unmatched {
				t.Errorf("fragments matched %d unmatched %d, want %d and %d", st.FragMatched, st.FragUnmatched, tc.matched, tc.unmatched)
			}
			if pkts != st.Counted || st.Counted+st.NotL4+st.FragUnmatched != uint64(fed) {
				t.Errorf("records hold %d packets; stats %+v; fed %d", pkts, st, fed)
			}
		})
	}
}
