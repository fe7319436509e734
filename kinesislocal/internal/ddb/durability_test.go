package ddb

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func call(t testing.TB, e *Engine, op, body string) map[string]any {
	t.Helper()
	out, err := e.Handle(context.Background(), op, []byte(body))
	if err != nil {
		t.Fatalf("%s %s: %v", op, body, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s: bad response %s", op, out)
	}
	return m
}

const leaseTable = `{"TableName":"leases","BillingMode":"PAY_PER_REQUEST",
 "AttributeDefinitions":[{"AttributeName":"leaseKey","AttributeType":"S"},{"AttributeName":"leaseOwner","AttributeType":"S"}],
 "KeySchema":[{"AttributeName":"leaseKey","KeyType":"HASH"}],
 "GlobalSecondaryIndexes":[{"IndexName":"byOwner","KeySchema":[{"AttributeName":"leaseOwner","KeyType":"HASH"}],"Projection":{"ProjectionType":"KEYS_ONLY"}}]}`

// dump renders every table's description essentials and items, for comparing two engines.
func dump(t testing.TB, e *Engine) string {
	t.Helper()
	var b strings.Builder
	names := call(t, e, "ListTables", `{}`)["TableNames"].([]any)
	for _, n := range names {
		d := call(t, e, "DescribeTable", fmt.Sprintf(`{"TableName":%q}`, n))["Table"].(map[string]any)
		fmt.Fprintf(&b, "table %s items=%v gsis=%v\n", n, d["ItemCount"], len(fmt.Sprint(d["GlobalSecondaryIndexes"])))
		ttl := call(t, e, "DescribeTimeToLive", fmt.Sprintf(`{"TableName":%q}`, n))
		fmt.Fprintf(&b, "ttl %v\n", ttl)
		out, _ := e.Handle(context.Background(), "Scan", []byte(fmt.Sprintf(`{"TableName":%q}`, n)))
		b.Write(out)
		b.WriteByte('\n')
	}
	return b.String()
}

func populate(t testing.TB, e *Engine) {
	call(t, e, "CreateTable", leaseTable)
	call(t, e, "CreateTable", `{"TableName":"gone","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"k","AttributeType":"N"}],"KeySchema":[{"AttributeName":"k","KeyType":"HASH"}]}`)
	call(t, e, "UpdateTimeToLive", `{"TableName":"leases","TimeToLiveSpecification":{"Enabled":true,"AttributeName":"exp"}}`)
	for i := range 50 {
		call(t, e, "PutItem", fmt.Sprintf(`{"TableName":"leases","Item":{"leaseKey":{"S":"shard-%d"},"leaseOwner":{"S":"w%d"},"leaseCounter":{"N":"0"}}}`, i, i%3))
	}
	for i := range 50 {
		call(t, e, "UpdateItem", fmt.Sprintf(`{"TableName":"leases","Key":{"leaseKey":{"S":"shard-%d"}},"UpdateExpression":"SET leaseCounter = leaseCounter + :one","ConditionExpression":"leaseCounter = :zero","ExpressionAttributeValues":{":one":{"N":"1"},":zero":{"N":"0"}}}`, i))
	}
	call(t, e, "DeleteItem", `{"TableName":"leases","Key":{"leaseKey":{"S":"shard-7"}}}`)
	call(t, e, "BatchWriteItem", `{"RequestItems":{"leases":[{"DeleteRequest":{"Key":{"leaseKey":{"S":"shard-8"}}}},{"PutRequest":{"Item":{"leaseKey":{"S":"batch"},"b":{"B":"AAEC"}}}}]}}`)
	call(t, e, "TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"leases","Item":{"leaseKey":{"S":"tx"},"ss":{"SS":["a","b"]}}}},{"Delete":{"TableName":"leases","Key":{"leaseKey":{"S":"shard-9"}}}}]}`)
	call(t, e, "PutItem", `{"TableName":"gone","Item":{"k":{"N":"1"}}}`)
	call(t, e, "DeleteTable", `{"TableName":"gone"}`)
}

func TestReopenWithoutClose(t *testing.T) {
	dir := t.TempDir()
	e1, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	populate(t, e1)
	want := dump(t, e1)
	if !strings.Contains(want, "items=49") || strings.Contains(want, "table gone") {
		t.Fatalf("unexpected state:\n%s", want)
	}
	// A second engine cannot open the directory while e1 holds it.
	if _, err := New(Options{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second engine on a held directory: %v", err)
	}
	// e1 dies as if killed: its files are closed (the kernel drops its lock), no Close, no compaction.
	e1.wal.abandon()
	e2, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := dump(t, e2); got != want {
		t.Fatalf("after reopen without Close:\ngot  %s\nwant %s", got, want)
	}
	// Writes continue after replay, then a clean Close compacts.
	call(t, e2, "PutItem", `{"TableName":"leases","Item":{"leaseKey":{"S":"after"}}}`)
	want = dump(t, e2)
	if err := e2.Close(); err != nil {
		t.Fatal(err)
	}
	e3, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e3.Close()
	if got := dump(t, e3); got != want {
		t.Fatalf("after Close and reopen:\ngot  %s\nwant %s", got, want)
	}
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	e1, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	populate(t, e1)
	want := dump(t, e1)
	e1.wal.abandon()
	path := filepath.Join(dir, walName)
	st, _ := os.Stat(path)
	for _, garbage := range [][]byte{{0x10, 0, 0}, {0x05, 0, 0, 0, 1, 2, 3, 4, '{'}, {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}} {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(garbage)
		f.Close()
		e2, err := New(Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if got := dump(t, e2); got != want {
			t.Fatalf("torn tail %x: state differs", garbage)
		}
		e2.wal.abandon()
		if st2, _ := os.Stat(path); st2.Size() != st.Size() {
			t.Fatalf("torn tail not truncated: %d vs %d", st2.Size(), st.Size())
		}
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	call(t, e, "CreateTable", leaseTable)
	for i := range 500 {
		call(t, e, "PutItem", fmt.Sprintf(`{"TableName":"leases","Item":{"leaseKey":{"S":"k%d"},"v":{"N":"%d"}}}`, i%5, i))
	}
	path := filepath.Join(dir, walName)
	before, _ := os.Stat(path)
	want := dump(t, e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if after.Size()*10 > before.Size() {
		t.Fatalf("compaction: %d -> %d bytes", before.Size(), after.Size())
	}
	e2, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := dump(t, e2); got != want {
		t.Fatalf("after compaction:\ngot  %s\nwant %s", got, want)
	}
	if _, err := e.Handle(context.Background(), "ListTables", []byte(`{}`)); err == nil {
		t.Fatal("closed engine still serves")
	}
}

// TestKill9 runs a writer in a child process, kills it with SIGKILL mid-stream and checks that
// every write the child saw acknowledged is in the replayed state.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("DDB_KILL9_CHILD"); dir != "" {
		e, err := New(Options{DataDir: dir})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		if _, err := e.Handle(context.Background(), "CreateTable", []byte(leaseTable)); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		for i := 0; ; i++ {
			body := fmt.Sprintf(`{"TableName":"leases","Item":{"leaseKey":{"S":"k%d"},"v":{"N":"%d"}}}`, i, i)
			if _, err := e.Handle(context.Background(), "PutItem", []byte(body)); err != nil {
				fmt.Println("ERR", err)
				os.Exit(1)
			}
			fmt.Println("ACK", i)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "DDB_KILL9_CHILD="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Progress, not the clock, decides when to kill: after 201 acknowledged writes (a 10 s
	// deadline here made the outcome depend on how fast a loaded machine starts the child). The
	// timer only ends a child that stopped making progress.
	stalled := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	last := -1
	for last < 200 && sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ERR") {
			stalled.Stop()
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal(line)
		}
		fmt.Sscanf(line, "ACK %d", &last)
	}
	stalled.Stop()
	cmd.Process.Kill()
	cmd.Wait()
	if last < 200 {
		t.Fatalf("child acknowledged only %d writes before it stopped or 2 minutes passed", last+1)
	}
	e, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := 0; i <= last; i++ {
		m := call(t, e, "GetItem", fmt.Sprintf(`{"TableName":"leases","Key":{"leaseKey":{"S":"k%d"}}}`, i))
		if m["Item"] == nil {
			t.Fatalf("acknowledged write k%d (of %d) lost after kill -9", i, last+1)
		}
	}
}

func TestCompactionWhileRunning(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.wal.minLog = 8 << 10
	call(t, e, "CreateTable", leaseTable)
	path := filepath.Join(dir, walName)
	maxSize := int64(0)
	for i := range 2000 {
		call(t, e, "UpdateItem", fmt.Sprintf(`{"TableName":"leases","Key":{"leaseKey":{"S":"k%d"}},"UpdateExpression":"ADD n :one","ExpressionAttributeValues":{":one":{"N":"1"}}}`, i%10))
		if st, err := os.Stat(path); err == nil && st.Size() > maxSize {
			maxSize = st.Size()
		}
	}
	if maxSize > 64<<10 {
		t.Fatalf("log grew to %d bytes: never compacted", maxSize)
	}
	want := dump(t, e)
	if !strings.Contains(want, `"n":{"N":"200"}`) {
		t.Fatalf("counters wrong before reopen:\n%s", want)
	}
	e.wal.abandon()
	e2, err := New(Options{DataDir: dir}) // without Close: the compacted log plus its tail
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := dump(t, e2); got != want {
		t.Fatalf("after running compactions:\ngot  %s\nwant %s", got, want)
	}
}

// TestReplayAfterGSIAdded: items written before a GSI existed may not fit its key type; the
// compacted log (metadata first, then items) must still replay.
func TestReplayAfterGSIAdded(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	call(t, e, "CreateTable", `{"TableName":"tbl","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"}],"KeySchema":[{"AttributeName":"k","KeyType":"HASH"}]}`)
	call(t, e, "PutItem", `{"TableName":"tbl","Item":{"k":{"S":"a"},"g":{"N":"1"}}}`)
	call(t, e, "PutItem", `{"TableName":"tbl","Item":{"k":{"S":"b"},"g":{"S":"x"}}}`)
	call(t, e, "UpdateTable", `{"TableName":"tbl","AttributeDefinitions":[{"AttributeName":"g","AttributeType":"S"}],"GlobalSecondaryIndexUpdates":[{"Create":{"IndexName":"byG","KeySchema":[{"AttributeName":"g","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}}]}`)
	m := call(t, e, "Query", `{"TableName":"tbl","IndexName":"byG","KeyConditionExpression":"g = :x","ExpressionAttributeValues":{":x":{"S":"x"}}}`)
	if m["Count"].(float64) != 1 {
		t.Fatalf("GSI query: %v", m)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	defer e2.Close()
	if m := call(t, e2, "Scan", `{"TableName":"tbl"}`); m["Count"].(float64) != 2 {
		t.Fatalf("after replay: %v", m)
	}
}
