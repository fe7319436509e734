package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeLines writes lines to a file in the test's temp directory and returns its path.
func writeLines(t *testing.T, lines []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tailLines parses tail's text output into its fields.
func tailLines(t *testing.T, out string) [][]string {
	t.Helper()
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 4 {
			t.Fatalf("tail line %q has %d fields, want 4", l, len(f))
		}
		rows = append(rows, f)
	}
	return rows
}

func TestPutThenTailRoundTrip(t *testing.T) {
	ep := startServer(t)
	mustShoal(t, ep, "stream", "create", "events", "--shards", "3")
	var lines []string
	for i := range 60 {
		lines = append(lines, fmt.Sprintf(`{"user":"u%d","n":%d}`, i%7, i))
	}
	lines = append(lines, "", `not json`) // an empty line is skipped; a non-JSON line fails
	code, out, errs := shoal(t, ep, "put", "events", "--file", writeLines(t, lines), "--key-field", "user")
	if code != 1 || !strings.Contains(errs, "1 of 61 records failed") {
		t.Fatalf("put: exit %d, stderr %q; want 1 and one failed record", code, errs)
	}
	if !strings.HasPrefix(out, "records:  61 read, 60 written, 1 failed\nshards:   3 (shardId-000000000000=") ||
		!strings.Contains(out, "failure:  line 61: not a JSON object") {
		t.Errorf("put summary:\n%s", out)
	}

	out = mustShoal(t, ep, "tail", "events", "--from", "trim-horizon", "--count", "60", "--poll", "20ms")
	rows := tailLines(t, out)
	if len(rows) != 60 {
		t.Fatalf("tail printed %d records, want 60", len(rows))
	}
	lastN := map[string]int{} // per key, records must come in put order
	var got []string
	for _, r := range rows {
		var v struct {
			User string
			N    int
		}
		if err := json.Unmarshal([]byte(r[3]), &v); err != nil {
			t.Fatalf("tail data %q: %v", r[3], err)
		}
		if r[2] != v.User {
			t.Errorf("record %d has key %q, want %q", v.N, r[2], v.User)
		}
		if prev, ok := lastN[v.User]; ok && prev > v.N {
			t.Errorf("key %s: record %d after %d", v.User, v.N, prev)
		}
		lastN[v.User] = v.N
		got = append(got, r[3])
	}
	sort.Strings(got)
	want := append([]string(nil), lines[:60]...)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tail read other records than put wrote")
	}
}

func TestPutAggregateThenTailJSON(t *testing.T) {
	ep := startServer(t)
	mustShoal(t, ep, "stream", "create", "agg", "--shards", "2")
	var lines []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf("record-%03d", i))
	}
	out := mustShoal(t, ep, "put", "agg", "--file", writeLines(t, lines), "--aggregate")
	var kinesisRecords, aggregated int
	if _, err := fmt.Sscanf(strings.Split(out, "\n")[1], "kinesis:  %d Kinesis records (%d user records aggregated)", &kinesisRecords, &aggregated); err != nil {
		t.Fatalf("put summary %q: %v", out, err)
	}
	if !strings.HasPrefix(out, "records:  300 read, 300 written, 0 failed\n") || kinesisRecords >= 300 || aggregated < 200 {
		t.Errorf("put --aggregate did not aggregate: %d Kinesis records, %d aggregated\n%s", kinesisRecords, aggregated, out)
	}

	out = mustShoal(t, ep, "tail", "agg", "--from", "trim-horizon", "--count", "300", "--json", "--poll", "20ms")
	seen := map[string]bool{}
	subs := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Shard, SequenceNumber, PartitionKey, Data string
			SubSequenceNumber                         uint64
			Aggregated                                bool
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("json line %q: %v", l, err)
		}
		if seen[r.Data] {
			t.Errorf("record %s read twice", r.Data)
		}
		seen[r.Data] = true
		if r.Aggregated && r.SubSequenceNumber > 0 {
			subs++
		}
		if len(r.PartitionKey) != 32 || r.Shard == "" || r.SequenceNumber == "" {
			t.Errorf("record %+v lacks its random key, shard or sequence number", r)
		}
	}
	if len(seen) != 300 || subs == 0 {
		t.Errorf("tail --json read %d distinct records (%d with sub-sequence > 0), want 300 from aggregates", len(seen), subs)
	}
}

