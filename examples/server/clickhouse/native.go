package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DialConfig configures Dial. The zero value means defaults.
type DialConfig struct {
	// Addr is the server's native protocol address. Default
	// "127.0.0.1:9000".
	Addr string
	// User and Password authenticate. Default user "default", no
	// password.
	User, Password string
	// DialTimeout bounds connecting. Default 10 s.
	DialTimeout time.Duration
	// Compress sends blocks LZ4-compressed. Default false.
	Compress bool
}

// Dial connects to a ClickHouse server with clickhouse-go's native
// protocol and checks it answers.
func Dial(cfg DialConfig) (Conn, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:9000"
	}
	if cfg.User == "" {
		cfg.User = "default"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	opt := &ch.Options{
		Addr:        []string{cfg.Addr},
		Auth:        ch.Auth{Database: "default", Username: cfg.User, Password: cfg.Password},
		DialTimeout: cfg.DialTimeout,
	}
	if cfg.Compress {
		opt.Compression = &ch.Compression{Method: ch.CompressionLZ4}
	}
	c, err := ch.Open(opt)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open %s: %w", cfg.Addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("clickhouse: ping %s: %w", cfg.Addr, err)
	}
	return &native{c: c}, nil
}

type native struct{ c driver.Conn }

// Version returns the server's version ("18.16.1", "25.8.2").
func (n *native) Version() (string, error) {
	v, err := n.c.ServerVersion()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.%d.%d", v.Version.Major, v.Version.Minor, v.Version.Patch), nil
}

func (n *native) Exec(ctx context.Context, query string) error { return n.c.Exec(ctx, query) }

func (n *native) Close() error { return n.c.Close() }

func (n *native) Insert(ctx context.Context, table string, b *Block, token string) error {
	if token != "" {
		ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"insert_deduplication_token": token}))
	}
	batch, err := n.c.PrepareBatch(ctx, "INSERT INTO "+table+" ("+strings.Join(b.Names(), ", ")+")")
	if err != nil {
		return err
	}
	defer batch.Close()
	for i := range b.Cols {
		c := &b.Cols[i]
		var v any
		switch c.Type {
		case UInt64:
			v = c.U64[:b.Rows]
		case Int64:
			v = c.I64[:b.Rows]
		case UInt32:
			v = c.U32[:b.Rows]
		case String:
			v = c.Str[:b.Rows]
		case DateTime:
			v = c.Time[:b.Rows]
		case NullableUInt64:
			p := make([]*uint64, b.Rows)
			for r := range p {
				if !c.Null[r] {
					p[r] = &c.U64[r]
				}
			}
			v = p
		case NullableInt64:
			p := make([]*int64, b.Rows)
			for r := range p {
				if !c.Null[r] {
					p[r] = &c.I64[r]
				}
			}
			v = p
		case NullableString:
			p := make([]*string, b.Rows)
			for r := range p {
				if !c.Null[r] {
					p[r] = &c.Str[r]
				}
			}
			v = p
		}
		if err := batch.Column(i).Append(v); err != nil {
			return fmt.Errorf("column %s: %w", c.Name, err)
		}
	}
	return batch.Send()
}

func (n *native) Query(ctx context.Context, query string) (Rows, error) {
	r, err := n.c.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	nr := &nativeRows{r: r}
	for _, ct := range r.ColumnTypes() {
		nr.types = append(nr.types, ct.ScanType())
	}
	return nr, nil
}

type nativeRows struct {
	r     driver.Rows
	types []reflect.Type
	tmp   []any
}

func (r *nativeRows) Next() bool        { return r.r.Next() }
func (r *nativeRows) Columns() []string { return r.r.Columns() }
func (r *nativeRows) Err() error        { return r.r.Err() }
func (r *nativeRows) Close() error      { return r.r.Close() }

// Scan scans each column into a value of its own scan type, then assigns
// it: clickhouse-go is strict about destination types.
func (r *nativeRows) Scan(dest ...any) error {
	if len(dest) != len(r.types) {
		return fmt.Errorf("clickhouse: %d destinations for %d columns", len(dest), len(r.types))
	}
	if r.tmp == nil {
		r.tmp = make([]any, len(r.types))
	}
	for i, t := range r.types {
		r.tmp[i] = reflect.New(t).Interface()
	}
	if err := r.r.Scan(r.tmp...); err != nil {
		return err
	}
	for i, p := range r.tmp {
		if err := Assign(dest[i], Normalize(p)); err != nil {
			return fmt.Errorf("column %s: %w", r.r.Columns()[i], err)
		}
	}
	return nil
}
