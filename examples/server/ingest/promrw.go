package ingest

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

// staleNaN is Prometheus's staleness marker: a NaN with this payload says
// a series ended; it is not a sample.
const staleNaN = 0x7ff0000000000002

// ErrRemoteWrite is wrapped by DecodeWriteRequest's errors.
var ErrRemoteWrite = errors.New("ingest: bad remote write request")

func snappyDecode(body []byte, max int64) ([]byte, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "snappy: %v", err)
	}
	if int64(n) > max {
		return nil, refuse(http.StatusRequestEntityTooLarge, "body inflates to %d bytes, limit %d", n, max)
	}
	out, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "snappy: %v", err)
	}
	return out, nil
}

func (e *Ext) serveRemoteWrite(w http.ResponseWriter, r *http.Request) {
	e.serve(w, r, &e.stats.rw, remoteWriteCheck(r), func(body []byte, b *store.ExtBatch) error {
		skipped, err := DecodeWriteRequest(body, b)
		if err != nil {
			return refuse(http.StatusBadRequest, "%v", err)
		}
		e.stats.skipped.Add(uint64(skipped))
		return nil
	}, []string{"snappy"}, func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) })
}

// remoteWriteCheck refuses what is not a remote write 1.0 request: the
// body must be snappy-compressed protobuf.
func remoteWriteCheck(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if mediaType(r) != "application/x-protobuf" {
		return refuse(http.StatusUnsupportedMediaType, "Content-Type %q: want application/x-protobuf (remote write 1.0)", ct)
	}
	if strings.Contains(ct, "io.prometheus.write.v2") {
		return refuse(http.StatusUnsupportedMediaType, "remote write 2.0 (%s) is not supported; configure protobuf_message: prometheus.WriteRequest", ct)
	}
	if enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc != "snappy" {
		return refuse(http.StatusUnsupportedMediaType, "Content-Encoding %q: want snappy", enc)
	}
	return nil
}

// Prometheus labels that name an AutoTagging tag (Kubernetes service
// discovery's usual relabelling).
var labelTags = map[string]string{
	"pod": "pod", "kubernetes_pod_name": "pod", "k8s_pod_name": "pod",
	"namespace": "pod_ns", "kubernetes_namespace": "pod_ns", "k8s_namespace_name": "pod_ns",
	"node": "pod_node", "kubernetes_node": "pod_node", "k8s_node_name": "pod_node",
	"container_id": "container_id", "host": "host",
}

// resources de-duplicates the resources of one request.
type resources struct {
	b   *store.ExtBatch
	idx map[string]int
	key strings.Builder
}

// of returns the index in b.Resources of the resource that labels (a
// series' or an Influx point's tags) name: its instance's IP (the host of
// "instance", as an address, or as a host name) and the labels of
// labelTags.
func (rs *resources) of(get func(yield func(k, v string) bool)) int {
	var r store.Resource
	var instHost string
	get(func(k, v string) bool {
		if v == "" {
			return true
		}
		if k == "instance" {
			host := v
			if h, _, err := net.SplitHostPort(v); err == nil {
				host = h
			}
			if ip, err := netip.ParseAddr(host); err == nil {
				r.Addr = ip.Unmap()
			} else if host != "localhost" {
				instHost = host
			}
			return true
		}
		if key, ok := labelTags[k]; ok {
			r.Tags = append(r.Tags, store.Tag{Key: key, Value: v})
		}
		return true
	})
	if instHost != "" {
		// After the labels: a host label names the host first.
		r.Tags = append(r.Tags, store.Tag{Key: "host", Value: instHost})
	}
	rs.key.Reset()
	if r.Addr.IsValid() {
		rs.key.WriteString(r.Addr.String())
	}
	for _, t := range r.Tags {
		rs.key.WriteString("\x00" + t.Key + "\x00" + t.Value)
	}
	k := rs.key.String()
	if i, ok := rs.idx[k]; ok {
		return i
	}
	if rs.idx == nil {
		rs.idx = map[string]int{}
	}
	rs.idx[k] = len(rs.b.Resources)
	rs.b.Resources = append(rs.b.Resources, r)
	return len(rs.b.Resources) - 1
}

// DecodeWriteRequest appends the samples of a remote write 1.0
// WriteRequest (prometheus/prompb, decompressed) to b, read field by field
// with protowire: timeseries (1) of labels (1: name 1, value 2) and
// samples (2: value 1 double, timestamp 2 int64 ms). Native histograms (4)
// and staleness markers are counted in skipped; exemplars and metadata are
// ignored. Errors wrap ErrRemoteWrite; b may hold part of the request
// then, and must not be stored.
func DecodeWriteRequest(buf []byte, b *store.ExtBatch) (skipped int, err error) {
	rs := resources{b: b}
	var labels []string // name, value pairs of the current series
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return skipped, fmt.Errorf("%w: %v", ErrRemoteWrite, protowire.ParseError(n))
		}
		buf = buf[n:]
		if num == 1 && typ == protowire.BytesType {
			ts, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return skipped, fmt.Errorf("%w: timeseries: %v", ErrRemoteWrite, protowire.ParseError(n))
			}
			buf = buf[n:]
			labels = labels[:0]
			k, err := decodeSeries(ts, &labels, &rs, b)
			skipped += k
			if err != nil {
				return skipped, err
			}
			continue
		}
		if num == 1 {
			return skipped, fmt.Errorf("%w: timeseries of wire type %d", ErrRemoteWrite, typ)
		}
		n = protowire.ConsumeFieldValue(num, typ, buf)
		if n < 0 {
			return skipped, fmt.Errorf("%w: field %d: %v", ErrRemoteWrite, num, protowire.ParseError(n))
		}
		buf = buf[n:]
	}
	return skipped, nil
}

