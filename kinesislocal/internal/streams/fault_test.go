package streams

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
	"github.com/shoal-go/shoal/kinesislocal/internal/wal/faulttest"
)

// faultEngine drives the Kinesis engine for package faulttest: a stream, then PutRecords,
// PutRecord, a tag change and a split, each step one request (one log write when sequential).
type faultEngine struct{ e *Engine }

func (f faultEngine) call(op, body string) ([]byte, error) {
	return f.e.Handle(context.Background(), op, []byte(body))
}

func (f faultEngine) Step(i int) ([]string, error) {
	switch {
	case i == 0:
		_, err := f.call("CreateStream", `{"StreamName":"f","ShardCount":2}`)
		return nil, err
	case i == 7:
		_, err := f.call("AddTagsToStream", fmt.Sprintf(`{"StreamName":"f","Tags":{"t%d":"v"}}`, i))
		return nil, err
	case i == 11:
		_, err := f.call("SplitShard", `{"StreamName":"f","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"85070591730234615865843651857942052864"}`)
		return nil, err
	case i%2 == 1:
		var keys, recs []string
		for j := range 3 {
			k := fmt.Sprintf("s%d-%d", i, j)
			keys = append(keys, k)
			recs = append(recs, fmt.Sprintf(`{"PartitionKey":"%d","Data":"%s"}`, i*3+j, base64.StdEncoding.EncodeToString([]byte(k))))
		}
		out, err := f.call("PutRecords", `{"StreamName":"f","Records":[`+strings.Join(recs, ",")+`]}`)
		if err == nil && !strings.Contains(string(out), `"FailedRecordCount":0`) {
			err = fmt.Errorf("PutRecords: %s", out)
		}
		return keys, err
	default:
		k := fmt.Sprintf("s%d", i)
		_, err := f.call("PutRecord", fmt.Sprintf(`{"StreamName":"f","PartitionKey":"%d","Data":"%s"}`, i, base64.StdEncoding.EncodeToString([]byte(k))))
		return []string{k}, err
	}
}

func (f faultEngine) Keys() (map[string]bool, error) {
	got := map[string]bool{}
	out, err := f.call("ListShards", `{"StreamName":"f"}`)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return got, nil // the stream's creation was never acknowledged
		}
		return nil, err
	}
	var ls struct{ Shards []struct{ ShardId string } }
	if err := json.Unmarshal(out, &ls); err != nil {
		return nil, err
	}
	for _, sh := range ls.Shards {
		out, err := f.call("GetShardIterator", fmt.Sprintf(`{"StreamName":"f","ShardId":%q,"ShardIteratorType":"TRIM_HORIZON"}`, sh.ShardId))
		if err != nil {
			return nil, err
		}
		var it struct{ ShardIterator string }
		json.Unmarshal(out, &it)
		for iter := it.ShardIterator; iter != ""; {
			out, err := f.call("GetRecords", fmt.Sprintf(`{"ShardIterator":%q}`, iter))
			if err != nil {
				return nil, err
			}
			var res struct {
				Records           []struct{ Data []byte }
				NextShardIterator string
			}
			if err := json.Unmarshal(out, &res); err != nil {
				return nil, err
			}
			for _, r := range res.Records {
				got[string(r.Data)] = true
			}
			if len(res.Records) == 0 {
				break
			}
			iter = res.NextShardIterator
		}
	}
	return got, nil
}

func (f faultEngine) Close() error { return f.e.Close() }

func (f faultEngine) Abandon() {
	f.e.closed.Store(true)
	f.e.wal.abandon()
}

func faultWorkload(steps, concurrency int) faulttest.Workload {
	return faulttest.Workload{LogName: logName, Steps: steps, Concurrency: concurrency,
		Open: func(dir string, fs wal.FS, log *slog.Logger) (faulttest.Engine, error) {
			e, err := New(Options{DataDir: dir, FS: fs, Logger: log})
			if err != nil {
				return nil, err
			}
			return faultEngine{e}, nil
		},
		Repair: Repair,
	}
}

// TestFaultsAtEveryWrite: bit flips, torn writes, short writes, ENOSPC and fsync errors at
// every write of a sequential run (see package faulttest for what is checked).
func TestFaultsAtEveryWrite(t *testing.T) {
	faulttest.Run(t, faultWorkload(16, 1))
}

// TestFaultsAtEveryWriteGroupCommit: the same with concurrent writers sharing writes and fsyncs
// (bit flips excluded: see faulttest.Workload.Concurrency).
func TestFaultsAtEveryWriteGroupCommit(t *testing.T) {
	faulttest.Run(t, faultWorkload(24, 4))
}

// TestRepairedHoleSurvivesCompaction: after a repair moved a record batch aside, its shard has
// a hole in its sequence; readers step over it, and compaction keeps it (a compacted log has no
// gap frame, so replay must accept a batch that starts past the shard's next index).
func TestRepairedHoleSurvivesCompaction(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f := faultEngine{e}
	var offs []int64
	var all []string
	for i := range 12 {
		offs = append(offs, e.wal.Size())
		keys, err := f.Step(i)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, keys...)
	}
	e.Close()
	path := filepath.Join(dir, logName)
	data, _ := os.ReadFile(path)
	data[offs[5]+50] ^= 0xff // step 5: PutRecords s5-0..2
	os.WriteFile(path, data, 0o644)
	if _, err := Repair(dir, nil); err != nil {
		t.Fatal(err)
	}
	var want map[string]bool
	for _, threshold := range []int64{1 << 30, 1} { // as repaired, then compacted on open
		e, err := New(Options{DataDir: dir, compactThreshold: threshold})
		if err != nil {
			t.Fatal(err)
		}
		got, err := faultEngine{e}.Keys()
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			// The damaged frame held step 5's records of one shard; everything else is there.
			for _, k := range all {
				if !got[k] && !strings.HasPrefix(k, "s5-") {
					t.Fatalf("after repair: %s lost (read %v)", k, got)
				}
			}
			if len(got) >= len(all) {
				t.Fatalf("after repair: read %d of %d records although a batch was damaged", len(got), len(all))
			}
			want = got
		} else if !maps.Equal(got, want) {
			t.Fatalf("after compaction: read %v, want %v", got, want)
		}
		// Writes continue after the hole.
		if _, err := (faultEngine{e}).Step(104); err != nil {
			t.Fatal(err)
		}
		want["s104"] = true
		e.Close()
	}
}
