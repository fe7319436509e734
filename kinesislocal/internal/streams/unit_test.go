package streams

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

func bigOf(a u128) *big.Int {
	v := new(big.Int).SetUint64(a.hi)
	v.Lsh(v, 64)
	return v.Or(v, new(big.Int).SetUint64(a.lo))
}

func TestU128ParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"0", true}, {"1", true}, {"18446744073709551616", true},
		{"340282366920938463463374607431768211455", true},
		{"340282366920938463463374607431768211456", false},
		{"999999999999999999999999999999999999999", false},
		{"01", false}, {"", false}, {"-1", false}, {"1a", false}, {" 1", false},
	} {
		v, ok := parseU128(tc.in)
		if ok != tc.ok {
			t.Errorf("parseU128(%q) ok=%v, want %v", tc.in, ok, tc.ok)
			continue
		}
		if ok && v.String() != tc.in {
			t.Errorf("round trip %q -> %s", tc.in, v)
		}
	}
}

func TestEvenRanges(t *testing.T) {
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 10, 64, 100, 1000} {
		r := evenRanges(n)
		step := new(big.Int).Div(two128, big.NewInt(int64(n)))
		for i := range r {
			wantStart := new(big.Int).Mul(step, big.NewInt(int64(i)))
			if bigOf(r[i][0]).Cmp(wantStart) != 0 {
				t.Fatalf("n=%d shard %d starts at %s, want %s", n, i, bigOf(r[i][0]), wantStart)
			}
			if i > 0 && r[i-1][1].add1() != r[i][0] {
				t.Fatalf("n=%d gap before shard %d", n, i)
			}
		}
		if r[n-1][1] != maxU128 {
			t.Fatalf("n=%d last shard ends at %s", n, r[n-1][1])
		}
	}
}

func TestHashKeyIsBigEndianMD5(t *testing.T) {
	// MD5("") = d41d8cd98f00b204e9800998ecf8427e.
	want, _ := new(big.Int).SetString("d41d8cd98f00b204e9800998ecf8427e", 16)
	if got := bigOf(hashKey(nil)); got.Cmp(want) != 0 {
		t.Fatalf("hashKey(\"\") = %x", got)
	}
}

func TestSeqNumLayout(t *testing.T) {
	for _, s := range []seqNum{
		{shardIdx: 0, shardTime: 1700000000, seqIx: 0, recordTime: 1700000000},
		{shardIdx: 1, shardTime: 1700000000, seqIx: 1, recordTime: 1700000001},
		{shardIdx: 12345, shardTime: 1<<36 - 1, seqIx: 1<<64 - 1, recordTime: 1<<36 - 1},
		{shardIdx: 1<<32 - 1, shardTime: 1, seqIx: 1 << 63, recordTime: 2},
	} {
		str := s.String()
		// Cross-check against math/big: version 2 in bits 184..187 and the shard index in 4..35
		// as the KCL reads them.
		v, _ := new(big.Int).SetString(str, 10)
		if got := new(big.Int).Rsh(v, 184).Int64(); got != 2 {
			t.Fatalf("%s: version %d", str, got)
		}
		if got := new(big.Int).And(new(big.Int).Rsh(v, 4), big.NewInt(1<<32-1)).Int64(); got != int64(s.shardIdx) {
			t.Fatalf("%s: shard index %d, want %d", str, got, s.shardIdx)
		}
		if got := new(big.Int).Rsh(v, 80); new(big.Int).And(got, new(big.Int).SetUint64(1<<64-1)).Uint64() != s.seqIx {
			t.Fatalf("%s: seqIx mismatch", str)
		}
		back, ok := parseSeqNum(str)
		if !ok || back != s {
			t.Fatalf("parse(%s) = %+v %v, want %+v", str, back, ok, s)
		}
	}
	// Realistic numbers have 56 digits and start with 49.
	s := seqNum{shardIdx: 3, shardTime: 1763000000, seqIx: 42, recordTime: 1763000100}.String()
	if len(s) != 56 || !strings.HasPrefix(s, "49") {
		t.Fatalf("sequence number %s (%d digits)", s, len(s))
	}
	// Ordering within a shard follows seqIx even when the record time is older.
	a := seqNum{shardIdx: 3, shardTime: 5, seqIx: 10, recordTime: 1<<36 - 1}
	b := seqNum{shardIdx: 3, shardTime: 5, seqIx: 11, recordTime: 0}
	ab, _ := new(big.Int).SetString(a.String(), 10)
	bb, _ := new(big.Int).SetString(b.String(), 10)
	if ab.Cmp(bb) >= 0 {
		t.Fatal("seqIx does not dominate the order")
	}
	for _, bad := range []string{"", "0", "1", "12345678901234567890", "4" + strings.Repeat("9", 60), "x"} {
		if _, ok := parseSeqNum(bad); ok {
			t.Errorf("parseSeqNum(%q) accepted", bad)
		}
	}
}

