package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/metaflow-go/metaflow/autotag"
)

// Errors wrapped by *Error.
var (
	ErrSyntax   = errors.New("file: invalid JSON")
	ErrField    = errors.New("file: invalid value")
	ErrTooLarge = errors.New("file: too large")
)

// MaxSize is the largest file Parse and Load accept: 64 MiB.
const MaxSize = 64 << 20

// Error is a file that cannot be used: where, and why.
type Error struct {
	Path  string // the file, "" for Parse
	Line  int    // 1-based line of the bad value (or of its entry); 0 if unknown
	Field string // JSON path of the bad value, e.g. "addrs[2].cidrs[0]"; "" if none
	Err   error  // ErrSyntax, ErrField, ErrTooLarge or an I/O error, wrapped
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// The JSON forms of the entries.
type (
	addrJSON struct {
		VPC   int32             `json:"vpc"`
		CIDRs []string          `json:"cidrs"`
		Tags  map[string]string `json:"tags"`
	}
	podJSON struct {
		UID  string            `json:"uid"`
		Tags map[string]string `json:"tags"`
	}
	containerJSON struct {
		ID   string            `json:"id"`
		Tags map[string]string `json:"tags"`
	}
	processJSON struct {
		PID  uint32            `json:"pid"`
		Tags map[string]string `json:"tags"`
	}
	labelJSON struct {
		Kind   string            `json:"kind"`
		Key    string            `json:"key"`
		Labels map[string]string `json:"labels"`
	}
)

// parser reads one document, remembering where each entry starts.
type parser struct {
	data []byte
	dec  *json.Decoder
	e    autotag.Entries
}

// line returns the 1-based line of byte offset off, skipping the
// whitespace and separators that a decoder's offset points before.
func (p *parser) line(off int64) int {
	if off < 0 {
		return 0
	}
	o := int(min(off, int64(len(p.data))))
	for o < len(p.data) && strings.IndexByte(" \t\r\n,:", p.data[o]) >= 0 {
		o++
	}
	if o >= len(p.data) {
		o = len(p.data)
	}
	return bytes.Count(p.data[:o], []byte{'\n'}) + 1
}

// fail returns the error for a decoding error at or after offset off.
func (p *parser) fail(err error, off int64, field string) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &Error{Line: p.line(se.Offset - 1), Field: field, Err: fmt.Errorf("%w: %s", ErrSyntax, se.Error())}
	case errors.As(err, &te):
		if te.Field != "" {
			field += "." + te.Field
		}
		return &Error{Line: p.line(off), Field: field, Err: fmt.Errorf("%w: %s where %s is expected", ErrField, te.Value, te.Type)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Line: p.line(int64(len(p.data))), Field: field, Err: fmt.Errorf("%w: unexpected end of input", ErrSyntax)}
	}
	// Unknown fields and the like: the message names the key.
	return &Error{Line: p.line(off), Field: field, Err: fmt.Errorf("%w: %s", ErrField, strings.TrimPrefix(err.Error(), "json: "))}
}

func (p *parser) token(field string) (json.Token, error) {
	off := p.dec.InputOffset()
	t, err := p.dec.Token()
	if err != nil {
		return nil, p.fail(err, off, field)
	}
	return t, nil
}

func (p *parser) delim(want json.Delim, field string) error {
	off := p.dec.InputOffset()
	t, err := p.token(field)
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return &Error{Line: p.line(off), Field: field, Err: fmt.Errorf("%w: %v where %q is expected", ErrSyntax, t, string(want))}
	}
	return nil
}

// array decodes the array at the decoder into elements one by one, calling
// each with the element, its path and its line.
func array[T any](p *parser, name string, each func(v *T, field string, line int) error) error {
	if err := p.delim('[', name); err != nil {
		return err
	}
	for i := 0; p.dec.More(); i++ {
		field := name + "[" + strconv.Itoa(i) + "]"
		off := p.dec.InputOffset()
		var v T
		if err := p.dec.Decode(&v); err != nil {
			return p.fail(err, off, field)
		}
		if err := each(&v, field, p.line(off)); err != nil {
			return err
		}
	}
	return p.delim(']', name)
}