// TestTailAcrossSplit puts records of one key, splits the shard while a tail follows the
// stream, puts more, and checks the tail read the parent to its end before the child: the key's
// records come out in put order, the first ones from the parent, the rest from a child.
func TestTailAcrossSplit(t *testing.T) {
	ep := startServer(t)
	mustShoal(t, ep, "stream", "create", "rs", "--shards", "1")
	from := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	batch := func(lo, hi int) string {
		var l []string
		for i := lo; i < hi; i++ {
			l = append(l, fmt.Sprintf("%d", i))
		}
		return writeLines(t, l)
	}
	mustShoal(t, ep, "put", "rs", "--file", batch(0, 20), "--key", "k", "--aggregate")

	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	var out syncBuffer
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var errb bytes.Buffer
		code := run(ctx, []string{"tail", "rs", "--from", from, "--count", "40", "--poll", "20ms", "--endpoint", ep}, &out, &errb)
		done <- result{code, out.String(), errb.String()}
	}()
	// Split only once the tail has read the parent's first records: it then learns of the
	// children from the parent's end (GetRecords ChildShards), not from its first listing.
	for deadline := time.Now().Add(10 * time.Second); strings.Count(out.String(), "\n") < 20; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tail read %q before the split", out.String())
		}
	}
	mustShoal(t, ep, "stream", "split", "rs", "--shard", "shardId-000000000000")
	mustShoal(t, ep, "put", "rs", "--file", batch(20, 40), "--key", "k")
	r := <-done
	if r.code != 0 {
		t.Fatalf("tail: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	rows := tailLines(t, r.out)
	for i, row := range rows {
		if row[3] != fmt.Sprint(i) || row[2] != "k" {
			t.Fatalf("record %d is %q (key %q), want %d: records out of order across the split\n%s", i, row[3], row[2], i, r.out)
		}
		parent := row[0] == "shardId-000000000000"
		if parent != (i < 20) {
			t.Errorf("record %d read from %s", i, row[0])
		}
	}
	if len(rows) != 40 {
		t.Errorf("tail read %d records, want 40", len(rows))
	}
}

// TestTailLatest starts a tail at LATEST and writes until it has printed a record.
func TestTailLatest(t *testing.T) {
	ep := startServer(t)
	mustShoal(t, ep, "stream", "create", "live", "--shards", "2")
	done := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out, errb bytes.Buffer
		code := run(ctx, []string{"tail", "live", "--count", "1", "--poll", "20ms", "--endpoint", ep}, &out, &errb)
		done <- fmt.Sprintf("%d|%s%s", code, out.String(), errb.String())
	}()
	ping := writeLines(t, []string{"ping"})
	for {
		select {
		case got := <-done:
			code, out, _ := strings.Cut(got, "|")
			if code != "0" || !strings.HasSuffix(out, "\tping\n") || strings.Count(out, "\n") != 1 {
				t.Fatalf("tail --from latest --count 1: exit %s, output %q", code, out)
			}
			return
		case <-time.After(100 * time.Millisecond):
			mustShoal(t, ep, "put", "live", "--file", ping)
		}
	}
}

