package ddb

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
	"github.com/shoal-go/shoal/kinesislocal/internal/wal/faulttest"
)

// faultEngine drives the DynamoDB engine for package faulttest: a table, then PutItem,
// BatchWriteItem, TransactWriteItems and UpdateItem, each step one request.
type faultEngine struct{ e *Engine }

func (f faultEngine) call(op, body string) ([]byte, error) {
	return f.e.Handle(context.Background(), op, []byte(body))
}

func (f faultEngine) Step(i int) ([]string, error) {
	item := func(k string) string { return fmt.Sprintf(`{"k":{"S":%q},"v":{"N":"%d"}}`, k, i) }
	switch {
	case i == 0:
		_, err := f.call("CreateTable", `{"TableName":"faults","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"}],"KeySchema":[{"AttributeName":"k","KeyType":"HASH"}]}`)
		return nil, err
	case i%4 == 1:
		k := fmt.Sprintf("p%d", i)
		_, err := f.call("PutItem", `{"TableName":"faults","Item":`+item(k)+`}`)
		return []string{k}, err
	case i%4 == 2:
		a, b := fmt.Sprintf("b%d-a", i), fmt.Sprintf("b%d-b", i)
		out, err := f.call("BatchWriteItem", `{"RequestItems":{"faults":[{"PutRequest":{"Item":`+item(a)+`}},{"PutRequest":{"Item":`+item(b)+`}}]}}`)
		if err == nil && !strings.Contains(string(out), `"UnprocessedItems":{}`) {
			err = fmt.Errorf("BatchWriteItem: %s", out)
		}
		return []string{a, b}, err
	case i%4 == 3:
		a, b := fmt.Sprintf("t%d-a", i), fmt.Sprintf("t%d-b", i)
		_, err := f.call("TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"faults","Item":`+item(a)+`}},{"Put":{"TableName":"faults","Item":`+item(b)+`}}]}`)
		return []string{a, b}, err
	default:
		k := fmt.Sprintf("u%d", i)
		_, err := f.call("UpdateItem", fmt.Sprintf(`{"TableName":"faults","Key":{"k":{"S":%q}},"UpdateExpression":"ADD n :one","ExpressionAttributeValues":{":one":{"N":"1"}}}`, k))
		return []string{k}, err
	}
}

func (f faultEngine) Keys() (map[string]bool, error) {
	got := map[string]bool{}
	out, err := f.call("Scan", `{"TableName":"faults"}`)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return got, nil // the table's creation was never acknowledged
		}
		return nil, err
	}
	var res struct {
		Items            []map[string]struct{ S string }
		LastEvaluatedKey any
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, err
	}
	if res.LastEvaluatedKey != nil {
		return nil, fmt.Errorf("scan needs more than one page")
	}
	for _, it := range res.Items {
		got[it["k"].S] = true
	}
	return got, nil
}

func (f faultEngine) Close() error { return f.e.Close() }

func (f faultEngine) Abandon() {
	f.e.mu.Lock()
	f.e.closed = true
	f.e.mu.Unlock()
	f.e.wal.abandon()
}

func faultWorkload(steps, concurrency int) faulttest.Workload {
	return faulttest.Workload{LogName: walName, Steps: steps, Concurrency: concurrency,
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

// TestFaultsAtEveryWriteGroupCommit: the same with concurrent writers sharing writes and fsyncs.
func TestFaultsAtEveryWriteGroupCommit(t *testing.T) {
	faulttest.Run(t, faultWorkload(24, 4))
}
