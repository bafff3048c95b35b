package kafka

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"io"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/metaflow-go/metaflow/internal/ascii"
	"github.com/metaflow-go/metaflow/l7"
)

// Record batch layout (magic 2): the header is 61 bytes, then the records,
// compressed as a whole when the codec (attributes & 7) is not 0.
const (
	batchHeaderLen = 61
	batchMagicAt   = 16
	batchAttrsAt   = 21
	batchCountAt   = 57
	maxBatches     = 8 // batches of one records field looked at
	maxHeaders     = 64

	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLz4    = 3
	codecZstd   = 4
)

// traces looks for trace context in the record headers of recs, the
// records field of a Produce request's first partition: the first record
// with a traceparent, sw8 or b3 header (or X-B3-TraceId) sets m's trace
// fields. Batches compressed with gzip, snappy or zstd are inflated (at
// most Config.MaxInflate bytes); lz4 and unknown codecs are counted and
// skipped.
func (p *Parser) traces(recs []byte, m *l7.Message) {
	for i := 0; i < maxBatches && len(recs) >= batchHeaderLen; i++ {
		blen := int(int32(binary.BigEndian.Uint32(recs[8:])))
		if blen < batchHeaderLen-12 || recs[batchMagicAt] != 2 {
			return
		}
		end := min(12+blen, len(recs))
		count := int(int32(binary.BigEndian.Uint32(recs[batchCountAt:])))
		data := recs[batchHeaderLen:end]
		p.d.st.batches.Add(1)
		codec := binary.BigEndian.Uint16(recs[batchAttrsAt:]) & 7
		switch codec {
		case codecNone:
		case codecGzip, codecSnappy, codecZstd:
			out, ok := p.inflateBatch(codec, data)
			if !ok {
				return
			}
			data = out
		default:
			p.d.st.skipped.Add(1)
			return
		}
		if scanRecords(data, count, p, m) || end < 12+blen {
			return
		}
		recs = recs[end:]
	}
}

// inflateBatch decompresses up to Config.MaxInflate bytes of a batch's
// records. A stream cut short (the message was longer than MaxPeek)
// yields what inflated before the cut.
func (p *Parser) inflateBatch(codec uint16, src []byte) ([]byte, bool) {
	sc := p.scratch()
	if sc.inflate == nil {
		sc.inflate = make([]byte, p.d.cfg.MaxInflate)
	}
	buf := sc.inflate
	var n int
	switch codec {
	case codecGzip:
		st, ok := p.d.gzips.get()
		if !ok {
			st = &gzipState{}
		}
		st.src.Reset(src)
		if err := st.r.Reset(&st.src); err != nil {
			p.d.gzips.put(st)
			p.d.st.inflateErrs.Add(1)
			return nil, false
		}
		n, _ = io.ReadFull(&st.r, buf)
		p.d.gzips.put(st)
	case codecZstd:
		st, ok := p.d.zstds.get()
		if !ok {
			dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(8<<20))
			if err != nil {
				p.d.st.inflateErrs.Add(1)
				return nil, false
			}
			st = &zstdState{dec: dec}
		}
		st.src.Reset(src)
		if err := st.dec.Reset(&st.src); err != nil {
			p.d.zstds.put(st)
			p.d.st.inflateErrs.Add(1)
			return nil, false
		}
		n, _ = io.ReadFull(st.dec, buf)
		p.d.zstds.put(st)
	case codecSnappy:
		n = p.snappy(src, buf)
		if n < 0 {
			return nil, false
		}
	}
	if n == 0 {
		p.d.st.inflateErrs.Add(1)
		return nil, false
	}
	p.d.st.compressed.Add(1)
	return buf[:n], true
}

// xerialMagic starts snappy data in the framing of the Java client
// (snappy-java's SnappyOutputStream): the magic, a version and a
// compatible version (4 bytes each), then chunks of a 4-byte length and a
// raw snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// snappy decodes the first block of src (xerial framing or one raw block)
// into buf and returns its length, or -1 (counted) when it does not
// decode or does not fit.
func (p *Parser) snappy(src, buf []byte) int {
	if bytes.HasPrefix(src, xerialMagic) && len(src) >= 20 {
		cl := int(int32(binary.BigEndian.Uint32(src[16:])))
		if cl < 0 || 20+cl > len(src) {
			p.d.st.inflateErrs.Add(1)
			return -1
		}
		src = src[20 : 20+cl]
	}
	dl, err := s2.DecodedLen(src)
	if err != nil {
		p.d.st.inflateErrs.Add(1)
		return -1
	}
	if dl > len(buf) {
		p.d.st.skipped.Add(1)
		return -1
	}
	out, err := s2.Decode(buf[:dl], src)
	if err != nil {
		p.d.st.inflateErrs.Add(1)
		return -1
	}
	return len(out)
}

type gzipState struct {
	src bytes.Reader
	r   gzip.Reader
}

