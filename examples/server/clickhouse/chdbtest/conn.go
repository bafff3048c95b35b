//go:build chdb

package chdbtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/chdb-io/chdb-go/chdb"

	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
)

// Conn is a clickhouse.Conn on a chDB session.
type Conn struct {
	mu   sync.Mutex
	sess *chdb.Session
	// Statements counts the statements run (Exec, Insert, Query).
	Statements int
}

// Open opens the process's chDB session on dir ("" for a temporary one).
func Open(dir string) (*Conn, error) {
	s, err := chdb.NewSession(dir)
	if err != nil {
		return nil, fmt.Errorf("chdb: session: %w", err)
	}
	return &Conn{sess: s}, nil
}

func (c *Conn) run(q, format string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Statements++
	res, err := c.sess.Query(q, format)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return nil, err
	}
	return bytes.Clone(res.Buf()), nil
}

// Exec implements clickhouse.Conn.
func (c *Conn) Exec(ctx context.Context, q string) error {
	_, err := c.run(q, "CSV")
	return err
}

// Insert implements clickhouse.Conn with an INSERT of TabSeparated data.
func (c *Conn) Insert(ctx context.Context, table string, b *clickhouse.Block, token string) error {
	q := make([]byte, 0, 64+b.Rows*len(b.Cols)*8)
	q = append(q, "INSERT INTO "+table+" ("+strings.Join(b.Names(), ", ")+")"...)
	if token != "" {
		q = append(q, " SETTINGS insert_deduplication_token = "...)
		q = clickhouse.AppendQuote(q, token)
	}
	q = append(q, " FORMAT TabSeparated\n"...)
	for r := 0; r < b.Rows; r++ {
		for i := range b.Cols {
			if i > 0 {
				q = append(q, '\t')
			}
			q = b.Cols[i].AppendTSV(q, r)
		}
		q = append(q, '\n')
	}
	_, err := c.run(string(q), "CSV")
	return err
}

// Query implements clickhouse.Conn.
func (c *Conn) Query(ctx context.Context, q string) (clickhouse.Rows, error) {
	out, err := c.run(q, "JSONCompactEachRowWithNamesAndTypes")
	if err != nil {
		return nil, err
	}
	r := &rows{dec: json.NewDecoder(bytes.NewReader(out))}
	r.dec.UseNumber()
	if len(out) == 0 {
		return r, nil
	}
	if err := r.dec.Decode(&r.names); err != nil {
		return nil, fmt.Errorf("chdb: result names: %w", err)
	}
	if err := r.dec.Decode(&r.types); err != nil {
		return nil, fmt.Errorf("chdb: result types: %w", err)
	}
	return r, nil
}

// Close closes the session.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		c.sess.Close()
		c.sess = nil
	}
	return nil
}

type rows struct {
	dec          *json.Decoder
	names, types []string
	cur          []any
	err          error
}

func (r *rows) Next() bool {
	if r.err != nil || r.names == nil {
		return false
	}
	r.cur = r.cur[:0]
	if err := r.dec.Decode(&r.cur); err != nil {
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
		return false
	}
	if len(r.cur) != len(r.names) {
		r.err = fmt.Errorf("chdb: row of %d values for %d columns", len(r.cur), len(r.names))
		return false
	}
	return true
}

func (r *rows) Columns() []string { return r.names }
func (r *rows) Err() error        { return r.err }
func (r *rows) Close() error      { return nil }

func (r *rows) Scan(dest ...any) error {
	if len(dest) != len(r.cur) {
		return fmt.Errorf("chdb: %d destinations for %d columns", len(dest), len(r.cur))
	}
	for i, v := range r.cur {
		x, err := convert(r.types[i], v)
		if err != nil {
			return fmt.Errorf("chdb: column %s: %w", r.names[i], err)
		}
		if err := clickhouse.Assign(dest[i], x); err != nil {
			return fmt.Errorf("chdb: column %s: %w", r.names[i], err)
		}
	}
	return nil
}

// convert turns a JSON value of ClickHouse type typ into what
// clickhouse.Rows.Scan gives *any.
func convert(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	for _, w := range []string{"Nullable(", "LowCardinality("} {
		if strings.HasPrefix(typ, w) {
			typ = typ[len(w) : len(typ)-1]
		}
	}
	text := ""
	switch x := v.(type) {
	case json.Number:
		text = string(x)
	case string:
		text = x
	case bool:
		if x {
			text = "1"
		} else {
			text = "0"
		}
	default:
		return fmt.Sprint(x), nil
	}
	switch {
	case typ == "UInt32":
		n, err := strconv.ParseUint(text, 10, 32)
		return uint32(n), err
	case strings.HasPrefix(typ, "UInt"):
		return strconv.ParseUint(text, 10, 64)
	case strings.HasPrefix(typ, "Int"):
		return strconv.ParseInt(text, 10, 64)
	case strings.HasPrefix(typ, "Float"):
		if text == "nan" || text == "inf" || text == "-inf" {
			return nil, fmt.Errorf("float %s", text)
		}
		return strconv.ParseFloat(text, 64)
	}
	return text, nil
}
