package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

// ErrInflux is wrapped by the errors of ParseInfluxLine and DecodeInflux.
var ErrInflux = errors.New("ingest: bad line protocol")

// InfluxField is a field of an Influx point; Type says which value it
// holds: 'f' float, 'i' integer, 'u' unsigned, 'b' boolean, 's' string.
type InfluxField struct {
	Key   string
	Type  byte
	Float float64
	Int   int64
	Uint  uint64
	Bool  bool
	Str   string
}

// InfluxPoint is one line of line protocol.
type InfluxPoint struct {
	Measurement string
	Tags        []string // key, value pairs in line order
	Fields      []InfluxField
	Time        int64 // in the request's precision; valid when HasTime
	HasTime     bool
}

// Reset empties p, keeping its slices' memory.
func (p *InfluxPoint) Reset() {
	p.Measurement, p.Tags, p.Fields, p.Time, p.HasTime = "", p.Tags[:0], p.Fields[:0], 0, false
}

// ParseInfluxLine parses one line of Influx line protocol (without its
// newline) into p:
//
//	measurement[,tag=value...] field=value[,field=value...] [timestamp]
//
// with backslash escapes of ',' and ' ' in the measurement, of ',', '='
// and ' ' in keys and tag values, of '"' and '\' in double-quoted string
// fields; fields are floats, integers (123i), unsigned (123u), booleans
// (t, T, true, True, TRUE and the f forms) or strings; the timestamp is an
// integer. Errors wrap ErrInflux with the column.
func ParseInfluxLine(line []byte, p *InfluxPoint) error {
	p.Reset()
	i := 0
	m, i, err := token(line, i, ", ", false)
	if err != nil {
		return err
	}
	if m == "" {
		return influxErr(i, "empty measurement")
	}
	p.Measurement = m
	for i < len(line) && line[i] == ',' {
		k, j, err := token(line, i+1, ",= ", true)
		if err != nil {
			return err
		}
		if k == "" || j >= len(line) || line[j] != '=' {
			return influxErr(j, "tag without key=value")
		}
		v, j2, err := token(line, j+1, ",= ", true)
		if err != nil {
			return err
		}
		if v == "" {
			return influxErr(j+1, "tag %q without a value", k)
		}
		p.Tags = append(p.Tags, k, v)
		i = j2
	}
	if i >= len(line) || line[i] != ' ' {
		return influxErr(i, "want a space before the fields")
	}
	for i < len(line) && line[i] == ' ' {
		i++
	}
	for {
		k, j, err := token(line, i, ",= ", true)
		if err != nil {
			return err
		}
		if k == "" || j >= len(line) || line[j] != '=' {
			return influxErr(i, "field without key=value")
		}
		f := InfluxField{Key: k}
		if j, err = fieldValue(line, j+1, &f); err != nil {
			return err
		}
		p.Fields = append(p.Fields, f)
		i = j
		if i < len(line) && line[i] == ',' {
			i++
			continue
		}
		break
	}
	if i < len(line) && line[i] != ' ' {
		return influxErr(i, "unexpected %q after the fields", line[i])
	}
	for i < len(line) && line[i] == ' ' {
		i++
	}
	if i < len(line) {
		end := i
		for end < len(line) && line[end] != ' ' {
			end++
		}
		ts, err := strconv.ParseInt(string(line[i:end]), 10, 64)
		if err != nil {
			return influxErr(i, "bad timestamp %q", line[i:end])
		}
		p.Time, p.HasTime = ts, true
		for end < len(line) && line[end] == ' ' {
			end++
		}
		if end < len(line) {
			return influxErr(end, "unexpected text after the timestamp")
		}
	}
	return nil
}

func influxErr(col int, format string, args ...any) error {
	return fmt.Errorf("%w: column %d: %s", ErrInflux, col+1, fmt.Sprintf(format, args...))
}

// token reads from line[i] to the first unescaped byte of stops (or the
// end), unescaping "\<c>" for c in stops (and '=' where eq, which keys
// and tag values escape); other backslashes stay as they are.
func token(line []byte, i int, stops string, eq bool) (string, int, error) {
	start := i
	esc := false
	for i < len(line) {
		c := line[i]
		if c == '\\' && i+1 < len(line) && (strings.IndexByte(stops, line[i+1]) >= 0 || (eq && line[i+1] == '=') || line[i+1] == '\\') {
			esc = true
			i += 2
			continue
		}
		if strings.IndexByte(stops, c) >= 0 {
			break
		}
		if c == '\n' || c == '\r' {
			return "", i, influxErr(i, "line break in a name")
		}
		i++
	}
	if !esc {
		return string(line[start:i]), i, nil
	}
	var b strings.Builder
	for j := start; j < i; j++ {
		if line[j] == '\\' && j+1 < i {
			next := line[j+1]
			if strings.IndexByte(stops, next) >= 0 || (eq && next == '=') || next == '\\' {
				b.WriteByte(next)
				j++
				continue
			}
		}
		b.WriteByte(line[j])
	}
	return b.String(), i, nil
}