func TestRecLogTrimAndRead(t *testing.T) {
	l := newRecLog()
	data := make([]byte, 300<<10)
	for i := 0; i < 20; i++ { // 20 x 300 KiB spans several segments
		l.appendRecord(int64(i*1000), []byte("k"), data)
	}
	if len(l.segs) < 4 {
		t.Fatalf("%d segments", len(l.segs))
	}
	recs, pos, n, full := l.read(1, 100, 1<<20, nil)
	if len(recs) != 3 || pos != 4 || !full || n != 3*(300<<10+1) {
		t.Fatalf("byte-capped read: %d recs pos %d n %d full %v", len(recs), pos, n, full)
	}
	l.trim(10_500)
	if l.trimIx != 12 {
		t.Fatalf("trimIx %d, want 12", l.trimIx)
	}
	recs, pos, _, _ = l.read(1, 1, 1<<30, nil)
	if len(recs) != 1 || recs[0].seqIx != 12 || pos != 13 {
		t.Fatalf("read from a trimmed position: %+v pos %d", recs, pos)
	}
	if p := l.firstAtOrAfter(15_000); p != 16 {
		t.Fatalf("firstAtOrAfter = %d", p)
	}
	l.trim(1 << 40)
	if l.segs != nil || l.trimIx != l.next || l.bytes != 0 {
		t.Fatalf("full trim left %d segments, %d bytes", len(l.segs), l.bytes)
	}
}

