// Package kclpeers is the same-run baseline of Shoal's lease benchmarks against
// github.com/vmware/vmware-go-kcl-v2 v1.0.0: crash failover, graceful shutdown, rebalance when a
// worker joins, and DynamoDB writes per lease per minute, both libraries at their default timings
// over one in-process kinesislocal server. It is a separate module so that Shoal's core module
// never depends on vmware. Run it with `go test -run TestBaseline -v` (about 5 minutes).
package kclpeers
