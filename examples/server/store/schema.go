package store

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/metaflow-go/metaflow/encoding"
)

// column is a fixed column of a record table: its RECORDS.md name (the
// wire format's), the wire type it is read from and its SQL type.
type column struct {
	name string
	wire encoding.ColumnType
}

func sqlType(t encoding.ColumnType) string {
	switch t {
	case encoding.ColUvarint, encoding.ColOptUvarint:
		return "UBIGINT"
	case encoding.ColVarint, encoding.ColDelta, encoding.ColOptVarint:
		return "BIGINT"
	default:
		return "VARCHAR"
	}
}

// sqlDefault is the DEFAULT clause of a column: what a frame that leaves
// the column out means (0, ”, NULL for optional values and addresses).
func sqlDefault(t encoding.ColumnType) string {
	switch t {
	case encoding.ColUvarint, encoding.ColVarint, encoding.ColDelta:
		return " NOT NULL DEFAULT 0"
	case encoding.ColString:
		return " NOT NULL DEFAULT ''"
	default:
		return ""
	}
}

var l4Columns = []column{
	{"flow_id", encoding.ColDelta}, {"start_time", encoding.ColDelta}, {"end_time", encoding.ColDelta},
	{"duration", encoding.ColVarint}, {"ip_0", encoding.ColAddr}, {"ip_1", encoding.ColAddr},
	{"client_port", encoding.ColUvarint}, {"server_port", encoding.ColUvarint}, {"protocol", encoding.ColUvarint},
	{"vlan", encoding.ColUvarint}, {"tunnel_type", encoding.ColUvarint}, {"l7_protocol", encoding.ColString},
	{"close_type", encoding.ColUvarint}, {"snapshot", encoding.ColUvarint},
	{"packet_tx", encoding.ColUvarint}, {"packet_rx", encoding.ColUvarint},
	{"byte_tx", encoding.ColUvarint}, {"byte_rx", encoding.ColUvarint},
	{"l4_byte_tx", encoding.ColUvarint}, {"l4_byte_rx", encoding.ColUvarint},
	{"rtt", encoding.ColOptUvarint}, {"rtt_client", encoding.ColOptUvarint}, {"rtt_server", encoding.ColOptUvarint},
	{"srt_max", encoding.ColUvarint}, {"srt_sum", encoding.ColUvarint}, {"srt_count", encoding.ColUvarint},
	{"art_max", encoding.ColUvarint}, {"art_sum", encoding.ColUvarint}, {"art_count", encoding.ColUvarint},
	{"retrans_tx", encoding.ColUvarint}, {"retrans_rx", encoding.ColUvarint},
	{"zero_win_tx", encoding.ColUvarint}, {"zero_win_rx", encoding.ColUvarint},
	{"ooo_tx", encoding.ColUvarint}, {"ooo_rx", encoding.ColUvarint},
	{"syn_count", encoding.ColUvarint}, {"synack_count", encoding.ColUvarint},
	{"retrans_syn", encoding.ColUvarint}, {"retrans_synack", encoding.ColUvarint},
	{"fin_count", encoding.ColUvarint},
	{"l7_request", encoding.ColUvarint}, {"l7_response", encoding.ColUvarint},
	{"l7_client_error", encoding.ColUvarint}, {"l7_server_error", encoding.ColUvarint},
	{"l7_server_timeout", encoding.ColUvarint},
}