func TestTailErrors(t *testing.T) {
	ep := startServer(t)
	code, _, errs := shoal(t, ep, "tail", "missing", "--count", "1")
	if code != 1 || errs != "shoal tail: stream missing not found at "+ep+"\n" {
		t.Errorf("tail of unknown stream: exit %d, stderr %q", code, errs)
	}
	code, _, errs = shoal(t, ep, "put", "missing", "--file", writeLines(t, []string{"x"}))
	if code != 1 || errs != "shoal put: stream missing not found at "+ep+"\n" {
		t.Errorf("put to unknown stream: exit %d, stderr %q", code, errs)
	}
	code, _, errs = shoal(t, ep, "tail", "s", "--from", "yesterday")
	if code != 2 || !strings.Contains(errs, `--from "yesterday": want latest, trim-horizon`) {
		t.Errorf("bad --from: exit %d, stderr %q", code, errs)
	}
	code, _, errs = shoal(t, ep, "put", "s", "--key", "a", "--key-field", "b")
	if code != 2 || !strings.Contains(errs, "at most one of --key and --key-field") {
		t.Errorf("--key with --key-field: exit %d, stderr %q", code, errs)
	}
}

func TestParseFrom(t *testing.T) {
	now := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want tailStart
		err  bool
	}{
		{in: "latest", want: tailStart{kind: "LATEST"}},
		{in: "TRIM_HORIZON", want: tailStart{kind: "TRIM_HORIZON"}},
		{in: "trim-horizon", want: tailStart{kind: "TRIM_HORIZON"}},
		{in: "2026-11-22T04:00:00Z", want: tailStart{kind: "AT_TIMESTAMP", at: now.Add(-time.Hour)}},
		{in: "-10m", want: tailStart{kind: "AT_TIMESTAMP", at: now.Add(-10 * time.Minute)}},
		{in: "10m", err: true},
		{in: "soon", err: true},
	}
	for _, tt := range tests {
		got, err := parseFrom(tt.in, now)
		if (err != nil) != tt.err || (!tt.err && (got.kind != tt.want.kind || !got.at.Equal(tt.want.at))) {
			t.Errorf("parseFrom(%q) = %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestReadyShards(t *testing.T) {
	known := map[string]tailShard{
		"a": {}, "b": {}, // originals
		"c": {parents: []string{"a"}}, "d": {parents: []string{"a"}}, // split of a
		"e": {parents: []string{"d", "b"}},  // merge of d and b
		"f": {parents: []string{"expired"}}, // parent beyond retention
	}
	tests := []struct {
		started, ended string
		want           string
	}{
		{"", "", "a,b,f"},
		{"abf", "", ""},
		{"abf", "a", "c,d"},
		{"abcdf", "ad", ""}, // e waits for b too
		{"abcdf", "adb", "e"},
	}
	set := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, c := range s {
			m[string(c)] = true
		}
		return m
	}
	for _, tt := range tests {
		got := strings.Join(readyShards(known, set(tt.started), set(tt.ended)), ",")
		if got != tt.want {
			t.Errorf("started %q ended %q: ready %q, want %q", tt.started, tt.ended, got, tt.want)
		}
	}
}

func TestTailTextGolden(t *testing.T) {
	ep := startServer(t)
	mustShoal(t, ep, "stream", "create", "one", "--shards", "1")
	mustShoal(t, ep, "put", "one", "--file", writeLines(t, []string{"hello", "tab\there"}), "--key", "k")
	mustShoal(t, ep, "put", "one", "--file", writeLines(t, []string{"x", "y"}), "--key", "agg", "--aggregate")
	out := mustShoal(t, ep, "tail", "one", "--from", "trim-horizon", "--count", "4", "--poll", "20ms")
	diffGolden(t, "tail", maskSeq(out), "shardId-000000000000\tSEQ\tk\thello\n"+
		"shardId-000000000000\tSEQ\tk\t\"tab\\there\"\n"+
		"shardId-000000000000\tSEQ/0\tagg\tx\n"+
		"shardId-000000000000\tSEQ/1\tagg\ty\n")
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{"plain text": "plain text", "é ü": "é ü", "a\tb": `"a\tb"`, "x\ny": `"x\ny"`, "\xff": `"\xff"`} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %s, want %s", in, got, want)
		}
	}
}
