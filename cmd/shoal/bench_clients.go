package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/internal/clientbench"
	"github.com/shoal-go/shoal/kinesislocal"
)

// runBenchConsumer compares the kcl consumer's CPU per record with a bare GetRecords loop over
// the same records on an in-process kinesislocal, in one run.
func runBenchConsumer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench consumer", "bench consumer [--records 200000] [--shards 4] [--rounds 4]", stderr)
	records := fs.Int("records", 200_000, "records per round (100 bytes each)")
	shards := fs.Int("shards", 4, "shards")
	rounds := fs.Int("rounds", 4, "rounds (each reads a fresh stream with both sides, order alternating)")
	if err := parse(fs, args); err != nil {
		return err
	}
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	r, err := clientbench.Consumer(ctx, kinesis.NewFromConfig(srv.AWSConfig()), *shards, *records, *rounds, "bench-consumer")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "consumer benchmark: %d records of 100 bytes, %d shards, in-process kinesislocal (CPU includes server and SDK)\n\n", r.Records, *shards)
	fmt.Fprintf(stdout, "| reader | CPU ns/record | records/s |\n|---|---|---|\n")
	fmt.Fprintf(stdout, "| bare GetRecords loop (baseline) | %d | %.0f |\n", r.BareCPUPerRec.Nanoseconds(), float64(r.Records)/r.BareWall.Seconds())
	fmt.Fprintf(stdout, "| kcl.Consumer (BatchProcessor, checkpoint per batch) | %d | %.0f |\n", r.KCLCPUPerRec.Nanoseconds(), float64(r.Records)/r.KCLWall.Seconds())
	fmt.Fprintf(stdout, "\nlibrary overhead: %.1f%% CPU per record (target <= 10%%)\n", r.Overhead())
	return nil
}

// runBenchProducer compares kpl (aggregated and not) with a bare PutRecords loop on an
// in-process kinesislocal, in one run.
func runBenchProducer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench producer", "bench producer [--records 300000] [--size 100] [--shards 4]", stderr)
	records := fs.Int("records", 300_000, "records per producer")
	size := fs.Int("size", 100, "bytes per record")
	shards := fs.Int("shards", 4, "shards")
	if err := parse(fs, args); err != nil {
		return err
	}
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	var results []clientbench.ProducerResult
	for i, run := range []func(string) (clientbench.ProducerResult, error){
		func(s string) (clientbench.ProducerResult, error) {
			return clientbench.BarePut(ctx, kc, s, *records, *size)
		},
		func(s string) (clientbench.ProducerResult, error) {
			return clientbench.KPL(ctx, kc, s, *records, *size, true)
		},
		func(s string) (clientbench.ProducerResult, error) {
			return clientbench.KPL(ctx, kc, s, *records, *size, false)
		},
	} {
		stream := fmt.Sprintf("bench-producer-%d", i)
		if err := clientbench.Fill(ctx, kc, stream, *shards, 0); err != nil {
			return err
		}
		r, err := run(stream)
		if err != nil {
			return err
		}
		results = append(results, r)
		kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &stream})
	}
	fmt.Fprintf(stdout, "producer benchmark: %d records of %d bytes each, %d shards, in-process kinesislocal (CPU includes server and SDK)\n\n", *records, *size, *shards)
	fmt.Fprintf(stdout, "| producer | records/s | records per CPU-second | PutRecords calls | vs baseline (per CPU-second) |\n|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(stdout, "| %s | %.0f | %.0f | %d | %.2fx |\n", r.Name, r.RecordsPerSec(), r.RecordsPerCPUSec(), r.KinesisCalls,
			r.RecordsPerCPUSec()/results[0].RecordsPerCPUSec())
	}
	return nil
}
