package kinesislocal_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-go/shoal/kinesislocal"
)

// BenchmarkPutRecordsFaultCheck measures the put path through ServeHTTP with no fault injection
// configured, with a fault on another operation (no body parsing), and with an Intercept hook
// (every request described). Compare "none" with the same benchmark on a build without the hook:
// the fast path must not slow down.
func BenchmarkPutRecordsFaultCheck(b *testing.B) {
	type entry struct{ Data, PartitionKey string }
	entries := make([]entry, 500)
	for i := range entries {
		entries[i] = entry{Data: base64.StdEncoding.EncodeToString(make([]byte, 100)), PartitionKey: "k" + strconv.Itoa(i)}
	}
	body, _ := json.Marshal(map[string]any{"StreamName": "bench", "Records": entries})
	cases := []struct {
		name string
		opts kinesislocal.Options
	}{
		{"none", kinesislocal.Options{}},
		{"other-op-fault", kinesislocal.Options{Faults: []kinesislocal.Fault{{Operation: "GetRecords", Latency: time.Second}}}},
		{"intercept", kinesislocal.Options{Intercept: func(kinesislocal.Request) kinesislocal.Injection { return kinesislocal.Injection{} }}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			srv, err := kinesislocal.New(c.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			call := func(target, body string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
				req.Header.Set("X-Amz-Target", target)
				req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00")
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				return rec
			}
			if rec := call("Kinesis_20131202.CreateStream", `{"StreamName":"bench","ShardCount":4}`); rec.Code != 200 {
				b.Fatal(rec.Body.String())
			}
			b.SetBytes(500 * 100)
			b.ReportAllocs()
			for b.Loop() {
				if rec := call("Kinesis_20131202.PutRecords", string(body)); rec.Code != 200 {
					b.Fatal(rec.Body.String())
				}
			}
		})
	}
}
