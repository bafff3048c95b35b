package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Conn runs SQL on a ClickHouse: a server through clickhouse-go (Dial) or
// an in-process chDB session (the tests' chdbtest module). Statements
// come as complete SQL text (arguments already quoted by the store);
// inserts come as column blocks. A Conn is safe for concurrent use.
type Conn interface {
	// Exec runs a statement that returns no rows (DDL, ALTER).
	Exec(ctx context.Context, query string) error
	// Insert writes b into table (a qualified name) as one INSERT that
	// lists b's columns. A non-empty token is the INSERT's
	// insert_deduplication_token: ClickHouse drops a block whose token it
	// has seen within the table's non_replicated_deduplication_window.
	Insert(ctx context.Context, table string, b *Block, token string) error
	// Query runs a SELECT; the caller closes the Rows.
	Query(ctx context.Context, query string) (Rows, error)
	Close() error
}

// Rows is the result of Query, read like database/sql's. Scan takes
// pointers to uint32, uint64, int64, float64, string or any; a NULL scans
// as the zero value (nil into *any). Into *any, integers come as uint64
// (unsigned) or int64, with UInt32 as uint32 (tag ids).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Columns() []string
	Err() error
	Close() error
}

// Type is the ClickHouse type of a Block column.
type Type uint8

// Column types of a Block, with the slice of Column that holds them.
const (
	UInt64         Type = iota // U64
	Int64                      // I64
	UInt32                     // U32
	String                     // Str
	NullableUInt64             // U64 and Null
	NullableInt64              // I64 and Null
	NullableString             // Str and Null
	DateTime                   // Time
)

func (t Type) String() string {
	return [...]string{"UInt64", "Int64", "UInt32", "String", "Nullable(UInt64)", "Nullable(Int64)", "Nullable(String)", "DateTime"}[t]
}

// Column is a column of a Block: its values are in the slice Type names;
// Null[i] marks a NULL row of a nullable column.
type Column struct {
	Name string
	Type Type
	U64  []uint64
	I64  []int64
	U32  []uint32
	Str  []string
	Null []bool
	Time []time.Time
}

// Block is the rows of one INSERT, by column.
type Block struct {
	Rows int
	Cols []Column
}

// Names returns the column names.
func (b *Block) Names() []string {
	out := make([]string, len(b.Cols))
	for i := range b.Cols {
		out[i] = b.Cols[i].Name
	}
	return out
}

// AppendText appends row i of c as a ClickHouse literal (Values format).
func (c *Column) AppendText(dst []byte, i int) []byte {
	if c.Null != nil && c.Null[i] {
		return append(dst, "NULL"...)
	}
	switch c.Type {
	case UInt64, NullableUInt64:
		return strconv.AppendUint(dst, c.U64[i], 10)
	case Int64, NullableInt64:
		return strconv.AppendInt(dst, c.I64[i], 10)
	case UInt32:
		return strconv.AppendUint(dst, uint64(c.U32[i]), 10)
	case DateTime:
		return strconv.AppendInt(dst, c.Time[i].Unix(), 10)
	default:
		return AppendQuote(dst, c.Str[i])
	}
}

// AppendTSV appends row i of c as a TabSeparated field: \N for NULL,
// backslash escapes for tab, newline and backslash.
func (c *Column) AppendTSV(dst []byte, i int) []byte {
	if c.Null != nil && c.Null[i] {
		return append(dst, '\\', 'N')
	}
	switch c.Type {
	case String, NullableString:
		s := c.Str[i]
		for j := 0; j < len(s); j++ {
			switch b := s[j]; b {
			case '\t':
				dst = append(dst, '\\', 't')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\\':
				dst = append(dst, '\\', '\\')
			default:
				dst = append(dst, b)
			}
		}
		return dst
	}
	return c.AppendText(dst, i)
}

// AppendQuote appends s as a ClickHouse string literal: single quotes,
// backslash escapes for the quote, the backslash and control bytes.
func AppendQuote(dst []byte, s string) []byte {
	dst = append(dst, '\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '\'')
}

// Quote returns s as a ClickHouse string literal.
func Quote(s string) string { return string(AppendQuote(nil, s)) }

// Bind replaces each '?' of query outside string literals with args[i]
// as a literal: int, int64, uint32, uint64, float64 or string.
func Bind(query string, args ...any) (string, error) {
	var b []byte
	n := 0
	inStr := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case inStr && c == '\\' && i+1 < len(query):
			b = append(b, c, query[i+1])
			i++
			continue
		case c == '\'':
			inStr = !inStr
		case c == '?' && !inStr:
			if n == len(args) {
				return "", fmt.Errorf("clickhouse: %d arguments for more placeholders", len(args))
			}
			switch v := args[n].(type) {
			case int:
				b = strconv.AppendInt(b, int64(v), 10)
			case int64:
				b = strconv.AppendInt(b, v, 10)
			case uint32:
				b = strconv.AppendUint(b, uint64(v), 10)
			case uint64:
				b = strconv.AppendUint(b, v, 10)
			case float64:
				b = strconv.AppendFloat(b, v, 'g', -1, 64)
			case string:
				b = AppendQuote(b, v)
			default:
				return "", fmt.Errorf("clickhouse: argument of type %T", v)
			}
			n++
			continue
		}
		b = append(b, c)
	}
	if n != len(args) {
		return "", fmt.Errorf("clickhouse: %d arguments for %d placeholders", len(args), n)
	}
	return string(b), nil
}

// Assign stores v (uint64, int64, float64, string, uint32 or nil) into
// dest (a pointer to uint32, uint64, int64, float64, string or any), as
// Rows.Scan documents. Conn implementations share it.
func Assign(dest, v any) error {
	if p, ok := dest.(*any); ok {
		*p = v
		return nil
	}
	if v == nil {
		reflect.ValueOf(dest).Elem().SetZero()
		return nil
	}
	rv := reflect.ValueOf(v)
	switch p := dest.(type) {
	case *string:
		if s, ok := v.(string); ok {
			*p = s
			return nil
		}
	case *float64:
		switch rv.Kind() {
		case reflect.Float32, reflect.Float64:
			*p = rv.Float()
			return nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			*p = float64(rv.Int())
			return nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			*p = float64(rv.Uint())
			return nil
		}
	case *int64:
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			*p = rv.Int()
			return nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			*p = int64(rv.Uint())
			return nil
		}
	case *uint64:
		switch rv.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			*p = rv.Uint()
			return nil
		}
	case *uint32:
		switch rv.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if rv.Uint() <= 1<<32-1 {
				*p = uint32(rv.Uint())
				return nil
			}
		}
	}
	return fmt.Errorf("clickhouse: cannot scan %T into %T", v, dest)
}

// Normalize turns a value of a ClickHouse type named typ (text as
// DESCRIBE prints it, or a Go value of clickhouse-go) into what Rows.Scan
// gives *any: uint32 for UInt32, uint64 for other unsigned integers,
// int64 for signed ones, float64, string, nil.
func Normalize(v any) any {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Uint32:
		return uint32(rv.Uint())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint64:
		return rv.Uint()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.String:
		return rv.String()
	case reflect.Invalid:
		return nil
	}
	if t, ok := rv.Interface().(time.Time); ok {
		return t.Unix()
	}
	return fmt.Sprint(rv.Interface())
}

// ident reports whether s is a plain identifier (a column or table name
// that needs no quoting).
func ident(s string) bool {
	if s == "" {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
}
