package conformance

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// deviation is one known difference between a target and AWS. The case named by id asserts
// that the target really behaves as got says; if the target is ever fixed, that case fails and
// the row must go.
type deviation struct {
	target string // target name, e.g. kinesalite
	id     string // stable id; the case calls tg.deviates(t, id)
	api    string // operation(s) concerned
	aws    string // what AWS does, per its documentation
	got    string // what the target does instead (asserted by the case)
}

// deviations is the ONE table of expected deviations. docs/emulator-differences.md is generated
// from it (go test ./internal/conformance -run TestDifferencesDoc -update).
var deviations = []deviation{
	// kinesalite 3.3.3
	{kinesalite, "stream-mode-details", "DescribeStreamSummary",
		"StreamModeDetails.StreamMode is PROVISIONED or ON_DEMAND",
		"StreamModeDetails is absent"},
	{kinesalite, "liststreams-summaries", "ListStreams",
		"StreamSummaries (name, ARN, status, mode, creation time) accompany StreamNames in the response",
		"only StreamNames; no StreamSummaries"},
	{kinesalite, "listshards-pagination", "ListShards",
		"MaxResults caps the page; NextToken continues (StreamName and NextToken together are rejected with InvalidArgumentException)",
		"MaxResults is ignored: one page with every shard, no NextToken"},
	{kinesalite, "listshards-filter", "ListShards",
		"ShardFilter AT_LATEST returns only open shards; AFTER_SHARD_ID returns shards after the given id",
		"ShardFilter is accepted and ignored: every shard, closed parents and the given id included"},
	{kinesalite, "stream-arn-input", "PutRecord, ListShards, GetShardIterator, ...",
		"StreamARN may replace StreamName in every data-plane and shard call",
		"StreamARN without StreamName fails: PutRecord (and the other data-plane calls) with ValidationException (streamName must not be null), ListShards with InvalidArgumentException"},
	{kinesalite, "getrecords-limit", "GetRecords",
		"Limit above 10,000 is rejected with InvalidArgumentException",
		"rejected with ValidationException (a model-constraint error) instead"},
	{kinesalite, "retention-max", "IncreaseStreamRetentionPeriod",
		"retention can be raised up to 8,760 hours (365 days, since 2020); above that InvalidArgumentException",
		"the maximum is 168 hours (the pre-2020 limit): 8760 is rejected with ValidationException"},
	{kinesalite, "millis-behind-latest", "GetRecords",
		"MillisBehindLatest says how far the response is from the tip of the stream (> 0 when behind, 0 when caught up)",
		"MillisBehindLatest is always 0 on an open shard, even when the reader is behind"},
	{kinesalite, "child-shards", "GetRecords",
		"at the end of a closed shard: NextShardIterator is null and ChildShards lists the children (2 after a split, 1 with both parents after a merge)",
		"NextShardIterator is null but ChildShards is absent: children must be found with ListShards"},
	{kinesalite, "update-shard-count", "UpdateShardCount",
		"UNIFORM_SCALING resizes the stream (2 -> 4 open shards covering the key space)",
		"UnknownOperationException: the operation does not exist"},
	{kinesalite, "stream-consumers", "RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer",
		"enhanced fan-out consumers can be registered, described, listed and deregistered",
		"UnknownOperationException for all four operations"},
	{kinesalite, "subscribe-to-shard", "SubscribeToShard",
		"an event stream of SubscribeToShardEvent records for a registered consumer",
		"UnknownOperationException (no enhanced fan-out)"},
	{kinesalite, "stream-encryption", "StartStreamEncryption, StopStreamEncryption",
		"server-side encryption is started (EncryptionType KMS and the KeyId in DescribeStream, DescribeStreamSummary and PutRecord) and stopped",
		"UnknownOperationException for both; EncryptionType stays NONE"},

	// kinesis-local 0.6.2 (kinesis-mock)
	{kinesisLocal, "liststreams-summaries", "ListStreams",
		"StreamSummaries (name, ARN, status, mode, creation time) accompany StreamNames in the response",
		"only StreamNames; no StreamSummaries"},
	{kinesisLocal, "putrecords-501", "PutRecords",
		"at most 500 records per call; 501 is rejected with ValidationException",
		"501 records are accepted and written"},
	{kinesisLocal, "bogus-iterator", "GetRecords",
		"a malformed shard iterator gets HTTP 400 InvalidArgumentException",
		"HTTP 500 with an empty body (the SDK reports UnknownError and retries it as a server error)"},
	{kinesisLocal, "subscribe-initial-response", "SubscribeToShard",
		"the event stream starts with an initial-response event, which aws-sdk-go-v2 requires",
		"the first event is a SubscribeToShardEvent; the Go SDK fails with \"expected initial-response\" unless a client-side shim inserts one"},
	{kinesisLocal, "kms-key-format", "StartStreamEncryption",
		"a KeyId in none of the documented forms (key id, key ARN, alias ARN, alias/NAME) is refused by KMS, which Kinesis reports as KMSNotFoundException (KMS answers NotFoundException \"Invalid keyId ...\")",
		"InvalidArgumentException (\"Received KeyId is not a properly formatted Alias or GUID\")"},
	{kinesisLocal, "subscribe-shard-end", "SubscribeToShard",
		"on a closed shard, after its last records: an event with ContinuationSequenceNumber null and ChildShards, then the stream ends",
		"no such event: every event has a ContinuationSequenceNumber and no ChildShards, and the stream stays open (asserted for 2.5 s; per emulators.md until its 5-minute limit)"},
	{kinesisLocal, "deletestream-refused-deletes", "DeleteStream",
		"with consumers registered and EnforceConsumerDeletion unset, DeleteStream fails with ResourceInUseException and changes nothing: the stream and its consumers stay",
		"the call fails with ResourceInUseException, yet the stream and its consumers are removed DELETE_STREAM_DURATION later; later calls get ResourceNotFoundException"},

	// dynalite 4.0.0
	{dynalite, "transact-write-items", "TransactWriteItems",
		"all-or-nothing writes with condition checks; a failed condition cancels the transaction (TransactionCanceledException with CancellationReasons)",
		"UnknownOperationException: the operation does not exist"},
	{dynalite, "update-table-gsi", "UpdateTable",
		"GlobalSecondaryIndexUpdates Create (with no ProvisionedThroughput on an on-demand table) adds the index: CREATING with Backfilling, then ACTIVE and queryable",
		"without ProvisionedThroughput: ValidationException (provisionedThroughput must not be null); with it: accepted, but no index is ever added"},
	{dynalite, "return-values-on-ccf", "PutItem, UpdateItem, DeleteItem",
		"ReturnValuesOnConditionCheckFailure=ALL_OLD puts the item's old attributes in ConditionalCheckFailedException.Item",
		"the parameter is ignored: ConditionalCheckFailedException carries no Item"},
}

