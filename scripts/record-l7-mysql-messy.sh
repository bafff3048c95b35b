#!/usr/bin/env bash
# record-l7-mysql-messy.sh: re-record the MySQL captures of the messy cases
# (database switches, captures joined mid-connection, the compressed
# protocol joined mid-stream) between two network namespaces, with
# mariadbd listening on 10.201.0.2:17706 (SSL off on both sides):
#
#   testdata/l7/mysql-switch.pcap      sessions switching databases: the
#       login's database, COM_INIT_DB (the client's "use"), USE as a
#       COM_QUERY, alone and first of several statements, both refused for
#       an unknown database; statements for the endpoints (CTE, JOIN,
#       comments, db.table).
#   testdata/l7/mysql-midstream.pcap   tcpdump started after the clients
#       connected: one idle connection, one in the middle of a result set
#       sent slowly; both go on with statements and database switches.
#   testdata/l7/mysql-compressed.pcap  a --compress session from its
#       handshake: a slow large result set, then statements and switches.
#   testdata/l7/mysql-compressed-midstream.pcap  the same capture from a
#       server segment inside a compressed frame in the middle of the large
#       result set (editcap -r): what a tcpdump started then sees, a partial
#       compressed frame first. The goldens of this one come from tshark
#       on mysql-compressed.pcap (which has the handshake), restricted to
#       the frames kept (scripts/l7-mysql-goldens.py).
#
# Run as root; needs mariadb-server, mariadb-client, tcpdump, tshark,
# editcap, iproute2 and ethtool. Then scripts/l7-mysql-goldens.py.
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/testdata/l7
PORT=17706
D=$MFREC_TMP/mysql

netns_up
mkdir -p "$D"
mariadb-install-db --no-defaults --datadir="$D/data" --user=root \
	--auth-root-authentication-method=normal --skip-test-db >"$D/install.log" 2>&1 ||
	{ cat "$D/install.log" >&2; exit 1; }
ns_bg "$NS_SRV" mariadbd --no-defaults --datadir="$D/data" --user=root \
	--socket="$D/sock" --pid-file="$D/pid" --log-error="$D/error.log" \
	--bind-address="$SRV_IP" --port="$PORT" --skip-ssl --skip-name-resolve \
	--skip-log-bin --innodb-buffer-pool-size=16M
wait_port "$NS_SRV" "$SRV_IP" "$PORT"

# Schema and user, over the Unix socket (not captured): three databases
# with a table t of 1, 2 and 3 rows, and d1.big (600 rows of 256 hex
# digits, which deflate to about half).
in_srv mariadb --no-defaults -S "$D/sock" -u root <<'SQL'
CREATE DATABASE d1;
CREATE DATABASE d2;
CREATE DATABASE d3;
CREATE USER 'mfrec'@'%' IDENTIFIED BY 'secret';
GRANT ALL ON *.* TO 'mfrec'@'%';
CREATE TABLE d1.t (id INT PRIMARY KEY, name VARCHAR(16));
CREATE TABLE d2.t LIKE d1.t;
CREATE TABLE d3.t LIKE d1.t;
CREATE TABLE d2.orders (id INT PRIMARY KEY, tid INT, qty INT);
INSERT INTO d1.t VALUES (1, 'one');
INSERT INTO d2.t VALUES (1, 'one'), (2, 'two');
INSERT INTO d3.t VALUES (1, 'one'), (2, 'two'), (3, 'three');
INSERT INTO d2.orders VALUES (1, 1, 5), (2, 2, 7);
USE d1;
CREATE TABLE d1.big (id INT PRIMARY KEY, pad VARCHAR(256));
INSERT INTO d1.big SELECT seq, CONCAT(SHA2(seq, 512), SHA2(-seq, 512)) FROM seq_1_to_600;
SQL

TCP=(--no-defaults -h "$SRV_IP" -P "$PORT" --protocol=tcp --skip-ssl -u mfrec -psecret)

