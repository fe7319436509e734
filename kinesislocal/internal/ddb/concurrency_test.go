package ddb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// TestConditionalIncrementsAreAtomic races workers that read a counter and conditionally bump it
// (the lease-taking pattern). Every successful update must be counted exactly once: the final
// counter equals the number of successes, and no two workers ever succeed with the same
// expected value.
func TestConditionalIncrementsAreAtomic(t *testing.T) {
	for _, durable := range []bool{false, true} {
		t.Run(fmt.Sprintf("durable=%v", durable), func(t *testing.T) {
			opts := Options{}
			if durable {
				opts.DataDir = t.TempDir()
			}
			e, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			call(t, e, "CreateTable", leaseTable)
			call(t, e, "PutItem", `{"TableName":"leases","Item":{"leaseKey":{"S":"s"},"leaseCounter":{"N":"0"}}}`)
			const workers, attempts = 6, 60
			var mu sync.Mutex
			won := map[string]int{}
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range attempts {
						out, err := e.Handle(context.Background(), "GetItem", []byte(`{"TableName":"leases","Key":{"leaseKey":{"S":"s"}},"ConsistentRead":true}`))
						if err != nil {
							t.Error(err)
							return
						}
						var cur string
						fmt.Sscanf(string(out), `{"Item":{"leaseCounter":{"N":%q}`, &cur)
						body := fmt.Sprintf(`{"TableName":"leases","Key":{"leaseKey":{"S":"s"}},"UpdateExpression":"SET leaseCounter = leaseCounter + :one, leaseOwner = :w","ConditionExpression":"leaseCounter = :c","ExpressionAttributeValues":{":one":{"N":"1"},":c":{"N":%q},":w":{"S":"w%d"}}}`, cur, w)
						_, err = e.Handle(context.Background(), "UpdateItem", []byte(body))
						var ae *awsproto.Error
						switch {
						case err == nil:
							mu.Lock()
							won[cur]++
							mu.Unlock()
						case errors.As(err, &ae) && ae.Type == awsproto.ConditionalCheckFailed:
						default:
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			total := 0
			for c, n := range won {
				if n != 1 {
					t.Fatalf("%d workers succeeded with expected counter %s", n, c)
				}
				total++
			}
			m := call(t, e, "GetItem", `{"TableName":"leases","Key":{"leaseKey":{"S":"s"}}}`)
			got := m["Item"].(map[string]any)["leaseCounter"].(map[string]any)["N"]
			if got != fmt.Sprint(total) || total == 0 {
				t.Fatalf("counter %v after %d successful conditional updates", got, total)
			}
		})
	}
}
