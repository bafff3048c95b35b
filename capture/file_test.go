package capture_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// --- hand-built files --------------------------------------------------------

// ftOrder is a byte order that can append.
type ftOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// ftRec is one packet record of a hand-built file.
type ftRec struct {
	iface int    // pcapng interface
	sec   uint32 // pcap seconds
	frac  uint32 // pcap µs or ns
	ts    uint64 // pcapng timestamp in interface units
	data  []byte
	orig  uint32 // 0 = len(data)
}

func (r ftRec) origLen() uint32 {
	if r.orig == 0 {
		return uint32(len(r.data))
	}
	return r.orig
}

// ftPcap builds a classic pcap file.
func ftPcap(order ftOrder, magic uint32, link uint32, recs ...ftRec) []byte {
	var b []byte
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0) // thiszone
	b = order.AppendUint32(b, 0) // sigfigs
	b = order.AppendUint32(b, 65535)
	b = order.AppendUint32(b, link)
	for _, r := range recs {
		b = order.AppendUint32(b, r.sec)
		b = order.AppendUint32(b, r.frac)
		b = order.AppendUint32(b, uint32(len(r.data)))
		b = order.AppendUint32(b, r.origLen())
		if magic == 0xa1b2cd34 {
			b = append(b, 1, 0, 0, 0, 0x08, 0x00, 4, 0) // ifindex, protocol, pkt_type, pad
		}
		b = append(b, r.data...)
	}
	return b
}

// ftNG builds pcapng files block by block.
type ftNG struct {
	order ftOrder
	b     []byte
	ends  []int // where each block ends
}

func ftPad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (w *ftNG) block(btype uint32, body []byte) {
	body = ftPad4(body)
	n := uint32(12 + len(body))
	w.b = w.order.AppendUint32(w.b, btype)
	w.b = w.order.AppendUint32(w.b, n)
	w.b = append(w.b, body...)
	w.b = w.order.AppendUint32(w.b, n)
	w.ends = append(w.ends, len(w.b))
}

func (w *ftNG) option(b []byte, code uint16, v []byte) []byte {
	b = w.order.AppendUint16(b, code)
	b = w.order.AppendUint16(b, uint16(len(v)))
	return ftPad4(append(b, v...))
}

func (w *ftNG) shb() {
	var body []byte
	body = w.order.AppendUint32(body, 0x1a2b3c4d)
	body = w.order.AppendUint16(body, 1)
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint64(body, ^uint64(0))
	body = w.option(body, 4, []byte("metaflow test")) // shb_userappl
	body = w.option(body, 0, nil)
	w.block(0x0a0d0d0a, body)
}

// idb adds an interface; tsresol < 0 omits if_tsresol, tsoffset 0 omits
// if_tsoffset.
func (w *ftNG) idb(link uint16, snaplen uint32, tsresol int, tsoffset int64) {
	var body []byte
	body = w.order.AppendUint16(body, link)
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint32(body, snaplen)
	body = w.option(body, 2, []byte("eth0")) // if_name
	if tsresol >= 0 {
		body = w.option(body, 9, []byte{byte(tsresol)})
	}
	if tsoffset != 0 {
		body = w.option(body, 14, w.order.AppendUint64(nil, uint64(tsoffset)))
	}
	body = w.option(body, 0, nil)
	w.block(1, body)
}

func (w *ftNG) epb(r ftRec) {
	var body []byte
	body = w.order.AppendUint32(body, uint32(r.iface))
	body = w.order.AppendUint32(body, uint32(r.ts>>32))
	body = w.order.AppendUint32(body, uint32(r.ts))
	body = w.order.AppendUint32(body, uint32(len(r.data)))
	body = w.order.AppendUint32(body, r.origLen())
	body = ftPad4(append(body, r.data...))
	body = w.option(body, 1, []byte("a comment")) // opt_comment
	body = w.option(body, 0, nil)
	w.block(6, body)
}