# 1. Database switches.
cap_start "$OUT/mysql-switch.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$PORT"
# 1a. The mariadb client sends its "use" as COM_INIT_DB (also when a
#     comment comes first, or more statements follow), then SELECT DATABASE().
in_cli mariadb "${TCP[@]}" --force -D d1 >/dev/null 2>&1 <<'SQL' || true
SELECT * FROM t;
use d2
SELECT * FROM t;
use nosuch
SELECT * FROM t;
/* as a query */ USE d3;
SELECT * FROM t;
SQL
# 1b. mysqltest sends every statement as a COM_QUERY: USE alone, refused,
#     first of two statements; statements for the endpoints.
cat >"$D/switch.test" <<'SQL'
SELECT * FROM t;
/* as a query */ USE d3;
SELECT * FROM t;
--error 1049
USE nosuch;
SELECT * FROM t;
delimiter //;
USE d2; SELECT * FROM t//
delimiter ;//
SELECT t.name, o.qty FROM t JOIN orders o ON o.tid = t.id;
WITH c AS (SELECT id FROM d3.t) SELECT COUNT(*) FROM orders WHERE tid IN (SELECT id FROM c);
/* a comment */ INSERT INTO `d1`.`t` VALUES (2, 'two');
UPDATE d1.t SET name = 'deux' WHERE id = 2;
DELETE FROM d1.t WHERE id = 2;
SELECT 1 + 1;
use `d1`;
SELECT * FROM t;
SQL
in_cli mysqltest "${TCP[@]}" --database=d1 --test-file="$D/switch.test" >"$D/switch.out" 2>&1 ||
	{ cat "$D/switch.out" >&2; exit 1; }
cap_stop
summarize "$OUT/mysql-switch.pcap"

# slow_client NAME ARGS...: a mariadb client in the client namespace reading
# statements from the FIFO $D/NAME.in (kept open on fd 3 or 4 by the caller).
slow_client() {
	local name=$1
	shift
	mkfifo "$D/$name.in"
	in_cli mariadb "${TCP[@]}" --force "$@" <"$D/$name.in" >"$D/$name.out" 2>&1 &
	MFREC_PIDS+=($!)
}

# 2. Joined mid-stream: both clients connect and talk before tcpdump starts.
slow_client idle -D d1
exec 3>"$D/idle.in"
slow_client busy -D d1
exec 4>"$D/busy.in"
echo 'SELECT * FROM t;' >&3
echo "SELECT id, SLEEP(0.003), pad FROM big;" >&4
sleep 1
cap_start "$OUT/mysql-midstream.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$PORT"
sleep 2.5
cat >&3 <<'SQL'
SELECT * FROM t;
use d2
SELECT * FROM t;
/* q */ USE d3;
SELECT name FROM t WHERE id = 3;
SELECT * FROM no_such_table;
SQL
cat >&4 <<'SQL'
SELECT COUNT(*) FROM big;
use d3
SELECT * FROM t;
SQL
sleep 1
exec 3>&- 4>&-
sleep 1
cap_stop
summarize "$OUT/mysql-midstream.pcap"

# 3. The compressed protocol, from the handshake; the mid-stream cut starts
#    about 1 s into the slow result set.
cap_start "$D/compressed.pcap" "$NS_CLI" "$VETH_CLI" tcp port "$PORT"
slow_client zip --compress -D d1
exec 3>"$D/zip.in"
echo 'SELECT * FROM t;' >&3
echo "SELECT id, SLEEP(0.003), pad FROM big;" >&3
sleep 1
CUT=$(date +%s.%N)
sleep 2.5
cat >&3 <<'SQL'
SELECT * FROM t;
use d2
SELECT t.name, o.qty FROM t JOIN orders o ON o.tid = t.id;
/* q */ USE d3;
SELECT * FROM t;
use nosuch
SELECT * FROM big WHERE id < 300;
SELECT * FROM no_such_table;
SQL
sleep 1
exec 3>&-
sleep 1
cap_stop
cp "$D/compressed.pcap" "$OUT/mysql-compressed.pcap"
# The cut: the first server segment at or after $CUT that is full (1448
# bytes) after a full one, so inside a compressed frame of a burst.
FIRST=$(tshark -r "$OUT/mysql-compressed.pcap" -n -T fields -e frame.number -e frame.time_epoch \
	-e tcp.srcport -e tcp.len 2>/dev/null | awk -F'\t' -v cut="$CUT" -v port="$PORT" '
	$3 == port && $4 == 1448 && prev == 1 && $2 >= cut { print $1; exit }
	{ prev = ($3 == port && $4 == 1448) }')
[ -n "$FIRST" ] || { echo "$0: no cut point after $CUT" >&2; exit 1; }
editcap -F pcap -r "$OUT/mysql-compressed.pcap" "$OUT/mysql-compressed-midstream.pcap" "$FIRST-1000000"
summarize "$OUT/mysql-compressed.pcap"
summarize "$OUT/mysql-compressed-midstream.pcap"