// TestValidation runs bad requests through Handle: each must fail with the given type and never
// panic.
func TestValidation(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"v","ShardCount":2}`)); err != nil {
		t.Fatal(err)
	}
	big := `"` + strings.Repeat("A", 1400000) + `"`
	for _, tc := range []struct {
		op, body, typ string
	}{
		{"Nope", `{}`, awsproto.UnknownOperation},
		{"CreateStream", `{`, awsproto.Serialization},
		{"CreateStream", `{"StreamName":5,"ShardCount":1}`, awsproto.Serialization},
		{"CreateStream", `{"StreamName":"x","ShardCount":"1"}`, awsproto.Serialization},
		{"CreateStream", `{"ShardCount":1}`, awsproto.Validation},
		{"CreateStream", `{"StreamName":"x","ShardCount":0}`, awsproto.Validation},
		{"CreateStream", `{"StreamName":"x","StreamModeDetails":{"StreamMode":"WEIRD"}}`, awsproto.Validation},
		{"PutRecord", `{"StreamName":"v","Data":"aGk="}`, awsproto.Validation},
		{"PutRecord", `{"StreamName":"v","PartitionKey":"","Data":"aGk="}`, awsproto.Validation},
		{"PutRecord", `{"StreamName":"v","PartitionKey":"` + strings.Repeat("k", 257) + `","Data":"aGk="}`, awsproto.Validation},
		{"PutRecord", `{"StreamName":"v","PartitionKey":"k"}`, awsproto.Validation},
		{"PutRecord", `{"StreamName":"v","PartitionKey":"k","Data":"!!"}`, awsproto.Serialization},
		{"PutRecord", `{"StreamName":"v","PartitionKey":"k","Data":` + big + `}`, awsproto.Validation},
		{"PutRecord", `{"StreamName":"v","PartitionKey":"k","Data":"aGk=","ExplicitHashKey":"340282366920938463463374607431768211456"}`, awsproto.InvalidArgument},
		{"PutRecord", `{"StreamName":"v","PartitionKey":"k","Data":"aGk=","SequenceNumberForOrdering":"abc"}`, awsproto.Validation},
		{"PutRecord", `{"StreamName":"missing","PartitionKey":"k","Data":"aGk="}`, awsproto.ResourceNotFound},
		{"PutRecord", `{"PartitionKey":"k","Data":"aGk="}`, awsproto.Validation},
		{"PutRecord", `{"StreamARN":"arn:aws:kinesis:eu-west-1:000000000000:stream/v","PartitionKey":"k","Data":"aGk="}`, awsproto.ResourceNotFound},
		{"PutRecord", `{"StreamARN":"nonsense","PartitionKey":"k","Data":"aGk="}`, awsproto.Validation},
		{"PutRecords", `{"StreamName":"v"}`, awsproto.Validation},
		{"PutRecords", `{"StreamName":"v","Records":[]}`, awsproto.Validation},
		{"PutRecords", `{"StreamName":"v","Records":{}}`, awsproto.Serialization},
		{"PutRecords", `{"StreamName":"v","Records":[{"PartitionKey":"k"}]}`, awsproto.Validation},
		{"PutRecords", `{"StreamName":"v","Records":[{"PartitionKey":"k","Data":5}]}`, awsproto.Serialization},
		{"PutRecords", `{"StreamName":"v","Records":[{"PartitionKey":"k","Data":"aGk="}]`, awsproto.Serialization},
		{"PutRecords", `{"StreamName":"v","Records":[` + strings.Repeat(`{"PartitionKey":"k","Data":"aGk="},`, 500) + `{"PartitionKey":"k","Data":"aGk="}]}`, awsproto.Validation},
		{"PutRecords", `{"StreamName":"v","Records":[` + strings.Repeat(`{"PartitionKey":"k","Data":`+`"`+strings.Repeat("A", 1000000)+`"},`, 8) + `{"PartitionKey":"k","Data":"aGk="}]}`, awsproto.InvalidArgument},
		{"GetRecords", `{}`, awsproto.Validation},
		{"GetRecords", `{"ShardIterator":"xyz"}`, awsproto.InvalidArgument},
		{"GetRecords", `{"ShardIterator":"xyz","Limit":0}`, awsproto.Validation},
		{"GetShardIterator", `{"StreamName":"v","ShardIteratorType":"LATEST"}`, awsproto.Validation},
		{"ListShards", `{"StreamName":"v","MaxResults":0}`, awsproto.Validation},
		{"ListShards", `{"StreamName":"v","ShardFilter":{"Type":"NOPE"}}`, awsproto.Validation},
		{"DescribeStream", `{"StreamName":"v","Limit":100000}`, awsproto.Validation},
		{"UpdateShardCount", `{"StreamName":"v","TargetShardCount":3,"ScalingType":"ODD"}`, awsproto.Validation},
		{"MergeShards", `{"StreamName":"v","ShardToMerge":"shardId-000000000000","AdjacentShardToMerge":"shardId-000000000000"}`, awsproto.InvalidArgument},
		{"RegisterStreamConsumer", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/v"}`, awsproto.Validation},
		{"DescribeStreamConsumer", `{"ConsumerARN":"arn:aws:kinesis:us-east-1:000000000000:stream/v/consumer/x"}`, awsproto.Validation},
		{"DescribeStreamConsumer", `{}`, awsproto.InvalidArgument},
		{"AddTagsToStream", `{"StreamName":"v","Tags":{}}`, awsproto.Validation},
		{"RemoveTagsFromStream", `{"StreamName":"v","TagKeys":[]}`, awsproto.Validation},
	} {
		_, err := e.Handle(ctx, tc.op, []byte(tc.body))
		var ae *awsproto.Error
		if !errors.As(err, &ae) || ae.Type != tc.typ {
			body := tc.body
			if len(body) > 120 {
				body = body[:120] + "..."
			}
			t.Errorf("%s %s: %v, want %s", tc.op, body, err, tc.typ)
		}
	}
	// Unknown fields are ignored.
	if _, err := e.Handle(ctx, "PutRecords", []byte(`{"StreamName":"v","Future":{"a":[1,{"b":null}]},"Records":[{"PartitionKey":"k","Data":"aGk=","New":true}],"StreamId":"x"}`)); err != nil {
		t.Fatalf("unknown fields: %v", err)
	}
}

