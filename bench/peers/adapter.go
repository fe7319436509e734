package peers

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	kv1 "github.com/aws/aws-sdk-go/service/kinesis"
	"github.com/shoal-go/shoal/aggregate"
)

// V1Putter adapts an aws-sdk-go-v2 Kinesis client to the aws-sdk-go v1
// PutRecords signature a8m/kinesis-producer calls. It counts the user
// records written (sub-records of aggregates included), since a8m reports
// no successes.
type V1Putter struct {
	Client  *kinesis.Client
	Written atomic.Int64 // user records in successful entries
	Failed  atomic.Int64 // failed entries
	Calls   atomic.Int64 // PutRecords calls
	Entries atomic.Int64 // entries sent
}

// PutRecords converts the request, calls the v2 client and converts back.
func (p *V1Putter) PutRecords(in *kv1.PutRecordsInput) (*kv1.PutRecordsOutput, error) {
	req := &kinesis.PutRecordsInput{StreamName: in.StreamName, Records: make([]types.PutRecordsRequestEntry, len(in.Records))}
	for i, r := range in.Records {
		req.Records[i] = types.PutRecordsRequestEntry{Data: r.Data, PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey}
	}
	p.Calls.Add(1)
	p.Entries.Add(int64(len(in.Records)))
	out, err := p.Client.PutRecords(context.Background(), req)
	if err != nil {
		return nil, err
	}
	res := &kv1.PutRecordsOutput{FailedRecordCount: aws.Int64(int64(aws.ToInt32(out.FailedRecordCount))), Records: make([]*kv1.PutRecordsResultEntry, len(out.Records))}
	for i, r := range out.Records {
		res.Records[i] = &kv1.PutRecordsResultEntry{ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage, SequenceNumber: r.SequenceNumber, ShardId: r.ShardId}
		if r.ErrorCode != nil {
			p.Failed.Add(1)
			continue
		}
		n, err := aggregate.Count(in.Records[i].Data)
		if err != nil {
			n = 1
		}
		p.Written.Add(int64(n))
	}
	return res, nil
}