type zstdState struct {
	src bytes.Reader
	dec *zstd.Decoder
}

// scanRecords reads up to count records of b (uncompressed, possibly cut
// short) and sets m's trace fields from the first record that has trace
// headers. It reports whether it found one.
func scanRecords(b []byte, count int, p *Parser, m *l7.Message) bool {
	r := reader{b: b}
	for i := 0; i < count && !r.bad; i++ {
		length := int(r.varint())
		start := r.off
		if r.bad || length <= 0 {
			return false
		}
		r.int8()   // attributes
		r.varint() // timestamp delta
		r.varint() // offset delta
		if kl := int(r.varint()); kl > 0 {
			r.skip(kl)
		}
		if vl := int(r.varint()); vl > 0 {
			r.skip(vl)
		}
		nh := int(r.varint())
		var tp, sw8, b3, xt, xs, xp []byte
		for h := 0; h < nh && h < maxHeaders && !r.bad; h++ {
			kl := int(r.varint())
			if kl < 0 || !r.need(kl) {
				break
			}
			key := r.b[r.off : r.off+kl]
			r.off += kl
			vl := int(r.varint())
			var val []byte
			if vl > 0 && r.need(vl) {
				val = r.b[r.off : r.off+vl]
				r.off += vl
			}
			if r.bad {
				break
			}
			switch {
			case ascii.EqualFoldLower(key, "traceparent"):
				tp = val
			case ascii.EqualFoldLower(key, "sw8"):
				sw8 = val
			case ascii.EqualFoldLower(key, "b3"):
				b3 = val
			case ascii.EqualFoldLower(key, "x-b3-traceid"):
				xt = val
			case ascii.EqualFoldLower(key, "x-b3-spanid"):
				xs = val
			case ascii.EqualFoldLower(key, "x-b3-parentspanid"):
				xp = val
			}
		}
		switch {
		case len(tp) > 0 && traceparent(tp, m):
			return true
		case len(sw8) > 0 && p.sw8(sw8, m):
			return true
		case len(b3) > 0 && singleB3(b3, m):
			return true
		case len(xt) > 0:
			m.TraceID, m.SpanID, m.ParentSpanID = xt, xs, xp
			return true
		}
		if r.bad {
			return false
		}
		r.off = start
		r.skip(length)
	}
	return false
}

// field returns the i-th '-'-separated field of v.
func field(v []byte, i int) []byte {
	for ; i > 0; i-- {
		j := bytes.IndexByte(v, '-')
		if j < 0 {
			return nil
		}
		v = v[j+1:]
	}
	if j := bytes.IndexByte(v, '-'); j >= 0 {
		v = v[:j]
	}
	return v
}

// traceparent reads a W3C traceparent: version-traceid-parentid-flags.
func traceparent(v []byte, m *l7.Message) bool {
	t, s := field(v, 1), field(v, 2)
	if len(t) == 0 || len(s) == 0 {
		return false
	}
	m.TraceID, m.SpanID = t, s
	return true
}

// singleB3 reads a b3 single header: traceid-spanid[-sampled[-parentspanid]].
func singleB3(v []byte, m *l7.Message) bool {
	t, s := field(v, 0), field(v, 1)
	if len(t) < 16 || len(s) == 0 {
		return false
	}
	m.TraceID, m.SpanID = t, s
	if pp := field(v, 3); len(pp) > 0 {
		m.ParentSpanID = pp
	}
	return true
}

// sw8 reads a SkyWalking sw8 header:
// sample-traceid-segmentid-spanid-service-instance-endpoint-target, ids
// in base64. trace_id is the decoded trace id, span_id the decoded
// segment id and the span id joined by '-', as DeepFlow records them.
func (p *Parser) sw8(v []byte, m *l7.Message) bool {
	t, seg, sp := field(v, 1), field(v, 2), field(v, 3)
	if len(t) == 0 || len(seg) == 0 {
		return false
	}
	sc := p.scratch()
	tn, err := base64.StdEncoding.Decode(sc.trace[:], t[:min(len(t), b64Fits(len(sc.trace)))])
	if err != nil || tn == 0 {
		m.TraceID = t
	} else {
		m.TraceID = sc.trace[:tn]
	}
	sn, err := base64.StdEncoding.Decode(sc.span[:64], seg[:min(len(seg), b64Fits(64))])
	out := sc.span[:0]
	if err != nil || sn == 0 {
		out = append(out, seg[:min(len(seg), 64)]...)
	} else {
		out = sc.span[:sn]
	}
	if len(sp) > 0 && len(out)+1+len(sp) <= len(sc.span) {
		out = append(out, '-')
		out = append(out, sp...)
	}
	m.SpanID = out
	return true
}

// b64Fits returns the longest base64 text (a multiple of 4) whose decoded
// bytes fit in n: Decode needs room for DecodedLen of its input.
func b64Fits(n int) int { return n / 3 * 4 }
