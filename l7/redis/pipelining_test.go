package redis_test

import (
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
	"github.com/metaflow-go/metaflow/l7/redis"
)

// TestDeepPipelining: a bulk load pipelines 1,001 commands ahead of their
// replies (the golden testdata/l7/redis/zeek_bulk-loading.pcap.golden, read
// from tshark's follow,tcp,raw bytes, holds 1,001 commands and 1,001
// replies); at the engine's defaults every one pairs with its reply, where
// a fixed 16 outstanding requests per flow paired only 81.
func TestDeepPipelining(t *testing.T) {
	path := filepath.Join(testutil.SharedPcaps(t, "redis"), "zeek_bulk-loading.pcap")
	reg, err := l7.NewRegistry(redis.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	res := l7test.Run(t, path, l7.Config{Registry: reg})
	ok := 0
	for _, r := range res.Records {
		if r.HasRequest && r.HasResponse && r.Status == l7.StatusOk {
			ok++
		}
	}
	if ok != 1001 || len(res.Records) != 1001 || res.Stats.SessionsOverflowed != 0 {
		t.Errorf("%d records, %d paired Ok, %d overflowed; want 1001 paired", len(res.Records), ok, res.Stats.SessionsOverflowed)
	}
}