type rwSample struct {
	v  float64
	ts int64
}

func decodeSeries(ts []byte, labels *[]string, rs *resources, b *store.ExtBatch) (skipped int, err error) {
	var samples []rwSample
	for len(ts) > 0 {
		num, typ, n := protowire.ConsumeTag(ts)
		if n < 0 {
			return skipped, fmt.Errorf("%w: timeseries: %v", ErrRemoteWrite, protowire.ParseError(n))
		}
		ts = ts[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			l, n := protowire.ConsumeBytes(ts)
			if n < 0 {
				return skipped, fmt.Errorf("%w: label: %v", ErrRemoteWrite, protowire.ParseError(n))
			}
			ts = ts[n:]
			name, value, err := decodePair(l)
			if err != nil {
				return skipped, err
			}
			*labels = append(*labels, name, value)
		case num == 2 && typ == protowire.BytesType:
			sb, n := protowire.ConsumeBytes(ts)
			if n < 0 {
				return skipped, fmt.Errorf("%w: sample: %v", ErrRemoteWrite, protowire.ParseError(n))
			}
			ts = ts[n:]
			s, err := decodeSample(sb)
			if err != nil {
				return skipped, err
			}
			samples = append(samples, s)
		case num == 4 && typ == protowire.BytesType:
			_, n := protowire.ConsumeBytes(ts)
			if n < 0 {
				return skipped, fmt.Errorf("%w: histogram: %v", ErrRemoteWrite, protowire.ParseError(n))
			}
			ts = ts[n:]
			skipped++
		case num == 1 || num == 2 || num == 4:
			return skipped, fmt.Errorf("%w: timeseries field %d of wire type %d", ErrRemoteWrite, num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, ts)
			if n < 0 {
				return skipped, fmt.Errorf("%w: timeseries field %d: %v", ErrRemoteWrite, num, protowire.ParseError(n))
			}
			ts = ts[n:]
		}
	}
	l := *labels
	var name string
	own := make(map[string]string, len(l)/2)
	for i := 0; i < len(l); i += 2 {
		if l[i] == "__name__" {
			name = l[i+1]
			continue
		}
		if _, dup := own[l[i]]; dup || l[i] == "" {
			return skipped, fmt.Errorf("%w: series %q: duplicate or empty label name %q", ErrRemoteWrite, name, l[i])
		}
		own[l[i]] = l[i+1]
	}
	if name == "" {
		if len(samples) == 0 {
			return skipped, nil
		}
		return skipped, fmt.Errorf("%w: a series without __name__", ErrRemoteWrite)
	}
	if len(own) == 0 {
		own = nil
	}
	ri := -1
	for _, s := range samples {
		if math.Float64bits(s.v) == staleNaN {
			skipped++
			continue
		}
		if ri < 0 {
			ri = rs.of(func(yield func(k, v string) bool) {
				for i := 0; i < len(l); i += 2 {
					if !yield(l[i], l[i+1]) {
						return
					}
				}
			})
		}
		if s.ts > math.MaxInt64/1_000_000 || s.ts < math.MinInt64/1_000_000 {
			return skipped, fmt.Errorf("%w: series %q: timestamp %d ms out of range", ErrRemoteWrite, name, s.ts)
		}
		b.Samples = append(b.Samples, store.Sample{Resource: ri, Time: s.ts * 1e6, Source: "prometheus", Metric: name, Value: s.v, Labels: own})
	}
	return skipped, nil
}

func decodePair(l []byte) (name, value string, err error) {
	for len(l) > 0 {
		num, typ, n := protowire.ConsumeTag(l)
		if n < 0 {
			return "", "", fmt.Errorf("%w: label: %v", ErrRemoteWrite, protowire.ParseError(n))
		}
		l = l[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(l)
			if n < 0 {
				return "", "", fmt.Errorf("%w: label: %v", ErrRemoteWrite, protowire.ParseError(n))
			}
			l = l[n:]
			if num == 1 {
				name = string(v)
			} else {
				value = string(v)
			}
			continue
		}
		if num == 1 || num == 2 {
			return "", "", fmt.Errorf("%w: label field %d of wire type %d", ErrRemoteWrite, num, typ)
		}
		n = protowire.ConsumeFieldValue(num, typ, l)
		if n < 0 {
			return "", "", fmt.Errorf("%w: label field %d: %v", ErrRemoteWrite, num, protowire.ParseError(n))
		}
		l = l[n:]
	}
	return name, value, nil
}

func decodeSample(sb []byte) (rwSample, error) {
	var s rwSample
	for len(sb) > 0 {
		num, typ, n := protowire.ConsumeTag(sb)
		if n < 0 {
			return s, fmt.Errorf("%w: sample: %v", ErrRemoteWrite, protowire.ParseError(n))
		}
		sb = sb[n:]
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(sb)
			if n < 0 {
				return s, fmt.Errorf("%w: sample value: %v", ErrRemoteWrite, protowire.ParseError(n))
			}
			s.v, sb = math.Float64frombits(v), sb[n:]
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(sb)
			if n < 0 {
				return s, fmt.Errorf("%w: sample timestamp: %v", ErrRemoteWrite, protowire.ParseError(n))
			}
			s.ts, sb = int64(v), sb[n:]
		case num == 1 || num == 2:
			return s, fmt.Errorf("%w: sample field %d of wire type %d", ErrRemoteWrite, num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, sb)
			if n < 0 {
				return s, fmt.Errorf("%w: sample field %d: %v", ErrRemoteWrite, num, protowire.ParseError(n))
			}
			sb = sb[n:]
		}
	}
	return s, nil
}
