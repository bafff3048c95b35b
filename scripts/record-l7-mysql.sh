#!/usr/bin/env bash
# record-l7-mysql.sh: re-record testdata/l7/mysql.pcap (the mariadb client,
# mysqltest --ps-protocol and mariadb-admin against mariadbd over TCP, SSL
# off on both sides) between two network namespaces. Run as root; needs
# mariadb-server, mariadb-client, mariadb-test (mysqltest), tcpdump, tshark,
# iproute2 and ethtool. See testdata/README.md.
set -euo pipefail
. "$(dirname "$0")/lib-netns.sh"

OUT=$REPO/testdata/l7
PORT=3306
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

# Schema and user, over the Unix socket (not captured).
in_srv mariadb --no-defaults -S "$D/sock" -u root <<'SQL'
CREATE DATABASE shop;
CREATE DATABASE other;
CREATE USER 'mfrec'@'%' IDENTIFIED BY 'secret';
GRANT ALL ON *.* TO 'mfrec'@'%';
CREATE TABLE shop.items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32) NOT NULL,
	price DECIMAL(8,2), added DATETIME, note TEXT);
INSERT INTO shop.items (name, price, added, note) VALUES
	('apple', 1.20, '2024-01-02 03:04:05', 'red'),
	('banana', 0.35, '2024-02-03 04:05:06', NULL),
	('cherry', 7.00, '2024-03-04 05:06:07', 'a longer note about cherries'),
	('date', 3.10, NULL, '');
SQL

TCP=(--no-defaults -h "$SRV_IP" -P "$PORT" --protocol=tcp --skip-ssl)

cap_start "$OUT/mysql.pcap" "$NS_CLI" "$VETH_CLI" ip
# 1. Text protocol: login with a database, queries, an error, USE
#    (COM_INIT_DB), SQL-level PREPARE/EXECUTE, then COM_QUIT.
in_cli mariadb "${TCP[@]}" -u mfrec -psecret --force shop >/dev/null 2>&1 <<'SQL' || true
SELECT id, name, price, added, note FROM items ORDER BY id;
SHOW DATABASES;
SELECT * FROM no_such_table;
USE other
SELECT DATABASE(), 1 + 1 AS two, NULL AS nothing;
INSERT INTO shop.items (name, price) VALUES ('kiwi', 0.50);
UPDATE shop.items SET price = price * 2 WHERE name = 'kiwi';
PREPARE s FROM 'SELECT name, price FROM shop.items WHERE id = ?';
SET @id = 2;
EXECUTE s USING @id;
DEALLOCATE PREPARE s;
SQL
# 2. Binary protocol: mysqltest --ps-protocol runs each statement as
#    COM_STMT_PREPARE + COM_STMT_EXECUTE (+ COM_STMT_CLOSE).
cat >"$D/ps.test" <<'SQL'
SELECT id, name, price, added FROM items WHERE id <= 3 ORDER BY id;
INSERT INTO items (name, price, added) VALUES ('fig', 2.25, '2024-05-06 07:08:09');
SELECT COUNT(*) AS n, SUM(price) AS total FROM items;
--error 1146
SELECT * FROM no_such_table;
SQL
in_cli mysqltest "${TCP[@]}" --user=mfrec --password=secret --database=shop --ps-protocol \
	--test-file="$D/ps.test" >"$D/ps.out" 2>&1 || { cat "$D/ps.out" >&2; exit 1; }
# 3. COM_PING, and a login refused for a wrong password (ERR 1045).
in_cli mariadb-admin "${TCP[@]}" -u mfrec -psecret ping >/dev/null
in_cli mariadb "${TCP[@]}" -u mfrec -pwrong -e 'SELECT 1' >/dev/null 2>&1 || true
cap_stop
summarize "$OUT/mysql.pcap"