func fieldValue(line []byte, i int, f *InfluxField) (int, error) {
	if i < len(line) && line[i] == '"' {
		var b strings.Builder
		for j := i + 1; j < len(line); j++ {
			c := line[j]
			switch {
			case c == '\\' && j+1 < len(line) && (line[j+1] == '"' || line[j+1] == '\\'):
				b.WriteByte(line[j+1])
				j++
			case c == '"':
				f.Type, f.Str = 's', b.String()
				return j + 1, nil
			default:
				b.WriteByte(c)
			}
		}
		return i, influxErr(i, "unterminated string field %q", f.Key)
	}
	end := i
	for end < len(line) && line[end] != ',' && line[end] != ' ' {
		end++
	}
	v := string(line[i:end])
	if v == "" {
		return i, influxErr(i, "field %q without a value", f.Key)
	}
	var err error
	switch {
	case v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE":
		f.Type, f.Bool = 'b', true
	case v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE":
		f.Type, f.Bool = 'b', false
	case v[len(v)-1] == 'i':
		f.Type = 'i'
		f.Int, err = strconv.ParseInt(v[:len(v)-1], 10, 64)
	case v[len(v)-1] == 'u':
		f.Type = 'u'
		f.Uint, err = strconv.ParseUint(v[:len(v)-1], 10, 64)
	default:
		f.Type = 'f'
		if c := v[0]; c != '-' && c != '+' && c != '.' && (c < '0' || c > '9') {
			return i, influxErr(i, "field %q: bad value %q", f.Key, v)
		}
		f.Float, err = strconv.ParseFloat(v, 64)
		if err == nil && (math.IsInf(f.Float, 0) || math.IsNaN(f.Float)) {
			err = errors.New("not finite")
		}
	}
	if err != nil {
		return i, influxErr(i, "field %q: bad value %q", f.Key, v)
	}
	return end, nil
}

// influxPrecision returns the nanoseconds of one unit of a precision
// parameter (v2: ns, us, ms, s; v1 also n, u, m, h).
func influxPrecision(p string) (int64, bool) {
	switch p {
	case "", "ns", "n":
		return 1, true
	case "us", "u":
		return 1e3, true
	case "ms":
		return 1e6, true
	case "s":
		return 1e9, true
	case "m":
		return 60e9, true
	case "h":
		return 3600e9, true
	}
	return 0, false
}

// DecodeInflux appends the points of a line protocol body to b, one
// sample per field: metric <measurement>_<field>, the point's tags as
// labels (and as AutoTagging tags where labelTags names them), booleans as
// 1 and 0, strings in Text. unit is the nanoseconds of a timestamp unit;
// lines without a timestamp get now (unix ns). Blank lines and comments
// (#) are skipped. Errors wrap ErrInflux with the line number; b may hold
// part of the body then, and must not be stored.
func DecodeInflux(body []byte, unit, now int64, b *store.ExtBatch) error {
	rs := resources{b: b}
	var p InfluxPoint
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		trimmed := bytes.TrimLeft(line, " \t")
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		if err := ParseInfluxLine(trimmed, &p); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		t := now
		if p.HasTime {
			if p.Time > math.MaxInt64/unit || p.Time < math.MinInt64/unit {
				return fmt.Errorf("line %d: %w: timestamp %d out of range", n, ErrInflux, p.Time)
			}
			t = p.Time * unit
		}
		var labels map[string]string
		if len(p.Tags) > 0 {
			labels = make(map[string]string, len(p.Tags)/2)
			for i := 0; i < len(p.Tags); i += 2 {
				labels[p.Tags[i]] = p.Tags[i+1]
			}
		}
		ri := rs.of(func(yield func(k, v string) bool) {
			for i := 0; i < len(p.Tags); i += 2 {
				if !yield(p.Tags[i], p.Tags[i+1]) {
					return
				}
			}
		})
		for _, f := range p.Fields {
			s := store.Sample{Resource: ri, Time: t, Source: "influx", Measurement: p.Measurement,
				Metric: p.Measurement + "_" + f.Key, Labels: labels}
			switch f.Type {
			case 'f':
				s.Value = f.Float
			case 'i':
				s.Value = float64(f.Int)
			case 'u':
				s.Value = float64(f.Uint)
			case 'b':
				if f.Bool {
					s.Value = 1
				}
			case 's':
				s.Text, s.IsText = f.Str, true
			}
			b.Samples = append(b.Samples, s)
		}
	}
	return nil
}

func influxCheck(r *http.Request) (int64, error) {
	switch mt := mediaType(r); {
	case mt == "", mt == "text/plain", mt == "application/octet-stream", mt == "application/x-www-form-urlencoded":
	default:
		return 0, refuse(http.StatusUnsupportedMediaType, "Content-Type %q: want text/plain line protocol", r.Header.Get("Content-Type"))
	}
	p := r.URL.Query().Get("precision")
	unit, ok := influxPrecision(p)
	if !ok {
		return 0, refuse(http.StatusBadRequest, "precision=%q: want ns, us, ms or s", p)
	}
	return unit, nil
}

func (e *Ext) serveInflux(w http.ResponseWriter, r *http.Request) {
	unit, check := influxCheck(r)
	e.serve(w, r, &e.stats.influx, check, func(body []byte, b *store.ExtBatch) error {
		if err := DecodeInflux(body, unit, e.cfg.Now().UnixNano(), b); err != nil {
			return refuse(http.StatusBadRequest, "%v", err)
		}
		return nil
	}, []string{"gzip"}, func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) })
}
