package kpl

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// flaky wraps a client and fails chosen PutRecords entries before they reach
// the server, as Kinesis reports per-entry failures (HTTP 200, ErrorCode).
type flaky struct {
	*kinesis.Client
	mu sync.Mutex
	// failEntry returns an error code for entry i of call n, or "".
	failEntry func(call, i int, e types.PutRecordsRequestEntry) string
	calls     int
	auto      bool // report RecordDistributionStrategy AUTO
	entries   atomic.Int64
}

func (f *flaky) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	call := f.calls
	f.calls++
	f.mu.Unlock()
	f.entries.Add(int64(len(in.Records)))
	codes := make([]string, len(in.Records))
	fwd := &kinesis.PutRecordsInput{StreamName: in.StreamName, StreamARN: in.StreamARN}
	for i, e := range in.Records {
		if f.failEntry != nil {
			codes[i] = f.failEntry(call, i, e)
		}
		if codes[i] == "" {
			fwd.Records = append(fwd.Records, e)
		}
	}
	var got []types.PutRecordsResultEntry
	if len(fwd.Records) > 0 {
		out, err := f.Client.PutRecords(ctx, fwd, opts...)
		if err != nil {
			return nil, err
		}
		got = out.Records
	}
	out := &kinesis.PutRecordsOutput{}
	for i := range in.Records {
		if codes[i] != "" {
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(codes[i]), ErrorMessage: aws.String("injected")})
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			continue
		}
		out.Records = append(out.Records, got[0])
		got = got[1:]
	}
	return out, nil
}

func (f *flaky) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	out, err := f.Client.DescribeStreamSummary(ctx, in, opts...)
	if err == nil && f.auto {
		out.StreamDescriptionSummary.RecordDistributionStrategy = types.RecordDistributionStrategyAuto
	}
	return out, err
}
