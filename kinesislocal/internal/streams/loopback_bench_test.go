package streams_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// loopbackClient serves kinesislocal over HTTP on 127.0.0.1 and returns an SDK client for it,
// which is how the comparison with kinesalite runs.
func loopbackClient(b *testing.B) *kinesis.Client {
	b.Helper()
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(func() { hs.Close(); srv.Close() })
	cfg := srv.AWSConfig()
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	cfg.BaseEndpoint = aws.String(hs.URL)
	return kinesis.NewFromConfig(cfg)
}

// BenchmarkLoopbackPutRecords500 is BenchmarkPutRecords500 over a real loopback HTTP connection.
func BenchmarkLoopbackPutRecords500(b *testing.B) {
	c := loopbackClient(b)
	createStream(b, c, "bench", 4)
	batches := make([][]types.PutRecordsRequestEntry, 16)
	for i := range batches {
		batches[i] = entries(500, 100, i)
	}
	ctx := context.Background()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: batches[i%len(batches)]})
			if err != nil || *out.FailedRecordCount != 0 {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkLoopbackGetRecords10000 is BenchmarkGetRecords10000 over a real loopback connection.
func BenchmarkLoopbackGetRecords10000(b *testing.B) {
	c := loopbackClient(b)
	createStream(b, c, "bench", 1)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: entries(500, 100, i)}); err != nil {
			b.Fatal(err)
		}
	}
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("bench"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
			if err != nil || len(out.Records) != 10000 {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "records/s")
}
