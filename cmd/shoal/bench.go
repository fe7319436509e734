package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-go/shoal/internal/serverbench"
	"github.com/shoal-go/shoal/internal/workerproc"
)

// compareFlags collects --compare NAME=URL[@PID] values.
type compareFlags []target

type target struct {
	name, endpoint string
	pid            int
}

func (c *compareFlags) String() string { return fmt.Sprint(len(*c), " targets") }

func (c *compareFlags) Set(s string) error {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || rest == "" {
		return fmt.Errorf("compare %q: want NAME=URL[@PID]", s)
	}
	t := target{name: name, endpoint: rest}
	if url, pid, ok := strings.Cut(rest, "@"); ok {
		p, err := strconv.Atoi(pid)
		if err != nil {
			return fmt.Errorf("compare %q: pid: %w", s, err)
		}
		t.endpoint, t.pid = url, p
	}
	*c = append(*c, t)
	return nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "leases":
			return runBenchLeases(ctx, args[1:], stdout, stderr)
		case "consumer":
			return runBenchConsumer(ctx, args[1:], stdout, stderr)
		case "producer":
			return runBenchProducer(ctx, args[1:], stdout, stderr)
		}
	}
	if len(args) == 0 || args[0] != "server" {
		fmt.Fprintln(stderr, "Usage: shoal bench server|leases|consumer|producer [flags]\n\nScenarios, each beside a baseline measured in the same run:\n  server    PutRecords/GetRecords throughput and memory per record, beside another server (e.g. kinesalite)\n  leases    failover, graceful handoff, rebalance, lease-table cost, 1000 leases (beside the Java KCL's figures);\n            with --fleet: worker processes, records on every shard, the lease table in dynalite or shoal local\n  consumer  kcl CPU per record beside a bare GetRecords loop\n  producer  kpl records per CPU-second beside a bare PutRecords loop")
		return errUsage
	}
	fs := newFlags("bench server", "bench server [--compare NAME=URL[@PID]]... [--duration 10s] [--raw]", stderr)
	var compare compareFlags
	fs.Var(&compare, "compare", "also measure this Kinesis endpoint (e.g. kinesalite=http://127.0.0.1:14567@PID); the first is the baseline")
	duration := fs.Duration("duration", 10*time.Second, "put phase length per server")
	raw := fs.Bool("raw", false, "send pre-encoded requests over net/http instead of the aws-sdk-go-v2 client (less client CPU)")
	callers := fs.Int("callers", 4, "concurrent PutRecords callers")
	shards := fs.Int("shards", 4, "shards in the benchmark stream")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	endpoint, pid, stop, err := startLocalProcess(ctx, stderr)
	if err != nil {
		return err
	}
	defer stop()
	targets := append([]target{{name: "kinesislocal", endpoint: endpoint, pid: pid}}, compare...)
	results := make([]serverbench.Result, len(targets))
	for i, t := range targets {
		fmt.Fprintf(stderr, "measuring %s at %s ...\n", t.name, t.endpoint)
		r, err := serverbench.Run(ctx, serverbench.Config{Endpoint: t.endpoint, PID: t.pid, PutDuration: *duration,
			Raw: *raw, Callers: *callers, Shards: *shards})
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		results[i] = r
	}
	client := "aws-sdk-go-v2"
	if *raw {
		client = "raw net/http"
	}
	fmt.Fprintf(stdout, "server benchmark: %d shards, 100-byte records, PutRecords x500, %d callers, %v put phase, client %s\n\n",
		*shards, *callers, *duration, client)
	fmt.Fprintf(stdout, "| server | records | put rec/s | get rec/s | bytes RSS/record | put p50 ms | put failures |\n|---|---|---|---|---|---|---|\n")
	for i, t := range targets {
		r := results[i]
		mem := "n/a"
		if t.pid != 0 {
			mem = fmt.Sprintf("%.0f", r.BytesPerRec)
		}
		fmt.Fprintf(stdout, "| %s | %d | %.0f | %.0f | %s | %.1f | %d |\n", t.name, r.Records, r.PutPerSec, r.GetPerSec, mem, r.PutCallP50Ms, r.PutErrors)
	}
	if len(targets) > 1 {
		b := results[1]
		fmt.Fprintf(stdout, "\nkinesislocal / %s: put %.1fx, get %.1fx", targets[1].name, results[0].PutPerSec/b.PutPerSec, results[0].GetPerSec/b.GetPerSec)
		if targets[1].pid != 0 && b.BytesPerRec > 0 {
			fmt.Fprintf(stdout, ", memory per record %.2fx", results[0].BytesPerRec/b.BytesPerRec)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// startLocalProcess runs `shoal local` from this binary as a child process on a free loopback
// port, so the server's memory and CPU are its own, and returns its endpoint, pid and a stop
// function (SIGINT, then SIGKILL after 5 s). The child exits with this process in any case.
func startLocalProcess(ctx context.Context, stderr io.Writer) (string, int, func(), error) {
	first := make(chan string, 1)
	p, err := workerproc.Start(workerproc.Options{
		Args:   []string{"local", "--addr", "127.0.0.1:0", "--state-delay", "0s", "--exit-with-parent"},
		Stderr: stderr,
		OnLine: func(line string) {
			select {
			case first <- line:
			default:
			}
		},
	})
	if err != nil {
		return "", 0, nil, err
	}
	stop := func() {
		p.Signal(os.Interrupt)
		select {
		case <-p.Done():
		case <-time.After(5 * time.Second):
			p.Kill()
		}
	}
	var line string
	select {
	case line = <-first:
	case <-p.Done():
		return "", 0, nil, fmt.Errorf("start kinesislocal: exited: %v", p.Err())
	case <-ctx.Done():
		stop()
		return "", 0, nil, ctx.Err()
	}
	_, rest, ok := strings.Cut(line, "http://")
	if !ok {
		stop()
		return "", 0, nil, fmt.Errorf("start kinesislocal: unexpected output %q", line)
	}
	return "http://" + strings.Fields(rest)[0], p.PID(), stop, nil
}
