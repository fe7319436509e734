package kinesislocal_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// fillDataDir writes 40 PutRecords batches of 50 records to stream "s" and 60 items to table
// "t" through the SDK clients, closes the server and returns the acknowledged record data.
func fillDataDir(t *testing.T, dir string) []string {
	t.Helper()
	ctx := context.Background()
	srv, err := kinesislocal.New(kinesislocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	var acked []string
	for b := range 40 {
		var entries []types.PutRecordsRequestEntry
		for i := range 50 {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: fmt.Appendf(nil, "record-%03d-%02d", b, i)})
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords: %v", err)
		}
		for _, e := range entries {
			acked = append(acked, string(e.Data))
		}
	}
	dc := dynamodb.NewFromConfig(srv.AWSConfig())
	if _, err := dc.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("tbl"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: ddbtypes.KeyTypeHash}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if _, err := dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("tbl"), Item: map[string]ddbtypes.AttributeValue{
			"k": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("item-%02d", i)}, "pad": &ddbtypes.AttributeValueMemberS{Value: strings.Repeat("x", 100)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	return acked
}

// readBack reopens dir and returns every record of stream "s" and the number of items of "t".
func readBack(t *testing.T, srv *kinesislocal.Server) (records []string, items int) {
	t.Helper()
	ctx := context.Background()
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	for iter := it.ShardIterator; iter != nil; {
		out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			records = append(records, string(r.Data))
		}
		if len(out.Records) == 0 {
			break
		}
		iter = out.NextShardIterator
	}
	dc := dynamodb.NewFromConfig(srv.AWSConfig())
	out, err := dc.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("tbl")})
	if err != nil {
		t.Fatal(err)
	}
	return records, int(out.Count)
}

// TestMidFileDamageNeverSilent is the regression test for damage in the middle of a log: 16
// bytes overwritten in the middle of either log must not silently drop the acknowledged writes
// after it (before the shared log format, New cut the file there and started without a word).
// New must refuse to start, naming the file and the offset, and leave the file as it was.
func TestMidFileDamageNeverSilent(t *testing.T) {
	for _, log := range []string{"kinesis/streams.log", "dynamodb/dynamodb.log"} {
		t.Run(filepath.Base(log), func(t *testing.T) {
			dir := t.TempDir()
			acked := fillDataDir(t, dir)
			path := filepath.Join(dir, log)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			mid := len(data) / 2
			copy(data[mid:], []byte("0123456789abcdef"))
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			srv, err := kinesislocal.New(kinesislocal.Options{DataDir: dir})
			if err == nil {
				records, items := readBack(t, srv)
				srv.Close()
				t.Fatalf("started on a log damaged at offset %d: %d of %d acknowledged records and %d of 60 items left", mid, len(records), len(acked), items)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, "offset") || !strings.Contains(msg, "--repair") {
				t.Fatalf("error does not name the file, the offset and --repair: %v", err)
			}
			var de *kinesislocal.DamageError
			if !errors.As(err, &de) || de.Path != path || de.Offset > int64(mid) || de.Offset+de.Length <= int64(mid) {
				t.Fatalf("error is not a DamageError covering offset %d: %#v", mid, de)
			}
			if after, _ := os.ReadFile(path); len(after) != len(data) {
				t.Fatalf("the damaged log was cut from %d to %d bytes", len(data), len(after))
			}
			t.Logf("New refused: %v", err)

			// Repair keeps every intact record before and after the damage.
			srv, err = kinesislocal.New(kinesislocal.Options{DataDir: dir, Repair: true})
			if err != nil {
				t.Fatalf("New with Repair: %v", err)
			}
			records, items := readBack(t, srv)
			srv.Close()
			got := map[string]bool{}
			for _, r := range records {
				got[r] = true
			}
			var lost []string
			for _, r := range acked {
				if !got[r] {
					lost = append(lost, r)
				}
			}
			if strings.HasPrefix(log, "kinesis") {
				// 16 bytes can damage at most two adjacent batches of 50.
				if len(lost) == 0 || len(lost) > 100 || items != 60 {
					t.Fatalf("after repair: %d records lost (%v), %d items", len(lost), lost, items)
				}
			} else if len(lost) != 0 || items < 60-64 || items == 60 {
				// A compacted log holds 32 items per record; 16 bytes damage one or two.
				t.Fatalf("after repair: %d records lost, %d of 60 items", len(lost), items)
			}
			aside, _ := filepath.Glob(path + ".damaged-*")
			if len(aside) != 1 {
				t.Fatalf("damaged bytes not moved aside: %v", aside)
			}
		})
	}
}

// TestRepairOnNewDataDir: Options.Repair on a directory with no logs yet starts normally.
func TestRepairOnNewDataDir(t *testing.T) {
	srv, err := kinesislocal.New(kinesislocal.Options{DataDir: filepath.Join(t.TempDir(), "new"), Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if _, err := kinesislocal.New(kinesislocal.Options{Repair: true}); err == nil {
		t.Fatal("Repair without DataDir accepted")
	}
}

// TestCutTailAfterCleanClose: 7 bytes cut off the end of either log after a clean shutdown
// must not drop the last acknowledged batch (before the shared format it dropped it without a
// word): Close's final record absorbs the cut, and the cut is logged.
func TestCutTailAfterCleanClose(t *testing.T) {
	for _, log := range []string{"kinesis/streams.log", "dynamodb/dynamodb.log"} {
		t.Run(filepath.Base(log), func(t *testing.T) {
			dir := t.TempDir()
			acked := fillDataDir(t, dir)
			path := filepath.Join(dir, log)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data[:len(data)-7], 0o644); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			srv, err := kinesislocal.New(kinesislocal.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(&out, nil))})
			if err != nil {
				t.Fatal(err)
			}
			records, items := readBack(t, srv)
			srv.Close()
			if len(records) != len(acked) || items != 60 {
				t.Fatalf("after a 7-byte cut: %d of %d records, %d of 60 items", len(records), len(acked), items)
			}
			if !strings.Contains(out.String(), "torn tail") {
				t.Fatalf("the cut was not logged:\n%s", out.String())
			}
		})
	}
}
