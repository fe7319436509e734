// Command shoal is the Shoal command-line tool: a local Kinesis + DynamoDB server, the demo, and
// operator commands.
//
// Exit codes: 0 success, 1 the command failed, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one sub-command: run parses args and does the work.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"local", "run the local Kinesis + DynamoDB server (kinesislocal)", runLocal},
	{"demo", "the whole story on one machine: local server, stream, producer, consumers", runDemo},
	{"demo-worker", "one worker process of the demo (started by shoal demo)", runDemoWorker},
	{"bench", "benchmark scenarios, each beside a baseline measured in the same run", runBench},
	{"stream", "create, describe, list, split, merge, scale or delete a stream", runStream},
	{"put", "write records from stdin or a file, one per line", runPut},
	{"tail", "follow a stream's records across reshards (de-aggregated)", runTail},
	{"leases", "a consumer application's lease table: owners, checkpoints, lag, workers", runLeases},
}

// errUsage marks a usage error (exit code 2); the message has been printed already.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "shoal %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "shoal: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "shoal: a Kinesis Data Streams toolkit\n\nUsage: shoal <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'shoal <command> --help' for the flags of a command.")
}

// newFlags returns a FlagSet that reports errors to stderr and returns them (no exit).
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("shoal "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: shoal %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, mapping parse errors to errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
