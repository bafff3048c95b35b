package store

import (
	"context"
	"database/sql"
	"net/netip"
	"strings"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// The record columns the Aggregator reads, in the order replay scans them.
const (
	replayL4 = `batch_seq, flow_id, start_time, end_time, ip_0, ip_1, client_port, server_port, protocol, l7_protocol,
		close_type, snapshot, packet_tx, packet_rx, byte_tx, byte_rx, l4_byte_tx, l4_byte_rx, rtt, rtt_client, rtt_server,
		srt_max, srt_sum, srt_count, art_max, art_sum, art_count, retrans_tx, retrans_rx, zero_win_tx, zero_win_rx,
		ooo_tx, ooo_rx, syn_count, synack_count, retrans_syn, retrans_synack, l7_request, l7_response`
	replayL7 = `batch_seq, flow_id, start_time, end_time, ip_0, ip_1, client_port, server_port, protocol, l7_protocol,
		has_request, has_response, endpoint, response_status`
)

// replayCursor reads the rows of one record table after a batch, in the
// order they were counted (batch, then row).
type replayCursor struct {
	rows *sql.Rows
	seq  uint64
	ok   bool
	err  error
	dst  []any
	ids  []uint32
}

func (s *Store) openReplay(ctx context.Context, table, cols string, after uint64, dst []any) (*replayCursor, error) {
	var b strings.Builder
	b.WriteString("SELECT " + cols)
	for _, k := range s.keys {
		b.WriteString(", " + k + "_id_0, " + k + "_id_1")
	}
	b.WriteString(" FROM " + table + " WHERE batch_seq > ? ORDER BY batch_seq, rowid")
	rows, err := s.db.QueryContext(ctx, b.String(), after)
	if err != nil {
		return nil, err
	}
	c := &replayCursor{rows: rows, ids: make([]uint32, 2*len(s.keys))}
	c.dst = append([]any{&c.seq}, dst...)
	for i := range c.ids {
		c.dst = append(c.dst, &c.ids[i])
	}
	c.next()
	return c, nil
}

func (c *replayCursor) next() {
	c.ok = c.rows.Next()
	if !c.ok {
		c.err = c.rows.Err()
		return
	}
	if err := c.rows.Scan(c.dst...); err != nil {
		c.ok, c.err = false, err
	}
}

// tags packs the row's tag ids as countBatch does.
func (c *replayCursor) tags(m *metrics, ts *tag.Set) {
	m.clearBuf(len(c.ids) / 2)
	for i, id := range c.ids {
		m.putID(tag.Side(i&1), i/2, id)
	}
	m.setTags(ts)
}

func addrOf(s sql.NullString) netip.Addr {
	if !s.Valid {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(s.String)
	return a
}

// replayMetrics counts the records of the batches after seq into the
// Aggregator, in the order they were counted when stored: each batch's
// l4_flow_log rows, then its l7_flow_log rows.
func (s *Store) replayMetrics(ctx context.Context, after uint64) error {
	m := &s.m
	var (
		r4                                                     flow.Record
		ip40, ip41                                             sql.NullString
		cport4, sport4, proto4, close4, snap4                  uint64
		rtt, rttC, rttS                                        sql.Null[uint64]
		srtMax, srtSum, srtCnt, artMax, artSum, artCnt         uint64
		rtx, rrx, zwtx, zwrx, ootx, oorx, syn, synack, rs, rsa uint64
		l7req, l7resp                                          uint64
		start4, end4, start7, end7                             int64
		flow4, flow7                                           uint64
		r7                                                     l7.Record
		ip70, ip71                                             sql.NullString
		cport7, sport7, proto7, hasReq, hasResp                uint64
		l7p7, ep                                               string
		status                                                 sql.Null[uint64]
	)
	c4, err := s.openReplay(ctx, "l4_flow_log", replayL4, after, []any{&flow4, &start4, &end4, &ip40, &ip41, &cport4, &sport4, &proto4, &r4.L7Protocol,
		&close4, &snap4, &r4.PacketTx, &r4.PacketRx, &r4.ByteTx, &r4.ByteRx, &r4.L4ByteTx, &r4.L4ByteRx, &rtt, &rttC, &rttS,
		&srtMax, &srtSum, &srtCnt, &artMax, &artSum, &artCnt, &rtx, &rrx, &zwtx, &zwrx, &ootx, &oorx, &syn, &synack, &rs, &rsa, &l7req, &l7resp})
	if err != nil {
		return err
	}
	defer c4.rows.Close()
	c7, err := s.openReplay(ctx, "l7_flow_log", replayL7, after, []any{&flow7, &start7, &end7, &ip70, &ip71, &cport7, &sport7, &proto7, &l7p7,
		&hasReq, &hasResp, &ep, &status})
	if err != nil {
		return err
	}
	defer c7.rows.Close()
	last := after
	n := uint64(0)
	for c4.ok || c7.ok {
		if c4.ok && (!c7.ok || c4.seq <= c7.seq) {
			l7p := r4.L7Protocol
			tags := r4.Tags
			r4 = flow.Record{Tags: tags, L7Protocol: l7p, PacketTx: r4.PacketTx, PacketRx: r4.PacketRx, ByteTx: r4.ByteTx, ByteRx: r4.ByteRx,
				L4ByteTx: r4.L4ByteTx, L4ByteRx: r4.L4ByteRx}
			r4.FlowID, r4.StartTime, r4.EndTime = flow4, start4, end4
			r4.Duration = end4 - start4
			r4.IP0, r4.IP1 = addrOf(ip40), addrOf(ip41)
			r4.ClientPort, r4.ServerPort, r4.Protocol = uint16(cport4), uint16(sport4), uint8(proto4)
			r4.CloseType, r4.Snapshot = flow.CloseType(close4), snap4 != 0
			r4.RTT, r4.HasRTT = uint32(rtt.V), rtt.Valid
			r4.RTTClient, r4.HasRTTClient = uint32(rttC.V), rttC.Valid
			r4.RTTServer, r4.HasRTTServer = uint32(rttS.V), rttS.Valid
			r4.SRTMax, r4.SRTSum, r4.SRTCount = uint32(srtMax), uint32(srtSum), uint32(srtCnt)
			r4.ARTMax, r4.ARTSum, r4.ARTCount = uint32(artMax), uint32(artSum), uint32(artCnt)
			r4.RetransTx, r4.RetransRx = uint32(rtx), uint32(rrx)
			r4.ZeroWinTx, r4.ZeroWinRx = uint32(zwtx), uint32(zwrx)
			r4.OOOTx, r4.OOORx = uint32(ootx), uint32(oorx)
			r4.SynCount, r4.SynAckCount = uint32(syn), uint32(synack)
			r4.RetransSyn, r4.RetransSynAck = uint32(rs), uint32(rsa)
			r4.L7Request, r4.L7Response = uint32(l7req), uint32(l7resp)
			c4.tags(m, &r4.Tags)
			m.writeL4(&r4)
			if c4.seq != last {
				last = c4.seq
				m.pending++
			}
			n++
			c4.next()
			continue
		}
		tags := r7.Tags
		r7 = l7.Record{Tags: tags}
		r7.FlowID, r7.StartTime, r7.EndTime = flow7, start7, end7
		r7.Client = netip.AddrPortFrom(addrOf(ip70), uint16(cport7))
		r7.Server = netip.AddrPortFrom(addrOf(ip71), uint16(sport7))
		r7.Transport = l7.Transport(proto7)
		r7.L7Protocol = l7p7
		r7.HasRequest, r7.HasResponse = hasReq != 0, hasResp != 0
		if ep != "" {
			r7.Endpoint = []byte(ep)
		}
		r7.Status, r7.HasStatus = l7.Status(status.V), status.Valid
		c7.tags(m, &r7.Tags)
		m.writeL7(&r7)
		if c7.seq != last {
			last = c7.seq
			m.pending++
		}
		n++
		c7.next()
	}
	if c4.err != nil {
		return c4.err
	}
	if c7.err != nil {
		return c7.err
	}
	if last > m.seq {
		m.seq = last
	}
	s.stats.Metrics.Replayed += n
	s.stats.Metrics.Pending = m.pending
	return nil
}
