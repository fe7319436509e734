package ddb_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// TestParallelScanSplits checks that a parallel Scan splits the items across segments: every item
// in exactly one segment, the union of the segments (each read page by page) is the full scan,
// and no segment holds nearly everything, for keys as alike as a lease table's
// (shardId-000000000000, shardId-000000000001, ...), on the table and on a GSI.
func TestParallelScanSplits(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "par", true)
	const n = 200
	for i := range n {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("par"), Item: map[string]types.AttributeValue{
			"leaseKey": str(fmt.Sprintf("shardId-%012d", i)), "leaseOwner": str(fmt.Sprintf("worker-%d", i%40))}}); err != nil {
			t.Fatal(err)
		}
	}
	scanAll := func(in dynamodb.ScanInput) []string {
		var keys []string
		p := dynamodb.NewScanPaginator(c, &in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Items {
				keys = append(keys, getS(it, "leaseKey"))
			}
		}
		return keys
	}
	for _, index := range []*string{nil, aws.String("LeaseOwnerToLeaseKeyIndex")} {
		full := scanAll(dynamodb.ScanInput{TableName: aws.String("par"), IndexName: index})
		if len(full) != n {
			t.Fatalf("index %v: full scan returned %d items, want %d", aws.ToString(index), len(full), n)
		}
		for _, total := range []int{2, 4, 7} {
			var union []string
			for seg := range total {
				keys := scanAll(dynamodb.ScanInput{TableName: aws.String("par"), IndexName: index,
					Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(int32(total)), Limit: aws.Int32(9)})
				// A fair split puts n/total in each; allow a wide margin, not nearly all or none.
				if len(keys) < n/total/3 || len(keys) > 3*n/total {
					t.Errorf("index %v: segment %d of %d has %d of %d items", aws.ToString(index), seg, total, len(keys), n)
				}
				union = append(union, keys...)
			}
			slices.Sort(union)
			if want := slices.Sorted(slices.Values(full)); !slices.Equal(union, want) {
				t.Errorf("index %v, %d segments: union has %d items (%d distinct), full scan %d", aws.ToString(index), total,
					len(union), len(slices.Compact(slices.Clone(union))), len(want))
			}
		}
	}
}
