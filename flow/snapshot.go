package flow

// Snapshots: periodic records of live flows (Config.SnapshotInterval).

// Snapshotter is implemented by a Handler that fills the L7 fields of
// snapshot records too (optional).
type Snapshotter interface {
	// Snapshot fills r's L7 fields for the period since f's previous
	// record. f stays open.
	Snapshot(f *Flow, r *Record)
}

// snapshot reports every live flow and restarts its period counters.
func (t *Table) snapshot() {
	for s := uint32(0); s < t.nslots; s++ {
		f := t.flow(s)
		if f.flags&fLive == 0 {
			continue
		}
		r := &t.rec
		t.fill(r, f, CloseForcedReport)
		r.Snapshot = true
		if sn, ok := t.cfg.Handler.(Snapshotter); ok {
			sn.Snapshot(f, r)
		}
		t.stats.Snapshots++
		if t.cfg.OnRecord != nil {
			t.cfg.OnRecord(r)
		}
		// The next record covers the next period only.
		f.peers = [2]peer{}
		f.pkts = [2]uint32{}
		f.flags &^= fRetransSynSat | fRetransSynAckSat
		f.artMax, f.artSum, f.artCount = 0, 0, 0
		if f.tcp != nilSlot {
			s := t.tcpAt(f.tcp - 1)
			for d := range s.peers {
				p := &s.peers[d]
				p.retrans, p.ooo, p.zeroWin = 0, 0, 0
			}
			s.syn, s.synAck, s.fin = 0, 0, 0
			s.srtMax, s.srtSum, s.srtCount = 0, 0, 0
		}
	}
}