func (w *ftNG) pb(r ftRec) {
	var body []byte
	body = w.order.AppendUint16(body, uint16(r.iface))
	body = w.order.AppendUint16(body, 7) // drops
	body = w.order.AppendUint32(body, uint32(r.ts>>32))
	body = w.order.AppendUint32(body, uint32(r.ts))
	body = w.order.AppendUint32(body, uint32(len(r.data)))
	body = w.order.AppendUint32(body, r.origLen())
	body = append(body, r.data...)
	w.block(2, body)
}

func (w *ftNG) spb(orig uint32, data []byte) {
	body := w.order.AppendUint32(nil, orig)
	w.block(3, append(body, data...))
}

// skippable blocks: name resolution, interface statistics, decryption
// secrets, custom.
func (w *ftNG) others() {
	var nrb []byte
	nrb = w.order.AppendUint16(nrb, 1)
	nrb = w.order.AppendUint16(nrb, 8)
	nrb = append(nrb, 10, 0, 0, 1, 'a', '.', 'b', 0)
	nrb = w.order.AppendUint32(nrb, 0)
	w.block(4, nrb)
	w.block(5, make([]byte, 20))                                                    // ISB
	w.block(10, append(w.order.AppendUint32(nil, 0x544c534b), make([]byte, 12)...)) // DSB
	w.block(0x00000bad, []byte{0, 0, 0x7e, 0xd9, 'x'})                              // custom, copiable
	w.block(0x40000bad, []byte{0, 0, 0x7e, 0xd9})                                   // custom, not copiable
}

// frame returns a distinct packet of n bytes.
func ftFrame(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

type ftWant struct {
	ts     time.Time
	data   []byte
	length int
	link   capture.LinkType
	iface  int
}

// ftReadAll reads every packet and the final error, copying the data.
func ftReadAll(t *testing.T, s capture.Source) ([]capture.Packet, error) {
	t.Helper()
	var out []capture.Packet
	for {
		var p capture.Packet
		if err := s.ReadPacket(&p); err != nil {
			return out, err
		}
		p.Data = bytes.Clone(p.Data)
		out = append(out, p)
	}
}

func ftCheck(t *testing.T, got []capture.Packet, wants []ftWant) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d packets, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		g := got[i]
		if !g.Timestamp.Equal(w.ts) {
			t.Errorf("packet %d: timestamp %v (%d ns), want %v (%d ns)", i, g.Timestamp.UTC(), g.Timestamp.UnixNano(), w.ts.UTC(), w.ts.UnixNano())
		}
		if !bytes.Equal(g.Data, w.data) {
			t.Errorf("packet %d: data % x, want % x", i, g.Data, w.data)
		}
		if g.Length != w.length || g.LinkType != w.link || g.Interface != w.iface {
			t.Errorf("packet %d: length %d link %v iface %d, want %d %v %d", i, g.Length, g.LinkType, g.Interface, w.length, w.link, w.iface)
		}
	}
}

func TestFileSource_Pcap(t *testing.T) {
	d1, d2, d3 := ftFrame(60, 1), ftFrame(1514, 2), ftFrame(14, 3)
	recs := []ftRec{
		{sec: 1700000000, frac: 123456, data: d1},
		{sec: 1700000001, frac: 999999, data: d2, orig: 9000}, // snaplen-truncated
		{sec: 0, frac: 0, data: d3, orig: 4},                  // orig < caplen: caplen wins
	}
	for _, tc := range []struct {
		name  string
		order ftOrder
		magic uint32
		link  uint32
		mult  int64 // ns per frac unit
	}{
		{"usec-le", binary.LittleEndian, 0xa1b2c3d4, 1, 1000},
		{"usec-be", binary.BigEndian, 0xa1b2c3d4, 113, 1000},
		{"nsec-le", binary.LittleEndian, 0xa1b23c4d, 101, 1},
		{"nsec-be", binary.BigEndian, 0xa1b23c4d, 0, 1},
		{"modified-le", binary.LittleEndian, 0xa1b2cd34, 1, 1000},
		{"modified-be", binary.BigEndian, 0xa1b2cd34, 276, 1000},
		{"fcs-bits-in-linktype", binary.LittleEndian, 0xa1b2c3d4, 0x14000000 | 1, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := ftPcap(tc.order, tc.magic, tc.link, recs...)
			s, err := capture.NewFileSource(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			link := capture.LinkType(tc.link & 0xffff)
			if s.LinkType() != link {
				t.Errorf("LinkType() = %v, want %v", s.LinkType(), link)
			}
			got, err := ftReadAll(t, s)
			if err != io.EOF {
				t.Fatalf("end: %v, want io.EOF", err)
			}
			var wants []ftWant
			for _, r := range recs {
				wants = append(wants, ftWant{
					ts:     time.Unix(int64(r.sec), int64(r.frac)*tc.mult),
					data:   r.data,
					length: max(len(r.data), int(r.origLen())),
					link:   link,
				})
			}
			ftCheck(t, got, wants)
			st := s.Stats()
			if st.Packets != 3 || st.Bytes != uint64(len(d1)+len(d2)+len(d3)) || st.Truncated != 1 || st.Errors != 0 {
				t.Errorf("stats %+v", st)
			}
			if err := s.ReadPacket(&capture.Packet{}); err != io.EOF {
				t.Errorf("after EOF: %v", err)
			}
		})
	}
}

