package streams_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// encryptionOf returns EncryptionType and KeyId as DescribeStream and DescribeStreamSummary
// report them, failing if the two disagree.
func encryptionOf(t *testing.T, c *kinesis.Client, name string) (types.EncryptionType, string, types.StreamStatus) {
	t.Helper()
	ctx := ctxT(t)
	d, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: &name})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
	if err != nil {
		t.Fatal(err)
	}
	dd, ss := d.StreamDescription, s.StreamDescriptionSummary
	if dd.EncryptionType != ss.EncryptionType || aws.ToString(dd.KeyId) != aws.ToString(ss.KeyId) {
		t.Fatalf("DescribeStream says %s %q, DescribeStreamSummary %s %q", dd.EncryptionType, aws.ToString(dd.KeyId), ss.EncryptionType, aws.ToString(ss.KeyId))
	}
	return dd.EncryptionType, aws.ToString(dd.KeyId), dd.StreamStatus
}

func TestStreamEncryption(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "enc", 1)
	if typ, key, _ := encryptionOf(t, c, "enc"); typ != types.EncryptionTypeNone || key != "" {
		t.Fatalf("new stream: %s %q, want NONE and no key", typ, key)
	}
	for _, key := range []string{
		"alias/aws/kinesis",
		"arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012",
		"arn:aws:kms:us-east-1:123456789012:alias/MyAliasName",
		"12345678-1234-1234-1234-123456789012",
		"alias/MyAliasName",
		"mrk-1234abcd12ab34cd56ef1234567890ab",
	} {
		if _, err := c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String("enc"),
			EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(key)}); err != nil {
			t.Fatalf("StartStreamEncryption with %q: %v", key, err)
		}
		if typ, got, _ := encryptionOf(t, c, "enc"); typ != types.EncryptionTypeKms || got != key {
			t.Fatalf("after StartStreamEncryption(%q): %s %q", key, typ, got)
		}
	}
	put, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("enc"), PartitionKey: aws.String("k"), Data: []byte("x")})
	if err != nil || put.EncryptionType != types.EncryptionTypeKms {
		t.Fatalf("PutRecord on an encrypted stream: %v, EncryptionType %v, want KMS", err, put)
	}
	puts, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("enc"), Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("x")}}})
	if err != nil || puts.EncryptionType != types.EncryptionTypeKms {
		t.Fatalf("PutRecords on an encrypted stream: %v, %v, want KMS", err, puts)
	}

	for _, tc := range []struct {
		name, key string
		typ       types.EncryptionType
		want      string
	}{
		{"malformed key", "not a key", types.EncryptionTypeKms, "KMSNotFoundException"},
		{"key ARN of another service", "arn:aws:s3:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012", types.EncryptionTypeKms, "KMSNotFoundException"},
		{"short key id", "1234-5678", types.EncryptionTypeKms, "KMSNotFoundException"},
		{"empty alias", "alias/", types.EncryptionTypeKms, "KMSNotFoundException"},
		{"empty key", "", types.EncryptionTypeKms, "ValidationException"},
		{"key too long", "alias/" + strings.Repeat("a", 2048), types.EncryptionTypeKms, "ValidationException"},
		{"NONE", "alias/aws/kinesis", types.EncryptionTypeNone, "InvalidArgumentException"},
		{"unknown type", "alias/aws/kinesis", "AES", "ValidationException"},
	} {
		_, err := c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String("enc"), EncryptionType: tc.typ, KeyId: aws.String(tc.key)})
		if code(err) != tc.want {
			t.Errorf("StartStreamEncryption %s: %v, want %s", tc.name, err, tc.want)
		}
	}
	_, err = c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String("missing"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/aws/kinesis")})
	wantCode(t, err, "ResourceNotFoundException")
	if typ, key, _ := encryptionOf(t, c, "enc"); typ != types.EncryptionTypeKms || key != "mrk-1234abcd12ab34cd56ef1234567890ab" {
		t.Fatalf("refused calls changed the encryption: %s %q", typ, key)
	}

	if _, err := c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{StreamName: aws.String("enc"),
		EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("mrk-1234abcd12ab34cd56ef1234567890ab")}); err != nil {
		t.Fatalf("StopStreamEncryption: %v", err)
	}
	if typ, key, _ := encryptionOf(t, c, "enc"); typ != types.EncryptionTypeNone || key != "" {
		t.Fatalf("after StopStreamEncryption: %s %q, want NONE and no key", typ, key)
	}
	put, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("enc"), PartitionKey: aws.String("k"), Data: []byte("x")})
	if err != nil || put.EncryptionType != types.EncryptionTypeNone {
		t.Fatalf("PutRecord after StopStreamEncryption: %v, %v, want NONE", err, put)
	}
	_, err = c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{StreamName: aws.String("enc"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("bad key")})
	wantCode(t, err, "KMSNotFoundException")
}

// TestStreamEncryptionUpdating: the stream is UPDATING for StateDelay after each change, and a
// second change meanwhile is refused with ResourceInUseException, as for other stream updates.
func TestStreamEncryptionUpdating(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{StateDelay: time.Hour})
	ctx := ctxT(t)
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("u"), ShardCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String("u"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/aws/kinesis")})
	wantCode(t, err, "ResourceInUseException") // still CREATING
}

// TestStreamEncryptionDurable: encryption survives restarts of a durable server (replayed from the
// log; encryption_compact_test.go covers compaction).
func TestStreamEncryptionDurable(t *testing.T) {
	dir := t.TempDir()
	srv, err := kinesislocal.New(kinesislocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := kinesis.NewFromConfig(srv.AWSConfig())
	ctx := ctxT(t)
	createStream(t, c, "on", 1)
	createStream(t, c, "off", 1)
	for _, name := range []string{"on", "off"} {
		if _, err := c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String(name), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/k-" + name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{StreamName: aws.String("off"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/k-off")}); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	for range 2 {
		srv, err = kinesislocal.New(kinesislocal.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		c = kinesis.NewFromConfig(srv.AWSConfig())
		if typ, key, _ := encryptionOf(t, c, "on"); typ != types.EncryptionTypeKms || key != "alias/k-on" {
			t.Errorf("after restart, stream on: %s %q", typ, key)
		}
		if typ, key, _ := encryptionOf(t, c, "off"); typ != types.EncryptionTypeNone || key != "" {
			t.Errorf("after restart, stream off: %s %q", typ, key)
		}
		srv.Close()
	}
}
