package main

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/l7"
)

func tableOf(b *encoding.Batch, typ encoding.TableType) *encoding.Table {
	for i := range b.Tables {
		if b.Tables[i].Type == typ {
			return &b.Tables[i]
		}
	}
	return nil
}

func post(t testing.TB, u, token, id string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u+ingest.Path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if id != "" {
		req.Header.Set("X-Batch-ID", id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// goodFrame is a real frame of a capture's records, encoded without ids.
func goodFrame(t testing.TB, rows int) []byte {
	t.Helper()
	b := frameOf(t, rows)
	return b
}

func TestServer_BadInput(t *testing.T) {
	const token = "tok"
	ts := startServer(t, options{db: filepath.Join(t.TempDir(), "bad.duckdb"), token: token, maxBytes: 64 << 10})
	good := goodFrame(t, 200)
	if len(good) > 64<<10 {
		t.Fatalf("frame of %d bytes", len(good))
	}
	truncated := good[:len(good)-10]
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 0xff
	badVersion := bytes.Clone(good)
	badVersion[4] = 9 // major version
	badFlags := bytes.Clone(good)
	binary.LittleEndian.PutUint16(badFlags[6:], binary.LittleEndian.Uint16(badFlags[6:])|0x80)
	big := goodFrame(t, 20000)
	if len(big) <= 64<<10 {
		t.Fatalf("big frame of only %d bytes", len(big))
	}
	for _, c := range []struct {
		name, token, id string
		body            []byte
		code            int
		msg             string
	}{
		{"no token", "", "a", good, 401, "token"},
		{"wrong token", "nope", "a", good, 401, "token"},
		{"no batch id", token, "", good, 400, "X-Batch-ID"},
		{"batch id with spaces", token, "a b", good, 400, "X-Batch-ID"},
		{"garbage", token, "g", []byte("hello, this is not a frame at all......"), 400, "bad frame"},
		{"empty", token, "e", nil, 400, "bad frame"},
		{"truncated", token, "t", truncated, 400, "bad frame"},
		{"bad checksum", token, "c", badSum, 400, "checksum"},
		{"unknown version", token, "v", badVersion, 400, "version"},
		{"unknown required flag", token, "f", badFlags, 400, "version or flags"},
		{"oversized", token, "o", big, 413, "limit"},
	} {
		code, msg := post(t, ts.url, c.token, c.id, c.body)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %d %q, want %d and %q", c.name, code, msg, c.code, c.msg)
		}
	}
	var n int
	ts.st.DB().QueryRow("SELECT (SELECT count(*) FROM l4_flow_log) + (SELECT count(*) FROM l7_flow_log) + (SELECT count(*) FROM tag_dict) + (SELECT count(*) FROM batches)").Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows stored from bad input", n)
	}
	st := ts.ing.Stats()
	if st.Unauthorized != 2 || st.BadRequest != 8 || st.TooLarge != 1 || st.Stored != 0 {
		t.Fatalf("ingest stats %+v", st)
	}
	// The good frame goes in, once.
	for i := 0; i < 2; i++ {
		code, ack := post(t, ts.url, token, "good-1", good)
		if code != 200 {
			t.Fatalf("good frame: %d %s", code, ack)
		}
		var d encoding.Delta
		if _, err := encoding.ParseDelta([]byte(ack), &d); err != nil || len(d.Entries) == 0 {
			t.Fatalf("ack: %v, %d entries", err, len(d.Entries))
		}
	}
	if st := ts.ing.Stats(); st.Stored != 1 || st.Duplicates != 1 {
		t.Fatalf("ingest stats %+v", st)
	}
	// Ids of another dictionary epoch (a server that lost its store): 409
	// with the whole dictionary, nothing stored.
	other := encoding.NewDictionary(nil)
	other.Assign("service", "svc-6379")
	ad := encoding.NewAgentDict()
	ad.Apply(other.Sync(0, 0))
	enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: ad})
	b, _ := encoding.Decode(good)
	var r l7.Record
	for row := 0; row < 3; row++ {
		if err := tableOf(b, encoding.TableL7).L7(row, nil, &r); err != nil {
			t.Fatal(err)
		}
		enc.AddL7(&r)
	}
	stale, _ := enc.AppendFrame(nil)
	code, body := post(t, ts.url, token, "stale-1", stale)
	var d encoding.Delta
	if _, err := encoding.ParseDelta([]byte(body), &d); code != 409 || err != nil || d.From != 0 || d.Epoch != ts.st.Dict().Epoch() {
		t.Fatalf("stale ids: %d, delta from %d epoch %d (%v)", code, d.From, d.Epoch, err)
	}
	if st := ts.ing.Stats(); st.Resync != 1 || st.Stored != 1 {
		t.Fatalf("ingest stats %+v", st)
	}
	// Query API: token and bad parameters.
	for _, c := range []struct {
		path, token string
		code        int
	}{
		{"/api/v1/l7", "", 401},
		{"/api/v1/l7?limit=0", token, 400},
		{"/api/v1/l7?nosuch=1", token, 400},
		{"/api/v1/l7?server_port=http", token, 400},
		{"/api/v1/l4?from=yesterday", token, 400},
		{"/api/v1/l4?cursor=-4", token, 400},
		{"/api/v1/red?group=pod", token, 400},
		{"/api/v1/servicemap?to=now", token, 400},
		{"/api/v1/l7?server_port=6379", token, 200},
	} {
		if code := getJSON(t, ts.url+c.path, c.token, nil); code != c.code {
			t.Errorf("%s: %d, want %d", c.path, code, c.code)
		}
	}
	if st := ts.api.Stats(); st.BadRequest != 7 || st.Unauthorized != 1 {
		t.Fatalf("query stats %+v", st)
	}
}