// resource builds a Resource from tags, checking their keys.
func resource(tags map[string]string, field string, line int) (autotag.Resource, error) {
	var r autotag.Resource
	for k, v := range tags {
		if !r.SetTag(k, v) {
			return r, &Error{Line: line, Field: field + ".tags." + k, Err: fmt.Errorf("%w: unknown tag key %q", ErrField, k)}
		}
	}
	return r, nil
}

// Parse reads a document. It never panics; a document it cannot use gives
// a *Error.
func Parse(data []byte) (*autotag.Entries, error) {
	if len(data) > MaxSize {
		return nil, &Error{Err: fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxSize)}
	}
	p := &parser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.DisallowUnknownFields()
	p.dec.UseNumber()
	if err := p.delim('{', ""); err != nil {
		return nil, err
	}
	for p.dec.More() {
		off := p.dec.InputOffset()
		t, err := p.token("")
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		switch key {
		case "addrs":
			err = array(p, key, func(a *addrJSON, field string, line int) error {
				r, err := resource(a.Tags, field, line)
				if err != nil {
					return err
				}
				for j, c := range a.CIDRs {
					pfx, err := parsePrefix(c)
					if err != nil {
						return &Error{Line: line, Field: field + ".cidrs[" + strconv.Itoa(j) + "]", Err: fmt.Errorf("%w: %w", ErrField, err)}
					}
					p.e.Addrs = append(p.e.Addrs, autotag.AddrEntry{VPC: a.VPC, Prefix: pfx, Resource: r})
				}
				return nil
			})
		case "pods":
			err = array(p, key, func(v *podJSON, field string, line int) error {
				if v.UID == "" {
					return &Error{Line: line, Field: field + ".uid", Err: fmt.Errorf("%w: missing or empty", ErrField)}
				}
				r, err := resource(v.Tags, field, line)
				p.e.Pods = append(p.e.Pods, autotag.PodEntry{UID: v.UID, Resource: r})
				return err
			})
		case "containers":
			err = array(p, key, func(v *containerJSON, field string, line int) error {
				if v.ID == "" {
					return &Error{Line: line, Field: field + ".id", Err: fmt.Errorf("%w: missing or empty", ErrField)}
				}
				r, err := resource(v.Tags, field, line)
				p.e.Containers = append(p.e.Containers, autotag.ContainerEntry{ID: v.ID, Resource: r})
				return err
			})
		case "processes":
			err = array(p, key, func(v *processJSON, field string, line int) error {
				if v.PID == 0 {
					return &Error{Line: line, Field: field + ".pid", Err: fmt.Errorf("%w: missing or zero", ErrField)}
				}
				r, err := resource(v.Tags, field, line)
				p.e.Processes = append(p.e.Processes, autotag.ProcessEntry{PID: v.PID, Resource: r})
				return err
			})
		case "labels":
			err = array(p, key, func(v *labelJSON, field string, line int) error {
				if v.Kind == "" || v.Key == "" {
					return &Error{Line: line, Field: field, Err: fmt.Errorf("%w: kind and key are required", ErrField)}
				}
				p.e.Labels = append(p.e.Labels, autotag.LabelEntry{Kind: v.Kind, Key: v.Key, Labels: v.Labels})
				return nil
			})
		default:
			return nil, &Error{Line: p.line(off), Field: key, Err: fmt.Errorf("%w: unknown key %q", ErrField, key)}
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.delim('}', ""); err != nil {
		return nil, err
	}
	off := p.dec.InputOffset()
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, &Error{Line: p.line(off), Err: fmt.Errorf("%w: data after the document", ErrSyntax)}
	}
	return &p.e, nil
}

// parsePrefix reads a CIDR or a single address (a host prefix).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("address %q has a zone", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Load reads and parses the file at path; errors are *Error with Path set.
func Load(path string) (*autotag.Entries, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	e, err := Parse(data)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			fe.Path = path
		}
		return nil, err
	}
	return e, nil
}