// devRecorder remembers which deviations the cases consulted, so a row that no case checks any
// more is reported.
type devRecorder struct {
	mu   sync.Mutex
	seen map[string]bool // target + "/" + id
}

// deviates reports whether the table declares deviation id for this target, and logs it.
// Every declared deviation must be consulted by some case on its target.
func (tg *target) deviates(t *testing.T, id string) bool {
	t.Helper()
	if !slices.ContainsFunc(deviations, func(d deviation) bool { return d.id == id }) {
		t.Fatalf("deviation id %q is not in the deviations table", id)
	}
	tg.devs.mu.Lock()
	if tg.devs.seen == nil {
		tg.devs.seen = map[string]bool{}
	}
	tg.devs.seen[tg.name()+"/"+id] = true
	tg.devs.mu.Unlock()
	for _, d := range deviations {
		if d.target == tg.name() && d.id == id {
			t.Logf("expected deviation %s/%s: %s", d.target, d.id, d.got)
			return true
		}
	}
	return false
}

// checkDeviationsConsulted fails if a declared deviation of a target that ran was never
// consulted by the cases (a stale row). It only applies when every case ran (no -run filter
// below the top-level test).
func checkDeviationsConsulted(t *testing.T, targets []*target) {
	t.Helper()
	if strings.Contains(flag.Lookup("test.run").Value.String(), "/") {
		return
	}
	for _, tg := range targets {
		if t.Failed() || (tg.kc == nil && tg.dc == nil) {
			continue
		}
		for _, d := range deviations {
			if d.target != tg.name() {
				continue
			}
			tg.devs.mu.Lock()
			ok := tg.devs.seen[d.target+"/"+d.id]
			tg.devs.mu.Unlock()
			if !ok {
				t.Errorf("deviation %s/%s is declared but no case checked it: remove the row or test it", d.target, d.id)
			}
		}
	}
}

var update = flag.Bool("update", false, "rewrite docs/emulator-differences.md from the deviations table")

const (
	docPath    = "../../docs/emulator-differences.md"
	beginTable = "<!-- BEGIN GENERATED: deviations table (internal/conformance/deviations_test.go) -->"
	endTable   = "<!-- END GENERATED -->"
)

// renderTable renders the deviations table as Markdown.
func renderTable() string {
	var b strings.Builder
	b.WriteString(beginTable + "\n\n")
	b.WriteString("| target | id | API | AWS (documented) | target does instead |\n| --- | --- | --- | --- | --- |\n")
	for _, d := range deviations {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", d.target, d.id, d.api,
			strings.ReplaceAll(d.aws, "|", "\\|"), strings.ReplaceAll(d.got, "|", "\\|"))
	}
	b.WriteString("\n" + endTable)
	return b.String()
}

// TestDifferencesDoc checks that docs/emulator-differences.md contains the deviations table as
// generated from the code; -update rewrites that section.
func TestDifferencesDoc(t *testing.T) {
	path := filepath.FromSlash(docPath)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, beginTable), strings.Index(doc, endTable)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated section (%q ... %q)", path, beginTable, endTable)
	}
	want := doc[:i] + renderTable() + doc[j+len(endTable):]
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s is out of date with the deviations table; run: go test ./internal/conformance -run TestDifferencesDoc -update", path)
}

// TestDeviationsTable checks the table itself: known targets, unique rows, no empty text.
func TestDeviationsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range deviations {
		if !slices.ContainsFunc(allTargets, func(s targetSpec) bool { return s.name == d.target }) {
			t.Errorf("deviation %s names unknown target %q", d.id, d.target)
		}
		if d.id == "" || d.api == "" || d.aws == "" || d.got == "" {
			t.Errorf("deviation %s/%s has an empty field", d.target, d.id)
		}
		if seen[d.target+"/"+d.id] {
			t.Errorf("deviation %s/%s is declared twice", d.target, d.id)
		}
		seen[d.target+"/"+d.id] = true
	}
}
