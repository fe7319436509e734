package streams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/streams"
)

// TestConcurrentWritesReadsAndResharding runs writers, readers and a resharder at once and checks
// that every acknowledged record is stored exactly once, in increasing sequence order per shard.
//
// The overlap is driven by progress, not by the clock: each reshard waits until the writers have
// acknowledged more batches since the last one, and the writers stop when the last reshard is
// done. (With a 30 ms pause per reshard and a 300 ms run, a loaded machine reshaped the stream
// while few or no writes were in flight, and the test still passed.)
func TestConcurrentWritesReadsAndResharding(t *testing.T) {
	dir := t.TempDir()
	e, err := streams.New(streams.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"st","ShardCount":4}`)); err != nil {
		t.Fatal(err)
	}
	const writers, batchesPerReshard = 4, 8
	stop := make(chan struct{})
	failed := make(chan struct{}) // closed when a writer gives up, so the resharder does not wait for it
	var failOnce sync.Once
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{}
	batches := 0                       // acknowledged PutRecords calls, under mu
	progress := make(chan struct{}, 1) // a batch was acknowledged
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				out, err := e.Handle(ctx, "PutRecords", putRecordsBodyData("st", w, i))
				if err != nil {
					t.Error(err)
					failOnce.Do(func() { close(failed) })
					return
				}
				var res struct{ FailedRecordCount int }
				json.Unmarshal(out, &res)
				if res.FailedRecordCount != 0 {
					t.Errorf("%d failed", res.FailedRecordCount)
					failOnce.Do(func() { close(failed) })
					return
				}
				mu.Lock()
				for j := 0; j < 50; j++ {
					acked[fmt.Sprintf("w%d-%d-%d", w, i, j)] = true
				}
				batches++
				mu.Unlock()
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}()
	}
	// Readers poll shard 0 while it is open and after it closes.
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				engineReadAll(t, e, "st", "shardId-000000000000")
			}
		}()
	}
	// waitBatches waits until n batches are acknowledged or a writer has failed.
	waitBatches := func(n int) {
		for !t.Failed() {
			mu.Lock()
			done := batches >= n
			mu.Unlock()
			if done {
				return
			}
			select {
			case <-progress:
			case <-failed:
			}
		}
	}
	// The resharder runs on this goroutine, batchesPerReshard acknowledged batches apart, and a
	// few more batches land on the final shards before the writers and readers stop.
	for k, n := range []int{8, 4, 6, 3, 5} {
		waitBatches((k + 1) * batchesPerReshard)
		if _, err := e.Handle(ctx, "UpdateShardCount", []byte(fmt.Sprintf(`{"StreamName":"st","TargetShardCount":%d,"ScalingType":"UNIFORM_SCALING"}`, n))); err != nil {
			t.Error(err)
		}
	}
	waitBatches(6 * batchesPerReshard)
	close(stop)
	wg.Wait()

	out, err := e.Handle(ctx, "ListShards", []byte(`{"StreamName":"st"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ls struct{ Shards []struct{ ShardId string } }
	json.Unmarshal(out, &ls)
	seen := map[string]bool{}
	for _, sh := range ls.Shards {
		prev := new(big.Int)
		for _, r := range engineReadAllSeq(t, e, "st", sh.ShardId) {
			n, _ := new(big.Int).SetString(r[0], 10)
			if n.Cmp(prev) <= 0 {
				t.Fatalf("%s: sequence %s not above %s", sh.ShardId, n, prev)
			}
			prev = n
			if seen[r[1]] {
				t.Fatalf("record %s stored twice", r[1])
			}
			seen[r[1]] = true
		}
	}
	for k := range acked {
		if !seen[k] {
			t.Fatalf("acknowledged record %s missing", k)
		}
	}
	t.Logf("%d records over %d shards", len(seen), len(ls.Shards))
	// The log replays to the same records in the same order.
	before := map[string][][2]string{}
	for _, sh := range ls.Shards {
		before[sh.ShardId] = engineReadAllSeq(t, e, "st", sh.ShardId)
	}
	e.Close()
	e2, err := streams.New(streams.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	for _, sh := range ls.Shards {
		if got := engineReadAllSeq(t, e2, "st", sh.ShardId); fmt.Sprint(got) != fmt.Sprint(before[sh.ShardId]) {
			t.Fatalf("%s differs after replay: %d records, want %d", sh.ShardId, len(got), len(before[sh.ShardId]))
		}
	}
}

func putRecordsBodyData(stream string, w, i int) []byte {
	type entry struct {
		PartitionKey string
		Data         []byte
	}
	var req struct {
		StreamName string
		Records    []entry
	}
	req.StreamName = stream
	for j := 0; j < 50; j++ {
		req.Records = append(req.Records, entry{fmt.Sprintf("%d-%d", i, j), []byte(fmt.Sprintf("w%d-%d-%d", w, i, j))})
	}
	b, _ := json.Marshal(req)
	return b
}

// engineReadAllSeq reads a whole shard and returns (sequence number, data) pairs.
func engineReadAllSeq(t testing.TB, e *streams.Engine, stream, shard string) [][2]string {
	t.Helper()
	ctx := context.Background()
	out, err := e.Handle(ctx, "GetShardIterator", []byte(fmt.Sprintf(`{"StreamName":%q,"ShardId":%q,"ShardIteratorType":"TRIM_HORIZON"}`, stream, shard)))
	if err != nil {
		t.Fatal(err)
	}
	var it struct{ ShardIterator string }
	json.Unmarshal(out, &it)
	iter := it.ShardIterator
	var recs [][2]string
	for iter != "" {
		out, err := e.Handle(ctx, "GetRecords", []byte(fmt.Sprintf(`{"ShardIterator":%q,"Limit":1000}`, iter)))
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Records []struct {
				SequenceNumber string
				Data           []byte
			}
			NextShardIterator string
		}
		json.Unmarshal(out, &res)
		for _, r := range res.Records {
			recs = append(recs, [2]string{r.SequenceNumber, string(r.Data)})
		}
		if len(res.Records) == 0 {
			break
		}
		iter = res.NextShardIterator
	}
	return recs
}
