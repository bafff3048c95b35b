// Package chdbtest tests the ClickHouse store (examples/server/clickhouse)
// for real on chDB, ClickHouse in process: github.com/chdb-io/chdb-go
// loads libchdb.so (npm pack @chdb/lib-linux-x64-gnu, package/libchdb.so)
// without cgo from CHDB_LIB_PATH.
//
// chdb-go panics at init when the library is missing and allows one
// session per process, so it is a module of its own and its files build
// only with the tag chdb:
//
//	CHDB_LIB_PATH=/path/libchdb.so go test -tags chdb ./examples/server/clickhouse/chdbtest/
//
// Without the tag the tests skip and say so. The package's Conn (tag chdb)
// runs the store's SQL in a chDB session: statements and TabSeparated inserts
// as text, results read as JSONCompactEachRowWithNamesAndTypes.
// Concurrency: a Conn serialises its queries (chDB's session is one).
package chdbtest
