package mysql

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{"SELECT 1", "SELECT"},
		{"select * from `db`.`t` where x = 'from y'", "SELECT db.t"},
		{"SELECT a FROM users u JOIN orders o ON u.id = o.uid", "SELECT users"},
		{"/* hint */ insert into t1(a) values (1)", "INSERT t1"},
		{"-- note\n# other\nDELETE FROM `shop`.items WHERE id = 3", "DELETE shop.items"},
		{"/*!40101 SET NAMES utf8 */", ""},
		{"UPDATE LOW_PRIORITY t SET a = 1", "UPDATE t"},
		{"REPLACE INTO \"q\" VALUES (1)", "REPLACE q"},
		{"create table if not exists db.tt (a int)", "CREATE db.tt"},
		{"DROP TABLE IF EXISTS old", "DROP old"},
		{"TRUNCATE TABLE logs", "TRUNCATE logs"},
		{"TABLE t2", "TABLE t2"},
		{"LOAD DATA INFILE 'x' INTO TABLE t", "LOAD t"},
		{"SELECT a INTO OUTFILE '/tmp/x' FROM q", "SELECT q"},
		{"SELECT a INTO @v FROM q", "SELECT q"},
		{"SELECT * FROM (SELECT 1 FROM inner1) x", "SELECT inner1"},
		{"(SELECT 1 FROM p) UNION (SELECT 2 FROM r)", "SELECT p"},
		{"WITH x (a) AS (SELECT 1 FROM y), z AS (SELECT 2 FROM w) SELECT * FROM x JOIN z", "SELECT x"},
		{"WITH RECURSIVE c AS (select 1 from q) DELETE FROM d", "DELETE d"},
		{"with c as (select 1) select 2", "SELECT"},
		{"SHOW DATABASES", "SHOW"},
		{"set @id = 2", "SET"},
		{"use `d2`", "USE"},
		{"SELECT 'it''s', \"a\\\"b\" FROM t3", "SELECT t3"},
		{"SELECT * FROM", "SELECT"},
		{"", ""},
		{"   /* unterminated", ""},
		{"select * from " + strings.Repeat("x", 300), "SELECT " + strings.Repeat("x", endpointCap-len("SELECT "))},
	} {
		if got := string(appendEndpoint(nil, []byte(tc.sql))); got != tc.want {
			t.Errorf("%q: endpoint %q, want %q", tc.sql, got, tc.want)
		}
	}
}

func TestUseDatabase(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{"USE d2", "d2"},
		{"use `my db`;", "my db"},
		{"  /* c */ USE\td3 ;", "d3"},
		{"USE d2; SELECT * FROM t", "d2"},
		{"USE \"q\"", "q"},
		{"USED x", ""},
		{"USE", ""},
		{"USE a b", ""},
		{"SELECT 1; USE d", ""},
	} {
		db, ok := useDatabase([]byte(tc.sql))
		if string(db) != tc.want || ok != (tc.want != "") {
			t.Errorf("%q: %q %v, want %q", tc.sql, db, ok, tc.want)
		}
	}
}

// TestDatabaseContext: request_domain follows the login's database, a
// COM_INIT_DB or USE the server accepted (also as the first statement of
// several), and stays when the server refuses them; endpoints name the
// statement and its table.
func TestDatabaseContext(t *testing.T) {
	caps := uint32(baseCaps | ClientDeprecateEOF)
	more := uint16(2 | serverMoreResultsExists)
	steps := []step{
		{l7.ToClient, greetingPkt("10.11.6-MariaDB", caps)},
		{l7.ToServer, loginPkt(caps, "app", "d1")},
		{l7.ToClient, okPkt(2, 0, 2)},
		{l7.ToServer, query("SELECT * FROM t")},
		{l7.ToClient, resultSet(1, true)},
		{l7.ToServer, pkt(0, []byte{ComInitDB}, []byte("nope"))},
		{l7.ToClient, errPkt(1, 1049, "Unknown database 'nope'")},
		{l7.ToServer, query("USE missing")},
		{l7.ToClient, errPkt(1, 1049, "Unknown database 'missing'")},
		{l7.ToServer, query("SELECT 1")},
		{l7.ToClient, resultSet(1, true)},
		{l7.ToServer, query("USE d2; SELECT * FROM t2")},
		{l7.ToClient, cat(okPkt(1, 0, more), resultSet(1, true)[:0], pkt(2, []byte{1}), colDef(3, "a"), textRow(4, "x"), pkt(5, []byte{0xfe, 0, 0, 2, 0, 0, 0}))},
		{l7.ToServer, query("insert into `d2`.t3 values (1)")},
		{l7.ToClient, okPkt(1, 1, 2)},
		{l7.ToServer, pkt(0, []byte{ComInitDB}, []byte("d3"))},
		{l7.ToClient, okPkt(1, 0, 2)},
		{l7.ToServer, pkt(0, []byte{ComStmtPrepare}, []byte("UPDATE t4 SET a = ?"))},
		{l7.ToClient, pkt(1, []byte{0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})},
		{l7.ToServer, pkt(0, []byte{ComStmtExecute, 7, 0, 0, 0, 0, 1, 0, 0, 0})},
		{l7.ToClient, okPkt(1, 1, 2)},
	}
	msgs, err := run(t, newParser(), steps, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		if m.Kind == l7.KindRequest {
			got = append(got, string(m.RequestType)+"|"+string(m.RequestDomain)+"|"+string(m.Endpoint))
		}
	}
	want := []string{
		"COM_QUERY|d1|SELECT t",
		"COM_INIT_DB|nope|",
		"COM_QUERY|d1|USE",
		"COM_QUERY|d1|SELECT",
		"COM_QUERY|d1|USE",
		"COM_QUERY|d2|INSERT d2.t3",
		"COM_INIT_DB|d3|",
		"COM_STMT_PREPARE|d3|UPDATE t4",
		"COM_STMT_EXECUTE|d3|UPDATE t4",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
}
