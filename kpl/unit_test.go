package kpl

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shoal-go/shoal/aggregate"
	"github.com/shoal-go/shoal/kinesislocal"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBucket(1000)
	// Full at first use; the reserve (250) stays unused unless the bucket
	// is full and the cost is above what it otherwise allows.
	if !b.allows(t0, 950) || !b.allows(t0, 1000) {
		t.Fatal("fresh bucket refused")
	}
	b.take(1)
	if b.allows(t0, 950) || b.allows(t0, 990) {
		t.Fatal("bucket spent its reserve")
	}
	b.take(949)
	if b.allows(t0, 1) {
		t.Fatal("empty bucket allowed a token")
	}
	if w := b.wait(t0, 100); w < 100*time.Millisecond || w > 102*time.Millisecond {
		t.Fatalf("wait(100) = %v, want ~100ms", w)
	}
	if !b.allows(t0.Add(100*time.Millisecond), 100) {
		t.Fatal("refill after 100ms did not allow 100")
	}
	// Refill caps at one second.
	b.refill(t0.Add(time.Hour))
	if b.tokens != 1000 {
		t.Fatalf("bucket holds %v after an hour, want 1000", b.tokens)
	}
	// A cost above the bucket passes when the bucket is full, into debt.
	big := newBucket(1000)
	if !big.allows(t0, 5000) {
		t.Fatal("full bucket refused an oversize cost")
	}
	big.take(5000)
	if big.allows(t0.Add(time.Second), 1) {
		t.Fatal("bucket in debt allowed a token")
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n < 12; n++ {
		d := backoff(n, 100*time.Millisecond, 2*time.Second)
		want := min(100*time.Millisecond<<(n-1), 2*time.Second)
		if d < want/2 || d > want {
			t.Errorf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
		}
	}
}

func shard(id, start, end string, closed bool) types.Shard {
	s := types.Shard{ShardId: aws.String(id), HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String(start), EndingHashKey: aws.String(end)},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")}}
	if closed {
		s.SequenceNumberRange.EndingSequenceNumber = aws.String("2")
	}
	return s
}

func TestShardMap(t *testing.T) {
	max := aggregate.MaxHash128.String()
	half := "170141183460469231731687303715884105728" // 2^127
	tests := []struct {
		name   string
		shards []types.Shard
		err    string
		lookup map[string]string // hash key -> shard
	}{
		{"one shard", []types.Shard{shard("a", "0", max, false)}, "", map[string]string{"0": "a", max: "a"}},
		{"split, parent closed, unsorted", []types.Shard{shard("c", half, max, false), shard("a", "0", max, true), shard("b", "0", "170141183460469231731687303715884105727", false)}, "",
			map[string]string{"0": "b", "170141183460469231731687303715884105727": "b", half: "c", max: "c"}},
		{"gap", []types.Shard{shard("a", "0", "10", false), shard("b", "12", max, false)}, "do not cover", nil},
		{"short", []types.Shard{shard("a", "0", "10", false)}, "end at", nil},
		{"none open", []types.Shard{shard("a", "0", max, true)}, "no open shard", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := newShardMap(tt.shards)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for h, want := range tt.lookup {
				hk, _ := aggregate.ParseHash128(h)
				if i := m.lookup(hk); i < 0 || m.shards[i].id != want {
					t.Errorf("lookup(%s) = %d, want %s", h, i, want)
				}
			}
		})
	}
}

func TestSubKeys(t *testing.T) {
	if got := SubKey("hot", 1, 7); got != "hot" {
		t.Errorf("SubKey n=1: %q", got)
	}
	if got := SubKey("hot", 4, 7); got != "hot#3" {
		t.Errorf("SubKey: %q", got)
	}
	long := SubKey(strings.Repeat("é", 256), 10, 3)
	if n := len([]rune(long)); n != 256 || !strings.HasSuffix(long, "#3") {
		t.Errorf("long key: %d characters, %q", n, long[len(long)-4:])
	}
	s := NewKeySpreader("k", 3)
	seen := map[string]int{}
	for range 9 {
		seen[s.Next()]++
	}
	if len(seen) != 3 || seen["k#0"] != 3 {
		t.Errorf("spreader: %v", seen)
	}
	if got := SubKeys("k", 3); len(got) != 3 || got[2] != "k#2" {
		t.Errorf("SubKeys: %v", got)
	}
	a, b := RandomPartitionKey(), RandomPartitionKey()
	if len(a) != 32 || a == b {
		t.Errorf("random keys %q %q", a, b)
	}
}

func TestDecompress(t *testing.T) {
	var g gzipPool
	in := bytes.Repeat([]byte("abc"), 100)
	c := g.compress(in)
	if !IsCompressed(c) || len(c) >= len(in) {
		t.Fatalf("compress: %d bytes, marker %v", len(c), IsCompressed(c))
	}
	out, was, err := Decompress(c)
	if err != nil || !was || !bytes.Equal(out, in) {
		t.Fatalf("Decompress: %v %v", was, err)
	}
	plain := []byte("plain")
	if out, was, err := Decompress(plain); err != nil || was || !bytes.Equal(out, plain) {
		t.Fatalf("plain data changed: %q %v %v", out, was, err)
	}
	if _, _, err := Decompress([]byte(CompressedMagic + "garbage")); !errors.Is(err, ErrCorruptCompressed) {
		t.Fatalf("corrupt: %v", err)
	}
	// A bomb is refused.
	var buf bytes.Buffer
	buf.WriteString(CompressedMagic)
	zw := gzip.NewWriter(&buf)
	zw.Write(make([]byte, 1<<20+1))
	zw.Close()
	if _, _, err := decompress(buf.Bytes(), 1<<20); !errors.Is(err, ErrCorruptCompressed) {
		t.Fatalf("bomb: %v", err)
	}
}

// TestFlushAndBackPressure: Flush sends at once despite a long Linger and
// returns after the callbacks ran; Put blocks when the buffer is full.
func TestFlushAndBackPressure(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 1)
	p, err := New(Config{Client: c, StreamName: "s", Linger: time.Hour, MaxBufferedRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := 0
	for i := range 3 {
		if err := p.Put(ctx, Record{PartitionKey: key(i), Data: []byte("x")}, func(_ Result, err error) {
			if err == nil {
				done++ // callbacks run one at a time
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := p.Put(short, Record{PartitionKey: "k", Data: []byte("x")}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put into a full buffer = %v, want DeadlineExceeded", err)
	}
	if st := p.Stats(); st.BufferedRecords != 3 {
		t.Fatalf("buffered %d", st.BufferedRecords)
	}
	fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
	defer fcancel()
	if err := p.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if done != 3 {
		t.Fatalf("Flush returned with %d of 3 callbacks done", done)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
