package flow

import (
	"testing"
	"time"
)

// TestTable_TimingDefinitions works through the situations where TCP timing
// and counters depend on definitions, with DeepFlow's definitions (see
// timing.go and Table.seq). Each expected value is derived by hand in the
// comment beside it; times are relative to the first packet, in µs.
func TestTable_TimingDefinitions(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	type want struct {
		rttSrv, rttCli, rtt          int // -1: absent
		srtCount, artCount           uint32
		artMax                       uint32
		retransTx, retransRx         uint32
		retransSyn, retransSynAck    uint32
		zeroWinTx, zeroWinRx, finCnt uint32
	}
	tests := []struct {
		name string
		run  func(c *conn)
		want want
	}{
		{"retransmitted SYN", func(c *conn) {
			// SYN@0, SYN again@1s, SYN-ACK@1s+100, ACK@1s+400.
			// rtt_server = SYN-ACK - first SYN = 1000100; rtt_client =
			// ACK - SYN-ACK = 300; rtt = ACK - first SYN = 1000400. The
			// second SYN is a retransmission (retrans_tx and retrans_syn).
			c.send(0, fS, 0).after(time.Second)
			c.resend(0, fS, c.seq[0]-1, 0).after(us(100))
			c.send(1, fS|fA, 0).after(us(300))
			c.send(0, fA, 0)
		}, want{rttSrv: 1000100, rttCli: 300, rtt: 1000400, retransTx: 1, retransSyn: 1}},
		{"SYN-ACK retransmitted before the ACK", func(c *conn) {
			// SYN@0, SYN-ACK@100, SYN-ACK again@1s+100, ACK@1s+400.
			// rtt_server = latest SYN-ACK - first SYN = 1000100;
			// rtt_client = ACK - first SYN-ACK = 1000300; rtt = 1000400
			// (not rtt_server + rtt_client: DeepFlow's rtt is ACK - SYN).
			c.send(0, fS, 0).after(us(100))
			c.send(1, fS|fA, 0).after(time.Second)
			c.resend(1, fS|fA, c.seq[1]-1, 0).after(us(300))
			c.send(0, fA, 0)
		}, want{rttSrv: 1000100, rttCli: 1000300, rtt: 1000400, retransRx: 1, retransSynAck: 1}},
		{"SYN-ACK retransmitted after the handshake", func(c *conn) {
			// SYN@0, SYN-ACK@100, ACK@400, then 2 s later the SYN-ACK
			// again: a retransmission that changes no RTT (rtt_server 100,
			// rtt_client 300, rtt 400).
			c.handshake().after(2 * time.Second)
			c.resend(1, fS|fA, c.seq[1]-1, 0)
		}, want{rttSrv: 100, rttCli: 300, rtt: 400, retransRx: 1, retransSynAck: 1}},
		{"lost handshake ACK", func(c *conn) {
			// SYN@0, SYN-ACK@100, then the client's request@5000 (its ACK
			// was lost before the capture point): rtt_server 100; the
			// data's time includes the client's own wait, so neither
			// rtt_client nor rtt.
			c.send(0, fS, 0).after(us(100))
			c.send(1, fS|fA, 0).after(us(4900))
			c.send(0, fP|fA, 50).after(us(700))
			c.send(1, fP|fA, 80)
		}, want{rttSrv: 100, rttCli: -1, rtt: -1, artCount: 1, artMax: 700}},
		{"handshake out of order", func(c *conn) {
			// The capture saw the SYN-ACK@0 before the SYN@10, then the
			// ACK@300: the handshake is not seen in order from a SYN, so
			// no RTT at all.
			c.seq[0]++ // the SYN-ACK acknowledges the SYN not yet seen
			c.send(1, fS|fA, 0).after(us(10))
			c.resend(0, fS, c.seq[0]-1, 0).after(us(290))
			c.send(0, fA, 0)
		}, want{rttSrv: -1, rttCli: -1, rtt: -1}},
		{"keep-alive exchange with server data missing", func(c *conn) {
			// Request 1@400, reply 1@1400 (ART 1000). Request 2@2400; the
			// capture missed the server's first 100 bytes of reply 2, so
			// its next segment@2900 does not follow the server's previous
			// one in sequence: no ART sample for it.
			c.handshake().after(time.Millisecond)
			c.send(0, fP|fA, 40).after(time.Millisecond)
			c.send(1, fP|fA, 100).after(time.Millisecond)
			c.send(0, fP|fA, 40).after(us(500))
			c.seq[1] += 100 // missed
			c.send(1, fP|fA, 100)
		}, want{rttSrv: 100, rttCli: 300, rtt: 400, artCount: 1, artMax: 1000}},
		{"client ACK between request and reply", func(c *conn) {
			// Request@400; the server acknowledges it@600 (SRT 200); the
			// client sends a pure ACK@800 (acknowledging nothing new); the
			// reply@1400 then measures more than the server: no ART.
			c.handshake().after(time.Millisecond)
			c.send(0, fP|fA, 40).after(us(200))
			c.send(1, fA, 0).after(us(200))
			c.send(0, fA, 0).after(us(600))
			c.send(1, fP|fA, 100)
		}, want{rttSrv: 100, rttCli: 300, rtt: 400, srtCount: 1}},
		{"repeated bare FIN", func(c *conn) {
			// The client's FIN is sent twice: not a retransmission (no
			// payload), though both FINs count in fin_count, with the
			// server's: 3.
			c.handshake().after(time.Millisecond)
			c.send(0, fF|fA, 0).after(time.Millisecond)
			c.resend(0, fF|fA, c.seq[0]-1, 0).after(time.Millisecond)
			c.send(1, fF|fA, 0).send(0, fA, 0)
		}, want{rttSrv: 100, rttCli: 300, rtt: 400, finCnt: 3}},
		{"one-byte retransmission", func(c *conn) {
			// A one-byte segment sent twice (e.g. a telnet keystroke) is
			// not counted; a 10-byte one sent twice is.
			c.handshake().after(time.Millisecond)
			c.send(0, fP|fA, 1).after(time.Second)
			c.resend(0, fP|fA, c.seq[0]-1, 1).after(time.Millisecond)
			c.send(0, fP|fA, 10).after(time.Second)
			c.resend(0, fP|fA, c.seq[0]-10, 10)
		}, want{rttSrv: 100, rttCli: 300, rtt: 400, retransTx: 1}},
		{"zero window on the SYN-ACK", func(c *conn) {
			// The server's SYN-ACK advertises window 0, then it opens:
			// one zero window from the server (tshark's zero_window leaves
			// SYNs out and says 0).
			c.send(0, fS, 0).after(us(100))
			c.win[1] = 0
			c.send(1, fS|fA, 0).after(us(300))
			c.win[1] = 65535
			c.send(0, fA, 0)
		}, want{rttSrv: 100, rttCli: 300, rtt: 400, zeroWinRx: 1}},
		{"sequence wrap", func(c *conn) {
			// The client's sequence runs across 2^32. Its ISN is 2^32-251:
			// after the SYN, 100 bytes end at 2^32-150; the next 200 bytes
			// cross the wrap (end 50). Sent again, the crossing segment is
			// not counted (DeepFlow ignores segments across the wrap); nor
			// is the first one sent again afterwards (from the top quarter
			// while the sequence ends in the bottom one). 100 bytes after
			// the wrap sent twice are: retrans_tx 1.
			c.seq[0] = 1<<32 - 251
			c.handshake().after(time.Millisecond)
			first := c.seq[0]
			c.send(0, fA, 100).after(time.Millisecond)
			cross := c.seq[0]
			c.send(0, fA, 200).after(time.Second)
			c.resend(0, fA, cross, 200).after(time.Millisecond)
			c.resend(0, fA, first, 100).after(time.Millisecond)
			c.send(0, fP|fA, 100).after(time.Second)
			c.resend(0, fP|fA, c.seq[0]-100, 100)
		}, want{rttSrv: 100, rttCli: 300, rtt: 400, retransTx: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var col collector
			tab := col.table(Config{})
			c := newConn(t, tab)
			tc.run(c)
			tab.Flush()
			r := col.one(t)
			w := tc.want
			rtt := func(name string, v uint32, has bool, want int) {
				if want < 0 && has {
					t.Errorf("%s %d, want none", name, v)
				}
				if want >= 0 && (!has || int(v) != want) {
					t.Errorf("%s %d (valid %v), want %d", name, v, has, want)
				}
			}
			rtt("rtt_server", r.RTTServer, r.HasRTTServer, w.rttSrv)
			rtt("rtt_client", r.RTTClient, r.HasRTTClient, w.rttCli)
			rtt("rtt", r.RTT, r.HasRTT, w.rtt)
			if r.SRTCount != w.srtCount || r.ARTCount != w.artCount || r.ARTMax != w.artMax {
				t.Errorf("srt count %d art count %d max %d, want %d %d %d",
					r.SRTCount, r.ARTCount, r.ARTMax, w.srtCount, w.artCount, w.artMax)
			}
			if r.RetransTx != w.retransTx || r.RetransRx != w.retransRx ||
				r.RetransSyn != w.retransSyn || r.RetransSynAck != w.retransSynAck {
				t.Errorf("retrans tx %d rx %d syn %d synack %d, want %d %d %d %d",
					r.RetransTx, r.RetransRx, r.RetransSyn, r.RetransSynAck,
					w.retransTx, w.retransRx, w.retransSyn, w.retransSynAck)
			}
			if r.ZeroWinTx != w.zeroWinTx || r.ZeroWinRx != w.zeroWinRx {
				t.Errorf("zero win %d/%d, want %d/%d", r.ZeroWinTx, r.ZeroWinRx, w.zeroWinTx, w.zeroWinRx)
			}
			if w.finCnt != 0 && r.FinCount != w.finCnt {
				t.Errorf("fin count %d, want %d", r.FinCount, w.finCnt)
			}
		})
	}
}
