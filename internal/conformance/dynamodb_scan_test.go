package conformance

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// caseParallelScan: Segment/TotalSegments split a lease table (keys as alike as
// shardId-000000000000, -001, ...) so that every item is in exactly one segment, the union of the
// segments read page by page is the full scan, and the work is spread: no segment is empty or
// holds nearly everything (AWS splits by partition-key hash). This is how the Java KCL 3.x reads
// its lease table (1 to 32 segments).
func caseParallelScan(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("pscan")
	createLeaseTable(t, ctx, dc, name)
	const n = 120
	for i := range n {
		putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV(fmt.Sprintf("shardId-%012d", i)), "leaseCounter": numAV(i)})
	}
	scanAll := func(seg, total int32) []string {
		in := &dynamodb.ScanInput{TableName: aws.String(name), Limit: aws.Int32(11), ConsistentRead: aws.Bool(true)}
		if total > 0 {
			in.Segment, in.TotalSegments = aws.Int32(seg), aws.Int32(total)
		}
		var keys []string
		for page := 0; ; page++ {
			if page > n {
				t.Fatalf("Scan segment %d/%d did not end after %d pages", seg, total, page)
			}
			out, err := dc.Scan(ctx, in)
			must(t, err, fmt.Sprintf("Scan segment %d/%d", seg, total))
			for _, it := range out.Items {
				keys = append(keys, attrS(it, "leaseKey"))
			}
			if out.LastEvaluatedKey == nil {
				return keys
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	full := slices.Sorted(slices.Values(scanAll(0, 0)))
	if len(full) != n {
		t.Fatalf("full Scan: %d items, want %d", len(full), n)
	}
	for _, total := range []int32{2, 4} {
		var union []string
		var sizes []int
		for seg := range total {
			keys := scanAll(seg, total)
			sizes = append(sizes, len(keys))
			union = append(union, keys...)
		}
		slices.Sort(union)
		if !slices.Equal(union, full) {
			t.Errorf("%d segments: union of %d items (%d distinct) is not the full scan of %d", total, len(union), len(slices.Compact(slices.Clone(union))), n)
		}
		for seg, size := range sizes {
			if size < n/int(total)/3 || size > 3*n/int(total) {
				t.Errorf("%d segments: sizes %v; segment %d is far from an even share of %d", total, sizes, seg, n/int(total))
				break
			}
		}
	}
}
