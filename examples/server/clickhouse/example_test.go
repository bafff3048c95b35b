package clickhouse_test

import (
	"fmt"
	"log"
	"time"

	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
	"github.com/metaflow-go/metaflow/examples/server/ingest"
)

// A server's ClickHouse store: connect, open (creating the schema), and
// hand it to the agent endpoint, as the server's -clickhouse flag does.
func Example() {
	conn, err := clickhouse.Dial(clickhouse.DialConfig{Addr: "127.0.0.1:9000", Compress: true})
	if err != nil {
		log.Fatal(err)
	}
	st, err := clickhouse.Open(clickhouse.Config{Conn: conn, Database: "metaflow", Retention: 30 * 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	h, err := ingest.New(ingest.Config{Backend: st})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h != nil, st.TagKeys()[0])
}
