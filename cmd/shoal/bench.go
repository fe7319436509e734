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
	fs := newFlags("bench server", "bench server [--compare NAME=URL[@PID]]... [--duration 10s] [--callers 1,4] [--protocols http1,h2c] [--raw]", stderr)
	var compare compareFlags
	fs.Var(&compare, "compare", "also measure this Kinesis endpoint over HTTP/1.1 (e.g. kinesalite=http://127.0.0.1:14567@PID); the first is the baseline")
	duration := fs.Duration("duration", 10*time.Second, "put phase length per measurement")
	raw := fs.Bool("raw", false, "send pre-encoded requests over net/http instead of the aws-sdk-go-v2 client (less client CPU)")
	callersFlag := fs.String("callers", "1,4", "concurrent PutRecords callers, a comma-separated list: each is a measurement of every server")
	protocolsFlag := fs.String("protocols", "http1,h2c", "protocols to measure kinesislocal with: http1 (HTTP/1.1, through kinesislocal.BufferedTransport), h2c (HTTP/2 with prior knowledge)")
	shards := fs.Int("shards", 4, "shards in the benchmark stream")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	var callers []int
	for _, f := range strings.Split(*callersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "--callers %q: want positive numbers separated by commas\n", *callersFlag)
			return errUsage
		}
		callers = append(callers, n)
	}
	var protocols []string
	for _, f := range strings.Split(*protocolsFlag, ",") {
		switch f = strings.TrimSpace(f); f {
		case serverbench.HTTP1, serverbench.H2C:
			protocols = append(protocols, f)
		default:
			fmt.Fprintf(stderr, "--protocols %q: want http1 and/or h2c\n", *protocolsFlag)
			return errUsage
		}
	}
	endpoint, pid, stop, err := startLocalProcess(ctx, stderr)
	if err != nil {
		return err
	}
	defer stop()
	type row struct {
		name     string
		protocol string
		pid      int
		res      serverbench.Result
	}
	client := "aws-sdk-go-v2"
	if *raw {
		client = "raw net/http"
	}
	fmt.Fprintf(stdout, "server benchmark: %d shards, 100-byte records, PutRecords x500, %v put phase, client %s\n",
		*shards, *duration, client)
	// Memory per record is measured only in a server's first measurement: later ones start
	// from a heap that earlier streams grew (and a deleted stream's memory is reused).
	memDone := map[int]bool{0: true}
	for _, nc := range callers {
		var rows []row
		measure := func(name, endpoint, protocol string, pid int) error {
			fmt.Fprintf(stderr, "measuring %s (%s, %d callers) at %s ...\n", name, protocol, nc, endpoint)
			if memDone[pid] {
				pid = 0
			}
			memDone[pid] = true
			r, err := serverbench.Run(ctx, serverbench.Config{Endpoint: endpoint, PID: pid, PutDuration: *duration,
				Raw: *raw, Callers: nc, Shards: *shards, Protocol: protocol})
			if err != nil {
				return fmt.Errorf("%s (%s): %w", name, protocol, err)
			}
			rows = append(rows, row{name, protocol, pid, r})
			return nil
		}
		for _, proto := range protocols {
			if err := measure("kinesislocal", endpoint, proto, pid); err != nil {
				return err
			}
		}
		for _, t := range compare {
			if err := measure(t.name, t.endpoint, serverbench.HTTP1, t.pid); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "\n%d caller(s):\n\n| server | protocol | records | put rec/s | get rec/s | bytes RSS/record | put p50 ms | put failures |\n|---|---|---|---|---|---|---|---|\n", nc)
		for _, r := range rows {
			mem := "n/a"
			if r.pid != 0 {
				mem = fmt.Sprintf("%.0f", r.res.BytesPerRec)
			}
			fmt.Fprintf(stdout, "| %s | %s | %d | %.0f | %.0f | %s | %.1f | %d |\n", r.name, r.protocol, r.res.Records, r.res.PutPerSec,
				r.res.GetPerSec, mem, r.res.PutCallP50Ms, r.res.PutErrors)
		}
		local := rows[:len(protocols)]
		if len(compare) > 0 {
			b := rows[len(protocols)]
			fmt.Fprintln(stdout)
			for _, l := range local {
				fmt.Fprintf(stdout, "kinesislocal %s / %s: put %.1fx, get %.1fx", l.protocol, b.name, l.res.PutPerSec/b.res.PutPerSec, l.res.GetPerSec/b.res.GetPerSec)
				if b.pid != 0 && b.res.BytesPerRec > 0 && l.res.BytesPerRec > 0 {
					fmt.Fprintf(stdout, ", memory per record %.2fx", l.res.BytesPerRec/b.res.BytesPerRec)
				}
				fmt.Fprintln(stdout)
			}
		}
		if len(local) == 2 {
			fmt.Fprintf(stdout, "kinesislocal %s / %s: put %.2fx, get %.2fx\n", local[1].protocol, local[0].protocol,
				local[1].res.PutPerSec/local[0].res.PutPerSec, local[1].res.GetPerSec/local[0].res.GetPerSec)
		}
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
