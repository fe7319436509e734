package streams

import (
	"context"
	"strings"
	"testing"
)

// TestStreamEncryptionCompaction: a compacted log keeps each stream's encryption.
func TestStreamEncryptionCompaction(t *testing.T) {
	opts := Options{DataDir: t.TempDir(), compactThreshold: -1} // compact on every open
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, op := range [][2]string{
		{"CreateStream", `{"StreamName":"on","ShardCount":1}`},
		{"CreateStream", `{"StreamName":"off","ShardCount":1}`},
		{"StartStreamEncryption", `{"StreamName":"on","EncryptionType":"KMS","KeyId":"alias/aws/kinesis"}`},
		{"StartStreamEncryption", `{"StreamName":"off","EncryptionType":"KMS","KeyId":"alias/x"}`},
		{"StopStreamEncryption", `{"StreamName":"off","EncryptionType":"KMS","KeyId":"alias/x"}`},
	} {
		if _, err := e.Handle(ctx, op[0], []byte(op[1])); err != nil {
			t.Fatalf("%s: %v", op[0], err)
		}
	}
	e.Close()
	for round := range 2 {
		e, err = New(opts)
		if err != nil {
			t.Fatal(err)
		}
		on, _ := e.Handle(ctx, "DescribeStreamSummary", []byte(`{"StreamName":"on"}`))
		off, _ := e.Handle(ctx, "DescribeStreamSummary", []byte(`{"StreamName":"off"}`))
		if !strings.Contains(string(on), `"EncryptionType":"KMS","KeyId":"alias/aws/kinesis"`) ||
			!strings.Contains(string(off), `"EncryptionType":"NONE"`) || strings.Contains(string(off), "KeyId") {
			t.Fatalf("round %d after compaction:\non:  %s\noff: %s", round, on, off)
		}
		e.Close()
	}
}