var l7Columns = []column{
	{"flow_id", encoding.ColDelta}, {"start_time", encoding.ColDelta}, {"end_time", encoding.ColDelta},
	{"ip_0", encoding.ColAddr}, {"ip_1", encoding.ColAddr},
	{"client_port", encoding.ColUvarint}, {"server_port", encoding.ColUvarint}, {"protocol", encoding.ColUvarint},
	{"l7_protocol", encoding.ColString}, {"is_tls", encoding.ColUvarint},
	{"has_request", encoding.ColUvarint}, {"has_response", encoding.ColUvarint},
	{"version", encoding.ColString},
	{"req_tcp_seq", encoding.ColUvarint}, {"resp_tcp_seq", encoding.ColUvarint},
	{"request_length", encoding.ColVarint}, {"response_length", encoding.ColVarint},
	{"captured_request_byte", encoding.ColUvarint}, {"captured_response_byte", encoding.ColUvarint},
	{"request_type", encoding.ColString}, {"request_domain", encoding.ColString},
	{"request_resource", encoding.ColString}, {"endpoint", encoding.ColString},
	{"request_id", encoding.ColOptUvarint}, {"response_status", encoding.ColOptUvarint},
	{"response_code", encoding.ColOptVarint},
	{"response_exception", encoding.ColString}, {"response_result", encoding.ColString},
	{"trace_id", encoding.ColString}, {"span_id", encoding.ColString}, {"parent_span_id", encoding.ColString},
	{"x_request_id_0", encoding.ColString}, {"x_request_id_1", encoding.ColString},
	{"user_agent", encoding.ColString},
	// eBPF and capture point (encoding/FORMAT.md): added to stores
	// created before them (migrate).
	{"process_id_0", encoding.ColUvarint}, {"process_id_1", encoding.ColUvarint},
	{"process_kname_0", encoding.ColString}, {"process_kname_1", encoding.ColString},
	{"syscall_trace_id_request", encoding.ColUvarint}, {"syscall_trace_id_response", encoding.ColUvarint},
	{"syscall_thread_0", encoding.ColUvarint}, {"syscall_thread_1", encoding.ColUvarint},
	{"tap_side", encoding.ColString}, {"agent_id", encoding.ColString},
	{"syscall_coroutine_0", encoding.ColUvarint}, {"syscall_coroutine_1", encoding.ColUvarint},
}

// l7Extra are l7_flow_log columns the wire format does not carry; none
// since it carries the syscall trace ids (stores created before keep
// them as nullable UBIGINT columns, which read the same).
var l7Extra []string

// nullable are the columns created without NOT NULL: tap_side, which the
// span columns (ext.go) added as a nullable VARCHAR before the wire
// format carried it, so that old and new stores have one schema.
var nullable = map[string]bool{"tap_side": true}

// DefaultTagKeys are the tag keys whose columns every record table has
// from the start (autotag's keys); a batch with another key adds its
// columns.
var DefaultTagKeys = []string{
	"region", "az", "host", "chost", "l3_epc", "subnet", "natgw", "lb",
	"pod_cluster", "pod_node", "pod_ns", "pod_group", "pod", "service",
	"ingress", "gprocess", "container_id",
}

var keyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// ValidKey reports whether key can name tag columns: lower case letters,
// digits and '_', starting with a letter, at most 48 bytes.
func ValidKey(key string) bool { return keyRE.MatchString(key) }

func createTable(name string, cols []column, extra []string, keys []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (batch_seq UBIGINT NOT NULL", name)
	for _, c := range cols {
		def := sqlDefault(c.wire)
		if nullable[c.name] {
			def = ""
		}
		fmt.Fprintf(&b, ", %s %s%s", c.name, sqlType(c.wire), def)
	}
	for _, e := range extra {
		fmt.Fprintf(&b, ", %s UBIGINT", e)
	}
	for _, k := range keys {
		fmt.Fprintf(&b, ", %s_id_0 UINTEGER NOT NULL DEFAULT 0, %s_id_1 UINTEGER NOT NULL DEFAULT 0", k, k)
	}
	b.WriteString(")")
	return b.String()
}

// migrate are the statements that add to a table created by an older
// server the fixed columns it lacks (DuckDB adds them with their default,
// without NOT NULL: old rows read as 0 or ”).
func migrate(name string, cols []column) []string {
	var out []string
	for _, c := range cols {
		def := strings.TrimPrefix(sqlDefault(c.wire), " NOT NULL")
		if nullable[c.name] {
			def = ""
		}
		out = append(out, fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s%s", name, c.name, sqlType(c.wire), def))
	}
	return out
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`,
	// One dictionary table for every tag key: (key, id) -> value; version
	// is the assignment's dictionary version, the order of restoring.
	`CREATE TABLE IF NOT EXISTS tag_dict (key VARCHAR NOT NULL, id UINTEGER NOT NULL, value VARCHAR NOT NULL, version UBIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS tag_keys (key VARCHAR PRIMARY KEY, pos INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS labels (kind VARCHAR NOT NULL, id UINTEGER NOT NULL, key VARCHAR NOT NULL, value VARCHAR NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS batches (seq UBIGINT PRIMARY KEY, batch_id VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL, l4_rows UBIGINT NOT NULL, l7_rows UBIGINT NOT NULL)`,
}

// traceIndexes are the l7_flow_log columns the trace search looks rows up
// by.
var traceIndexes = []string{"trace_id", "x_request_id_0", "x_request_id_1", "req_tcp_seq", "resp_tcp_seq", "syscall_trace_id_request", "syscall_trace_id_response"}