func TestFileSource_Pcapng(t *testing.T) {
	for _, order := range []ftOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(order.String(), func(t *testing.T) {
			w := &ftNG{order: order}
			d := func(i int) []byte { return ftFrame(40+i, byte(i)) }
			var wants []ftWant
			w.shb()
			w.idb(1, 0, -1, 0)        // 0: Ethernet, default µs
			w.idb(113, 128, 9, 0)     // 1: SLL, ns
			w.idb(101, 0, 0x80|20, 0) // 2: raw, 2^-20 s
			w.idb(0, 0, 3, -3600)     // 3: NULL, ms, offset -1 h
			w.others()
			w.epb(ftRec{iface: 0, ts: 1700000000_123456, data: d(0)})
			wants = append(wants, ftWant{time.Unix(1700000000, 123456000), d(0), 40, capture.LinkEthernet, 0})
			w.epb(ftRec{iface: 1, ts: 1700000000_123456789, data: d(1), orig: 1500})
			wants = append(wants, ftWant{time.Unix(1700000000, 123456789), d(1), 1500, capture.LinkLinuxSLL, 1})
			// 2^20 units per second: 3.5 s + 1 unit = 3 s + 500000953 ns (truncated).
			w.epb(ftRec{iface: 2, ts: 3<<20 | 1<<19 | 1, data: d(2)})
			wants = append(wants, ftWant{time.Unix(3, 500000953), d(2), 42, capture.LinkRaw, 2})
			w.epb(ftRec{iface: 3, ts: 1700003600_250, data: d(3)})
			wants = append(wants, ftWant{time.Unix(1700000000, 250e6), d(3), 43, capture.LinkNull, 3})
			w.pb(ftRec{iface: 1, ts: 5_000000001, data: d(4)})
			wants = append(wants, ftWant{time.Unix(5, 1), d(4), 44, capture.LinkLinuxSLL, 1})
			w.spb(45, d(5))
			wants = append(wants, ftWant{time.Time{}, d(5), 45, capture.LinkEthernet, 0})
			w.others()
			// A second section in the other byte order, with fresh interfaces.
			other := ftOrder(binary.BigEndian)
			if order == binary.BigEndian {
				other = binary.LittleEndian
			}
			w2 := &ftNG{order: other, b: w.b}
			w2.shb()
			w2.idb(276, 100, 6, 0) // SLL2 with snaplen 100
			w2.epb(ftRec{iface: 0, ts: 42_000001, data: d(6)})
			wants = append(wants, ftWant{time.Unix(42, 1000), d(6), 46, capture.LinkLinuxSLL2, 0})
			// A simple packet block is cut at the snapshot length.
			w2.spb(300, ftFrame(100, 9))
			wants = append(wants, ftWant{time.Time{}, ftFrame(100, 9), 300, capture.LinkLinuxSLL2, 0})

			s, err := capture.NewFileSource(bytes.NewReader(w2.b))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ftReadAll(t, s)
			if err != io.EOF {
				t.Fatalf("end: %v, want io.EOF", err)
			}
			ftCheck(t, got, wants)
			if st := s.Stats(); st.Packets != uint64(len(wants)) || st.Truncated != 2 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestFileSource_Errors(t *testing.T) {
	le := binary.LittleEndian
	good := ftPcap(le, 0xa1b2c3d4, 1, ftRec{data: ftFrame(60, 0)}, ftRec{data: ftFrame(60, 1)})
	huge := ftPcap(le, 0xa1b2c3d4, 1, ftRec{data: ftFrame(60, 0)})
	huge = le.AppendUint32(huge, 0)
	huge = le.AppendUint32(huge, 0)
	huge = le.AppendUint32(huge, 1<<30) // caplen 1 GiB
	huge = le.AppendUint32(huge, 1<<30)

	// ng returns a pcapng file of a section header, an interface and what
	// f adds, and the offset where f's first block starts.
	var ngStart int64
	ng := func(f func(w *ftNG)) []byte {
		w := &ftNG{order: le}
		w.shb()
		w.idb(1, 0, -1, 0)
		ngStart = int64(len(w.b))
		f(w)
		return w.b
	}
	epbLen := func() int64 {
		w := &ftNG{order: le}
		w.epb(ftRec{data: ftFrame(60, 0)})
		return int64(len(w.b))
	}()
	badTrailer := ng(func(w *ftNG) { w.epb(ftRec{data: ftFrame(60, 0)}); w.epb(ftRec{data: ftFrame(60, 1)}) })
	le.PutUint32(badTrailer[len(badTrailer)-4:], 1234)
	notMult4 := ng(func(w *ftNG) { w.b = le.AppendUint32(le.AppendUint32(w.b, 6), 33) })
	below12 := ng(func(w *ftNG) { w.b = le.AppendUint32(le.AppendUint32(w.b, 6), 8) })
	beyond := ng(func(w *ftNG) { w.epb(ftRec{data: ftFrame(60, 0)}) })
	le.PutUint32(beyond[ngStart+20:], 200) // caplen
	noIface := ng(func(w *ftNG) { w.epb(ftRec{iface: 1, data: ftFrame(60, 0)}) })
	badBOM := ng(func(w *ftNG) {
		w.epb(ftRec{data: ftFrame(60, 0)})
		w.b = append(w.b, 0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4)
	})
	v2 := ng(func(w *ftNG) {
		w.epb(ftRec{data: ftFrame(60, 0)})
		w2 := &ftNG{order: le}
		w2.shb()
		w2.b[12] = 2
		w.b = append(w.b, w2.b...)
	})

	for _, tc := range []struct {
		name    string
		file    []byte
		packets int
		offset  int64
	}{
		{"empty", nil, 0, 0},
		{"bad magic", []byte("GIF89a not a capture file"), 0, 0},
		{"pcap header cut", good[:20], 0, 0},
		{"pcap bad version", func() []byte { b := bytes.Clone(good); b[4] = 9; return b }(), 0, 4},
		{"pcap huge caplen", huge, 1, 24 + 16 + 60},
		{"pcap record header cut", good[:24+16+60+10], 1, 24 + 16 + 60},
		{"pcap record data cut", good[:len(good)-1], 1, 24 + 16 + 60},
		{"pcapng bad trailer", badTrailer, 1, ngStart + epbLen},
		{"pcapng length not multiple of 4", notMult4, 0, ngStart},
		{"pcapng length below 12", below12, 0, ngStart},
		{"pcapng caplen beyond block", beyond, 0, ngStart},
		{"pcapng undefined interface", noIface, 0, ngStart},
		{"pcapng bad byte-order magic", badBOM, 1, ngStart + epbLen},
		{"pcapng version 2", v2, 1, ngStart + epbLen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := capture.NewFileSource(bytes.NewReader(tc.file))
			var got []capture.Packet
			if err == nil {
				got, err = ftReadAll(t, s)
				if st := s.Stats(); st.Errors != 1 || st.Packets != uint64(tc.packets) {
					t.Errorf("stats %+v", st)
				}
				if again := s.ReadPacket(&capture.Packet{}); again != err {
					t.Errorf("error not sticky: %v then %v", err, again)
				}
			}
			var fe *capture.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want *capture.FormatError", err, err)
			}
			if len(got) != tc.packets || fe.Offset != tc.offset {
				t.Errorf("%d packets, offset %d (%v); want %d, %d", len(got), fe.Offset, err, tc.packets, tc.offset)
			}
		})
	}
}

// TestFileSource_TruncatedEverywhere cuts small files at every offset: a cut
// on a record or block boundary is a clean end, any other cut a
// *FormatError at the start of the cut record, after every whole packet
// before it.
func TestFileSource_TruncatedEverywhere(t *testing.T) {
	le := binary.LittleEndian
	recs := []ftRec{{data: ftFrame(60, 0)}, {data: ftFrame(1, 1)}, {data: ftFrame(0, 2)}, {data: ftFrame(99, 3)}}

	w := &ftNG{order: binary.BigEndian}
	w.shb()
	w.idb(1, 0, 9, 0)
	var ngPackets []int // where each packet block ends
	for i, r := range recs {
		if i == 2 {
			w.others()
		}
		w.epb(r)
		ngPackets = append(ngPackets, len(w.b))
	}
	w.spb(5, ftFrame(5, 4))
	ngPackets = append(ngPackets, len(w.b))

	pcapEnds := []int{24}
	for i := range recs {
		pcapEnds = append(pcapEnds, len(ftPcap(le, 0xa1b2cd34, 1, recs[:i+1]...)))
	}
	for _, tc := range []struct {
		name       string
		file       []byte
		boundaries []int // where the header and each record or block end
		packets    []int // where each packet record ends
	}{
		{"pcap-modified", ftPcap(le, 0xa1b2cd34, 1, recs...), pcapEnds, pcapEnds[1:]},
		{"pcapng", w.b, w.ends, ngPackets},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 0; cut <= len(tc.file); cut++ {
				s, err := capture.NewFileSource(bytes.NewReader(tc.file[:cut]))
				var got []capture.Packet
				if err == nil {
					got, err = ftReadAll(t, s)
				}
				whole := 0
				for _, e := range tc.packets {
					if e <= cut {
						whole++
					}
				}
				if len(got) != whole {
					t.Fatalf("cut %d: %d packets, want %d", cut, len(got), whole)
				}
				last := -1 // the last boundary at or before the cut
				for _, e := range tc.boundaries {
					if e <= cut {
						last = e
					}
				}
				if last == cut {
					if err != io.EOF {
						t.Fatalf("cut %d: %v, want io.EOF", cut, err)
					}
					continue
				}
				var fe *capture.FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("cut %d: %v, want *capture.FormatError", cut, err)
				}
				if want := int64(max(last, 0)); fe.Offset != want {
					t.Fatalf("cut %d: offset %d, want %d", cut, fe.Offset, want)
				}
			}
		})
	}
}

