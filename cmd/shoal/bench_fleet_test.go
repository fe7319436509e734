package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/shoal-go/shoal/internal/fleetbench"
)

// TestBenchFleetSmoke runs the fleet harness small (two worker processes of this binary, 4
// shards, one graceful stop and one crash, the lease table in a `shoal local` child process): it
// must lose nothing and measure something. It asserts no timing: that is the benchmark's job.
func TestBenchFleetSmoke(t *testing.T) {
	t.Setenv("SHOAL_TEST_AS_CLI", "1") // inherited by the child processes only
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var progress syncBuffer // the local server's stderr and the progress lines
	local, _, stop, err := startLocalProcess(ctx, &progress)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	results, err := fleetbench.Run(ctx, fleetbench.Config{
		WorkerArgs: []string{"demo-worker"}, AWSConfig: endpointConfig, KinesisEndpoint: local,
		Stores:      []fleetbench.Store{{Name: "shoal local", Endpoint: local}},
		Scenarios:   []string{fleetbench.ScenarioSIGTERM, fleetbench.ScenarioSIGKILL},
		SmallShards: 4, Trials: 1, Deadline: time.Minute, LogDir: t.TempDir(), Progress: &progress,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var table bytes.Buffer
	fleetbench.WriteTable(&table, results)
	t.Logf("\n%s", table.String())
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	for _, r := range results {
		if r.Produced == 0 || r.Lost != 0 {
			t.Errorf("%s: %d of %d records lost", r.Scenario, r.Lost, r.Produced)
		}
		if r.Moving == 0 || r.Moved != r.Moving || len(r.Gaps) != r.Moved {
			t.Errorf("%s: %d of %d shards of the stopped worker moved, %d gaps measured (%s)", r.Scenario, r.Moved, r.Moving, len(r.Gaps), r.Note)
		}
		if r.WorkerExits != 0 {
			t.Errorf("%s: %s", r.Scenario, r.Note)
		}
		if r.Requests == 0 || r.LeaseTableRequests == 0 || r.WorkerTableRequests == 0 {
			t.Errorf("%s: the proxy counted %d DynamoDB requests, %d on the lease table, %d on the worker table", r.Scenario, r.Requests, r.LeaseTableRequests, r.WorkerTableRequests)
		}
		for _, g := range r.Gaps {
			if g <= 0 {
				t.Errorf("%s: gap %v: a moved shard must be processed after the stop", r.Scenario, g)
			}
		}
	}
}
