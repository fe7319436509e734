package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kpl"
)

// maxLine bounds one input line (Kinesis allows at most 10 MiB per record).
const maxLine = 10 << 20

// keyRule decides a record's partition key: a fixed key, a field of a JSON line, or random.
type keyRule struct {
	fixed, field string
}

// key returns the partition key of line.
func (k keyRule) key(line []byte) (string, error) {
	switch {
	case k.fixed != "":
		return k.fixed, nil
	case k.field != "":
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			return "", fmt.Errorf("not a JSON object: %v", err)
		}
		raw, ok := obj[k.field]
		if !ok {
			return "", fmt.Errorf("no field %q", k.field)
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if s == "" {
				return "", fmt.Errorf("field %q is empty", k.field)
			}
			return s, nil
		}
		if v := strings.TrimSpace(string(raw)); v != "null" && !strings.HasPrefix(v, "{") && !strings.HasPrefix(v, "[") {
			return v, nil // number or boolean, as written
		}
		return "", fmt.Errorf("field %q is not a string, number or boolean", k.field)
	default:
		return kpl.RandomPartitionKey(), nil
	}
}

// putTally counts the outcome of a put; its methods are safe for concurrent use (kpl callbacks).
type putTally struct {
	mu       sync.Mutex
	read     int
	written  int
	perShard map[string]int
	failed   int
	errs     []string // the first few distinct failure messages
	aggr     int      // records written inside an aggregate
}

func (t *putTally) fail(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed++
	if len(t.errs) < 5 && !containsStr(t.errs, msg) {
		t.errs = append(t.errs, msg)
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (t *putTally) done(r kpl.Result, err error) {
	if err != nil {
		t.fail(err.Error())
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.written++
	t.perShard[r.ShardID]++
	if r.Aggregated {
		t.aggr++
	}
}

// summary writes the tally: records, shards, failures.
func (t *putTally) summary(w io.Writer, kinesisRecords int64, aggregate bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(w, "records:  %d read, %d written, %d failed\n", t.read, t.written, t.failed)
	if aggregate {
		fmt.Fprintf(w, "kinesis:  %d Kinesis records (%d user records aggregated)\n", kinesisRecords, t.aggr)
	}
	ids := make([]string, 0, len(t.perShard))
	for id := range t.perShard {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s=%d", id, t.perShard[id])
	}
	if len(ids) == 0 {
		fmt.Fprintln(w, "shards:   0")
	} else {
		fmt.Fprintf(w, "shards:   %d (%s)\n", len(ids), strings.Join(parts, " "))
	}
	for _, e := range t.errs {
		fmt.Fprintf(w, "failure:  %s\n", e)
	}
}

func runPut(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("put", "put STREAM [--file FILE] [--key KEY | --key-field FIELD] [--aggregate]", `
Writes one record per input line (without its newline; empty lines are skipped) from stdin or
--file, through Shoal's producer (package kpl: batching, retries of throttled and failed records
until --ttl). Partition keys are random unless --key or --key-field is given. With --aggregate,
records bound for the same shard are packed into KPL aggregates. Prints a summary; the exit code
is 1 if any record failed.

Examples:
  shoal put orders --file events.jsonl --key-field customer --aggregate
  seq 1 1000 | shoal put orders --endpoint http://127.0.0.1:4567
  echo hello | shoal put orders --key greeting`, stderr)
	cf := addClientFlags(fs)
	file := fs.String("file", "", "read records from this file instead of stdin")
	var rule keyRule
	fs.StringVar(&rule.fixed, "key", "", "partition key of every record")
	fs.StringVar(&rule.field, "key-field", "", "take the partition key from this field of each JSON line")
	aggregate := fs.Bool("aggregate", false, "aggregate records per shard in the KPL format")
	ttl := fs.Duration("ttl", kpl.DefaultRecordTTL, "give up on a record not written within this time")
	pos, err := parseArgs(fs, args, "STREAM")
	if err != nil {
		return err
	}
	if rule.fixed != "" && rule.field != "" {
		return usageError(fs, "give at most one of --key and --key-field")
	}
	kc, err := cf.kinesisClient()
	if err != nil {
		return err
	}
	name := pos[0]
	if _, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name}); err != nil {
		return cf.explain(err, "describe stream", name)
	}
	in := io.Reader(os.Stdin)
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	p, err := kpl.New(kpl.Config{Client: kc, StreamName: name, DisableAggregation: !*aggregate, RecordTTL: *ttl})
	if err != nil {
		return err
	}
	t := &putTally{perShard: map[string]int{}}
	readErr := putLines(ctx, p, in, rule, t)
	// Close drains what was accepted; give it the records' TTL plus a margin, even after Ctrl-C
	// so accepted records are still reported.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *ttl+5*time.Second)
	defer cancel()
	closeErr := p.Close(cctx)
	t.summary(stdout, p.Stats().KinesisRecordsPut, *aggregate)
	switch {
	case readErr != nil:
		return readErr
	case closeErr != nil:
		return closeErr
	case t.failed > 0:
		return fmt.Errorf("%d of %d records failed", t.failed, t.read)
	}
	return nil
}

// putLines hands each non-empty line of in to p; it blocks while the producer's buffer is full.
func putLines(ctx context.Context, p *kpl.Producer, in io.Reader, rule keyRule, t *putTally) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(line) == 0 {
			continue
		}
		t.mu.Lock()
		t.read++
		n := t.read
		t.mu.Unlock()
		key, err := rule.key(line)
		if err != nil {
			t.fail(fmt.Sprintf("line %d: %v", n, err))
			continue
		}
		data := append([]byte(nil), line...)
		if err := p.Put(ctx, kpl.Record{PartitionKey: key, Data: data}, t.done); err != nil {
			if errors.Is(err, kpl.ErrInvalidRecord) {
				t.fail(fmt.Sprintf("line %d: %v", n, err))
				continue
			}
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	return nil
}