func TestFileSource_Close(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	file := ftPcap(binary.LittleEndian, 0xa1b2c3d4, 1, ftRec{data: ftFrame(60, 0)}, ftRec{data: ftFrame(60, 1)})
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p capture.Packet
	if err := s.ReadPacket(&p); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.ReadPacket(&p); err != capture.ErrClosed {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := capture.OpenFile(filepath.Join(t.TempDir(), "missing.pcap")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// --- the shared corpus ---------------------------------------------------------

// ftCorpusGolden is one line of testdata/corpus.golden (scripts/filter-goldens.sh,
// derived with tshark and capinfos).
type ftCorpusGolden struct {
	path                                    string
	packets, capBytes, wireBytes, truncated uint64
	link                                    capture.LinkType
	first, last, sum                        uint64
}

func ftReadCorpusGolden(t *testing.T) []ftCorpusGolden {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "corpus.golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ftCorpusGolden
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 9 {
			t.Fatalf("bad golden line %q", sc.Text())
		}
		n := make([]uint64, 9)
		for i := 1; i < 9; i++ {
			if n[i], err = strconv.ParseUint(fs[i], 10, 64); err != nil {
				t.Fatalf("bad golden line %q: %v", sc.Text(), err)
			}
		}
		out = append(out, ftCorpusGolden{fs[0], n[1], n[3], n[4], n[5], capture.LinkType(n[2]), n[6], n[7], n[8]})
	}
	return out
}

// TestFileSource_SharedCorpus reads every file of the shared corpus and
// compares packet counts, link types, lengths and timestamps with what
// tshark and capinfos report (testdata/corpus.golden).
func TestFileSource_SharedCorpus(t *testing.T) {
	dir := testutil.SharedPcaps(t, "")
	golden := ftReadCorpusGolden(t)
	if len(golden) == 0 {
		t.Fatal("empty golden")
	}
	for _, g := range golden {
		t.Run(g.path, func(t *testing.T) {
			s, err := capture.OpenFile(filepath.Join(dir, g.path))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var got ftCorpusGolden
			var p capture.Packet
			for {
				if err = s.ReadPacket(&p); err != nil {
					break
				}
				ns := uint64(p.Timestamp.UnixNano())
				if got.packets == 0 {
					got.first = ns
				}
				got.last = ns
				got.sum += ns
				got.packets++
				got.capBytes += uint64(len(p.Data))
				got.wireBytes += uint64(p.Length)
				if p.LinkType != g.link {
					t.Fatalf("packet %d: link type %v, want %v", got.packets, p.LinkType, g.link)
				}
			}
			if err != io.EOF {
				t.Fatalf("after %d packets: %v", got.packets, err)
			}
			got.path, got.link = g.path, g.link
			st := s.Stats()
			got.truncated = st.Truncated
			if got != g {
				t.Errorf("got  %+v\nwant %+v", got, g)
			}
			if st.Packets != got.packets || st.Bytes != got.capBytes || st.Errors != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// --- allocations, benchmarks, fuzzing ----------------------------------------

// ftBenchFiles returns, per format, a file header and a run of 64 packet
// records of 64 to 1450 bytes that may follow it any number of times.
func ftBenchFiles() map[string][2][]byte {
	le := binary.LittleEndian
	var recs []ftRec
	for i := range 64 {
		recs = append(recs, ftRec{sec: uint32(i), ts: uint64(i), data: ftFrame(64+i*22, byte(i))})
	}
	pcap := ftPcap(le, 0xa1b2c3d4, 1, recs...)
	w := &ftNG{order: le}
	w.shb()
	w.idb(1, 0, 9, 0)
	hdr := len(w.b)
	for _, r := range recs {
		w.epb(r)
	}
	return map[string][2][]byte{
		"pcap":   {pcap[:24], pcap[24:]},
		"pcapng": {w.b[:hdr], w.b[hdr:]},
	}
}

func ftLongFile(f [2][]byte, copies int) []byte {
	return append(bytes.Clone(f[0]), bytes.Repeat(f[1], copies)...)
}

func TestFileSource_ZeroAllocs(t *testing.T) {
	for name, f := range ftBenchFiles() {
		t.Run(name, func(t *testing.T) {
			s, err := capture.NewFileSource(bytes.NewReader(ftLongFile(f, 40)))
			if err != nil {
				t.Fatal(err)
			}
			var p capture.Packet
			for range 64 { // grow the buffer to the largest record
				if err := s.ReadPacket(&p); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(2000, func() {
				if err := s.ReadPacket(&p); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocs per packet, want 0", allocs)
			}
		})
	}
}

// ftLoop reads a file header, then its records over and over, forever.
type ftLoop struct {
	f   [2][]byte
	off int // into f[0] then, cyclically, f[1]
}

func (l *ftLoop) Read(b []byte) (int, error) {
	if l.off < len(l.f[0]) {
		n := copy(b, l.f[0][l.off:])
		l.off += n
		return n, nil
	}
	body := l.f[1]
	i := (l.off - len(l.f[0])) % len(body)
	n := copy(b, body[i:])
	l.off += n
	return n, nil
}

func BenchmarkFileSource(b *testing.B) {
	for _, name := range []string{"pcap", "pcapng"} {
		f := ftBenchFiles()[name]
		b.Run(name, func(b *testing.B) {
			s, err := capture.NewFileSource(&ftLoop{f: f})
			if err != nil {
				b.Fatal(err)
			}
			var p capture.Packet
			b.SetBytes(int64(len(f[1])) / 64) // mean record size
			b.ReportAllocs()
			for b.Loop() {
				if err := s.ReadPacket(&p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzFileSource(f *testing.F) {
	for _, file := range ftBenchFiles() {
		f.Add(ftLongFile(file, 1)[:600])
	}
	le := binary.LittleEndian
	f.Add(ftPcap(binary.BigEndian, 0xa1b23c4d, 113, ftRec{data: ftFrame(20, 0)}))
	f.Add(ftPcap(le, 0xa1b2cd34, 1, ftRec{data: ftFrame(20, 0)}, ftRec{data: nil}))
	w := &ftNG{order: binary.BigEndian}
	w.shb()
	w.idb(1, 16, 0x80|10, 5)
	w.others()
	w.epb(ftRec{data: ftFrame(20, 0)})
	w.pb(ftRec{data: ftFrame(3, 0)})
	w.spb(40, ftFrame(20, 1))
	f.Add(w.b)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := capture.NewFileSource(bytes.NewReader(data))
		if err != nil {
			var fe *capture.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("open: %v (%T), want *capture.FormatError", err, err)
			}
			return
		}
		var p capture.Packet
		n := 0
		for {
			err := s.ReadPacket(&p)
			if err == io.EOF {
				break
			}
			if err != nil {
				var fe *capture.FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("read: %v (%T), want *capture.FormatError or io.EOF", err, err)
				}
				if fe.Offset < 0 || fe.Offset > int64(len(data)) {
					t.Fatalf("offset %d outside input of %d bytes", fe.Offset, len(data))
				}
				break
			}
			n++
			if len(p.Data) > p.Length || len(p.Data) > capture.MaxRecordSize {
				t.Fatalf("captured %d bytes of %d", len(p.Data), p.Length)
			}
			if n > len(data)/16 {
				t.Fatalf("%d packets from %d bytes", n, len(data))
			}
		}
	})
}

// TestFileSource_TruncatedCorpus cuts small real captures (classic pcap and
// pcapng) at every offset: every cut delivers a prefix of the file's
// packets, never fewer than a shorter cut, then io.EOF or a *FormatError
// at or before the cut.
func TestFileSource_TruncatedCorpus(t *testing.T) {
	dir := testutil.SharedPcaps(t, "")
	for _, name := range []string{"dns/arkime_dns-update.pcap", "redis/zeek_start-with-server.pcapng", "dns/ndpi_dns-google-nsid.pcapng"} {
		t.Run(name, func(t *testing.T) {
			file, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			s, err := capture.NewFileSource(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			all, err := ftReadAll(t, s)
			if err != io.EOF || len(all) == 0 {
				t.Fatalf("whole file: %d packets, %v", len(all), err)
			}
			prev := 0
			for cut := 0; cut < len(file); cut++ {
				s, err := capture.NewFileSource(bytes.NewReader(file[:cut]))
				var got []capture.Packet
				if err == nil {
					got, err = ftReadAll(t, s)
				}
				var fe *capture.FormatError
				if err != io.EOF && (!errors.As(err, &fe) || fe.Offset > int64(cut)) {
					t.Fatalf("cut %d: %v", cut, err)
				}
				if len(got) < prev || len(got) > len(all) {
					t.Fatalf("cut %d: %d packets after %d at a shorter cut, of %d", cut, len(got), prev, len(all))
				}
				for i := range got {
					if !bytes.Equal(got[i].Data, all[i].Data) || !got[i].Timestamp.Equal(all[i].Timestamp) {
						t.Fatalf("cut %d: packet %d differs", cut, i)
					}
				}
				prev = len(got)
			}
		})
	}
}