// TestSequenceNumberForOrdering: a number from the future is rejected, a past one accepted.
func TestSequenceNumberForOrdering(t *testing.T) {
	e, _ := New(Options{})
	ctx := context.Background()
	e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"o","ShardCount":1}`))
	future := seqNum{shardIdx: 0, seqIx: 99, shardTime: 1, recordTime: 1}.String()
	_, err := e.Handle(ctx, "PutRecord", []byte(`{"StreamName":"o","PartitionKey":"k","Data":"aGk=","SequenceNumberForOrdering":"`+future+`"}`))
	var ae *awsproto.Error
	if !errors.As(err, &ae) || ae.Type != awsproto.InvalidArgument {
		t.Fatalf("future SequenceNumberForOrdering: %v", err)
	}
	out, err := e.Handle(ctx, "PutRecord", []byte(`{"StreamName":"o","PartitionKey":"k","Data":"aGk="}`))
	if err != nil {
		t.Fatal(err)
	}
	seq := string(out[strings.Index(string(out), `"SequenceNumber":"`)+18:])
	seq = seq[:strings.IndexByte(seq, '"')]
	if _, err := e.Handle(ctx, "PutRecord", []byte(`{"StreamName":"o","PartitionKey":"k","Data":"aGk=","SequenceNumberForOrdering":"`+seq+`"}`)); err != nil {
		t.Fatal(err)
	}
}

// TestClockOption: Options.Now drives iterator expiry.
func TestClockOption(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	e, _ := New(Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"c","ShardCount":1}`))
	out, _ := e.Handle(ctx, "GetShardIterator", []byte(`{"StreamName":"c","ShardId":"shardId-000000000000","ShardIteratorType":"LATEST"}`))
	it := string(out[len(`{"ShardIterator":"`) : len(out)-2])
	now = now.Add(5*time.Minute + time.Millisecond)
	_, err := e.Handle(ctx, "GetRecords", []byte(`{"ShardIterator":"`+it+`"}`))
	var ae *awsproto.Error
	if !errors.As(err, &ae) || ae.Type != awsproto.ExpiredIterator {
		t.Fatalf("expired iterator: %v", err)
	}
}

// TestAtTimestampInTheFuture: an AT_TIMESTAMP iterator for a time after the newest record skips
// records that arrive before that time.
func TestAtTimestampInTheFuture(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	e, _ := New(Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"ts","ShardCount":1}`))
	e.Handle(ctx, "PutRecord", []byte(`{"StreamName":"ts","PartitionKey":"k","Data":"MA=="}`))
	out, err := e.Handle(ctx, "GetShardIterator", []byte(`{"StreamName":"ts","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1700000010}`))
	if err != nil {
		t.Fatal(err)
	}
	it := string(out[len(`{"ShardIterator":"`) : len(out)-2])
	now = now.Add(5 * time.Second)
	e.Handle(ctx, "PutRecord", []byte(`{"StreamName":"ts","PartitionKey":"k","Data":"NQ=="}`)) // t+5: before the time
	now = now.Add(10 * time.Second)
	e.Handle(ctx, "PutRecord", []byte(`{"StreamName":"ts","PartitionKey":"k","Data":"MTU="}`)) // t+15: after
	out, err = e.Handle(ctx, "GetRecords", []byte(`{"ShardIterator":"`+it+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Records []struct{ Data []byte } }
	json.Unmarshal(out, &res)
	if len(res.Records) != 1 || string(res.Records[0].Data) != "15" {
		t.Fatalf("records %+v, want only the one written after the timestamp", res.Records)
	}
}
