package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

const streamHelp = `Usage: shoal stream <create|describe|list|split|merge|scale|delete> [flags]

  create   NAME --shards N | --on-demand   create a stream and wait until it is ACTIVE
  describe NAME                            status, mode, retention and every shard
  list                                     all streams with status, mode and open shards
  split    NAME --shard ID [--hash KEY]    split a shard (default: in the middle of its range)
  merge    NAME --shard ID --adjacent ID   merge two adjacent open shards
  scale    NAME --to N                     UpdateShardCount (uniform scaling)
  delete   NAME                            delete a stream and wait until it is gone

Run 'shoal stream <sub-command> --help' for its flags and examples.
`

// runStream dispatches the stream sub-commands.
func runStream(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, streamHelp)
		return errUsage
	}
	subs := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"create": streamCreate, "describe": streamDescribe, "list": streamList, "split": streamSplit,
		"merge": streamMerge, "scale": streamScale, "delete": streamDelete,
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, streamHelp)
		return nil
	}
	sub, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "unknown stream sub-command %q\n\n%s", args[0], streamHelp)
		return errUsage
	}
	return sub(ctx, args[1:], stdout, stderr)
}

func streamCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("stream create", "stream create NAME (--shards N | --on-demand) [--timeout 5m]", `
Creates a stream and waits until it is ACTIVE.

Examples:
  shoal stream create orders --shards 4 --endpoint http://127.0.0.1:4567
  shoal stream create clicks --on-demand --region eu-west-1`, stderr)
	cf := addClientFlags(fs)
	shards := fs.Int("shards", 0, "number of shards (provisioned mode)")
	onDemand := fs.Bool("on-demand", false, "on-demand capacity mode instead of --shards")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for ACTIVE")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	if (*shards > 0) == *onDemand {
		return usageError(fs, "give exactly one of --shards N (N > 0) or --on-demand")
	}
	kc, err := cf.kinesisClient()
	if err != nil {
		return err
	}
	name := pos[0]
	in := &kinesis.CreateStreamInput{StreamName: &name}
	if *onDemand {
		in.StreamModeDetails = &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}
	} else {
		in.ShardCount = aws.Int32(int32(*shards))
	}
	if _, err := kc.CreateStream(ctx, in); err != nil {
		var inUse *types.ResourceInUseException
		if errors.As(err, &inUse) {
			return fmt.Errorf("stream %s exists already at %s", name, cf.where())
		}
		return cf.explain(err, "create stream", "")
	}
	sum, err := waitActive(ctx, kc, cf, name, *timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stream %s is ACTIVE: %d open shards, %s\n", name, aws.ToInt32(sum.OpenShardCount), streamMode(sum.StreamModeDetails))
	return nil
}

// waitActive polls DescribeStreamSummary until the stream is ACTIVE, for up to timeout.
func waitActive(ctx context.Context, kc *kinesis.Client, cf *clientFlags, name string, timeout time.Duration) (*types.StreamDescriptionSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("stream %s not ACTIVE after %v", name, timeout)
			}
			return nil, cf.explain(err, "describe stream", name)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return out.StreamDescriptionSummary, nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("stream %s still %s after %v", name, out.StreamDescriptionSummary.StreamStatus, timeout)
			}
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

func streamMode(d *types.StreamModeDetails) string {
	if d == nil || d.StreamMode == "" {
		return string(types.StreamModeProvisioned)
	}
	return string(d.StreamMode)
}

// listShards returns every shard of the stream, closed ones included, in ListShards order.
func listShards(ctx context.Context, kc *kinesis.Client, cf *clientFlags, name string) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: &name}
	for {
		out, err := kc.ListShards(ctx, in)
		if err != nil {
			return nil, cf.explain(err, "list shards", name)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func shardOpen(s types.Shard) bool {
	return s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil
}

// shardChildren maps each shard id to its children's ids (from the children's parent links).
func shardChildren(shards []types.Shard) map[string][]string {
	kids := map[string][]string{}
	for _, s := range shards {
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p != nil {
				kids[*p] = append(kids[*p], aws.ToString(s.ShardId))
			}
		}
	}
	for _, k := range kids {
		sort.Strings(k)
	}
	return kids
}

func streamDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("stream describe", "stream describe NAME", `
Prints the stream's status, capacity mode, retention and every shard (open or closed) with its
hash key range, parents and children.

Examples:
  shoal stream describe orders --endpoint http://127.0.0.1:4567`, stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	kc, err := cf.kinesisClient()
	if err != nil {
		return err
	}
	name := pos[0]
	out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
	if err != nil {
		return cf.explain(err, "describe stream", name)
	}
	shards, err := listShards(ctx, kc, cf, name)
	if err != nil {
		return err
	}
	writeDescribe(stdout, out.StreamDescriptionSummary, shards)
	return nil
}

// writeDescribe formats a stream summary and its shards.
func writeDescribe(w io.Writer, s *types.StreamDescriptionSummary, shards []types.Shard) {
	open := 0
	for _, sh := range shards {
		if shardOpen(sh) {
			open++
		}
	}
	fmt.Fprintf(w, "Stream:     %s\nARN:        %s\nStatus:     %s\nMode:       %s\nRetention:  %dh\nConsumers:  %d\nShards:     %d open, %d closed\n\n",
		aws.ToString(s.StreamName), aws.ToString(s.StreamARN), s.StreamStatus, streamMode(s.StreamModeDetails),
		aws.ToInt32(s.RetentionPeriodHours), aws.ToInt32(s.ConsumerCount), open, len(shards)-open)
	kids := shardChildren(shards)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tSTATE\tSTARTING HASH KEY\tENDING HASH KEY\tPARENTS\tCHILDREN")
	for _, sh := range shards {
		state := "open"
		if !shardOpen(sh) {
			state = "closed"
		}
		var parents []string
		for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
			if p != nil {
				parents = append(parents, *p)
			}
		}
		var start, end string
		if sh.HashKeyRange != nil {
			start, end = aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", aws.ToString(sh.ShardId), state, start, end,
			dashIfEmpty(strings.Join(parents, ",")), dashIfEmpty(strings.Join(kids[aws.ToString(sh.ShardId)], ",")))
	}
	tw.Flush()
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func streamList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("stream list", "stream list", `
Lists every stream with its status, capacity mode, open shards and retention.

Examples:
  shoal stream list --endpoint http://127.0.0.1:4567`, stderr)
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	kc, err := cf.kinesisClient()
	if err != nil {
		return err
	}
	var names []string
	in := &kinesis.ListStreamsInput{}
	for {
		out, err := kc.ListStreams(ctx, in)
		if err != nil {
			return cf.explain(err, "list streams", "")
		}
		names = append(names, out.StreamNames...)
		if !aws.ToBool(out.HasMoreStreams) || len(out.StreamNames) == 0 {
			break
		}
		in = &kinesis.ListStreamsInput{ExclusiveStartStreamName: aws.String(names[len(names)-1])}
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tMODE\tOPEN SHARDS\tRETENTION")
	for _, n := range names {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(n)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			continue // deleted meanwhile
		}
		if err != nil {
			return cf.explain(err, "describe stream", n)
		}
		s := out.StreamDescriptionSummary
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%dh\n", n, s.StreamStatus, streamMode(s.StreamModeDetails),
			aws.ToInt32(s.OpenShardCount), aws.ToInt32(s.RetentionPeriodHours))
	}
	return tw.Flush()
}

// middleHash returns the default NewStartingHashKey of a split: the first key of the upper half
// of [start, end]. It fails for a range of one key, which cannot be split.
func middleHash(start, end string) (string, error) {
	s, ok1 := new(big.Int).SetString(start, 10)
	e, ok2 := new(big.Int).SetString(end, 10)
	if !ok1 || !ok2 || s.Cmp(e) > 0 {
		return "", fmt.Errorf("invalid hash key range %s..%s", start, end)
	}
	if s.Cmp(e) == 0 {
		return "", fmt.Errorf("the shard holds a single hash key (%s) and cannot be split", start)
	}
	n := new(big.Int).Sub(e, s)
	n.Add(n, big.NewInt(1)).Rsh(n, 1)
	return n.Add(n, s).String(), nil
}

// findShard returns the shard with id in shards.
func findShard(shards []types.Shard, id string) (types.Shard, bool) {
	for _, s := range shards {
		if aws.ToString(s.ShardId) == id {
			return s, true
		}
	}
	return types.Shard{}, false
}

func streamSplit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("stream split", "stream split NAME --shard ID [--hash KEY] [--timeout 5m]", `
Splits an open shard in two at a hash key (default: the middle of its range), waits until the
stream is ACTIVE again and prints the two children.

Examples:
  shoal stream split orders --shard shardId-000000000000 --endpoint http://127.0.0.1:4567
  shoal stream split orders --shard shardId-000000000001 --hash 255211775190703847597530955573826158592`, stderr)
	cf := addClientFlags(fs)
	shard := fs.String("shard", "", "the shard to split (required)")
	hash := fs.String("hash", "", "NewStartingHashKey: the first hash key of the second child (default: the middle)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for ACTIVE")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	if *shard == "" {
		return usageError(fs, "--shard is required")
	}
	kc, err := cf.kinesisClient()
	if err != nil {
		return err
	}
	name := pos[0]
	shards, err := listShards(ctx, kc, cf, name)
	if err != nil {
		return err
	}
	sh, ok := findShard(shards, *shard)
	if !ok {
		return fmt.Errorf("shard %s not found in stream %s at %s", *shard, name, cf.where())
	}
	if !shardOpen(sh) {
		return fmt.Errorf("shard %s is closed; only open shards can be split", *shard)
	}
	at := *hash
	if at == "" {
		if at, err = middleHash(aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey)); err != nil {
			return err
		}
	}
	if _, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &name, ShardToSplit: shard, NewStartingHashKey: &at}); err != nil {
		return cf.explain(err, "split shard", name)
	}
	if _, err := waitActive(ctx, kc, cf, name, *timeout); err != nil {
		return err
	}
	return printChildren(ctx, stdout, kc, cf, name, "split "+*shard+" at "+at, *shard)
}

// printChildren prints what, then the open children of parent with their hash ranges.
func printChildren(ctx context.Context, w io.Writer, kc *kinesis.Client, cf *clientFlags, name, what, parent string) error {
	shards, err := listShards(ctx, kc, cf, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s\n", what)
	for _, id := range shardChildren(shards)[parent] {
		c, _ := findShard(shards, id)
		fmt.Fprintf(w, "  child %s: %s..%s\n", id, aws.ToString(c.HashKeyRange.StartingHashKey), aws.ToString(c.HashKeyRange.EndingHashKey))
	}
	return nil
}

func streamMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("stream merge", "stream merge NAME --shard ID --adjacent ID [--timeout 5m]", `
Merges two open shards whose hash key ranges are adjacent, waits until the stream is ACTIVE
again and prints the child.

Examples:
  shoal stream merge orders --shard shardId-000000000002 --adjacent shardId-000000000003 --endpoint http://127.0.0.1:4567`, stderr)
	cf := addClientFlags(fs)
	a := fs.String("shard", "", "one shard to merge (required)")
	b := fs.String("adjacent", "", "the shard adjacent to it (required)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for ACTIVE")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	if *a == "" || *b == "" {
		return usageError(fs, "--shard and --adjacent are required")
	}
	kc, err := cf.kinesisClient()
	if err != nil {
		return err
	}
	name := pos[0]
	shards, err := listShards(ctx, kc, cf, name)
	if err != nil {
		return err
	}
	if err := checkAdjacent(shards, *a, *b); err != nil {
		return err
	}
	if _, err := kc.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: &name, ShardToMerge: a, AdjacentShardToMerge: b}); err != nil {
		return cf.explain(err, "merge shards", name)
	}
	if _, err := waitActive(ctx, kc, cf, name, *timeout); err != nil {
		return err
	}
	return printChildren(ctx, stdout, kc, cf, name, "merged "+*a+" and "+*b, *a)
}

// checkAdjacent reports why shards a and b cannot be merged, or nil.
func checkAdjacent(shards []types.Shard, a, b string) error {
	sa, okA := findShard(shards, a)
	sb, okB := findShard(shards, b)
	switch {
	case !okA:
		return fmt.Errorf("shard %s not found", a)
	case !okB:
		return fmt.Errorf("shard %s not found", b)
	case !shardOpen(sa) || !shardOpen(sb):
		return fmt.Errorf("only open shards can be merged")
	}
	next := func(x, y types.Shard) bool {
		e, _ := new(big.Int).SetString(aws.ToString(x.HashKeyRange.EndingHashKey), 10)
		s, _ := new(big.Int).SetString(aws.ToString(y.HashKeyRange.StartingHashKey), 10)
		return e != nil && s != nil && e.Add(e, big.NewInt(1)).Cmp(s) == 0
	}
	if !next(sa, sb) && !next(sb, sa) {
		return fmt.Errorf("shards %s and %s are not adjacent (their hash key ranges do not touch)", a, b)
	}
	return nil
}

func streamScale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("stream scale", "stream scale NAME --to N [--timeout 5m]", `
Changes the number of open shards with UpdateShardCount (UNIFORM_SCALING) and waits until the
stream is ACTIVE again. Provisioned streams only.

Examples:
  shoal stream scale orders --to 8 --endpoint http://127.0.0.1:4567`, stderr)
	cf := addClientFlags(fs)
	to := fs.Int("to", 0, "target number of open shards (required)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for ACTIVE")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	if *to <= 0 {
		return usageError(fs, "--to N (N > 0) is required")
	}
	kc, err := cf.kinesisClient()
	if err != nil {
		return err
	}
	name := pos[0]
	out, err := kc.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: &name,
		TargetShardCount: aws.Int32(int32(*to)), ScalingType: types.ScalingTypeUniformScaling})
	if err != nil {
		return cf.explain(err, "update shard count", name)
	}
	sum, err := waitActive(ctx, kc, cf, name, *timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stream %s scaled from %d to %d open shards\n", name, aws.ToInt32(out.CurrentShardCount), aws.ToInt32(sum.OpenShardCount))
	return nil
}

func streamDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("stream delete", "stream delete NAME [--force] [--timeout 5m]", `
Deletes a stream and waits until it is gone.

Examples:
  shoal stream delete orders --endpoint http://127.0.0.1:4567
  shoal stream delete orders --force   # also deletes its registered consumers`, stderr)
	cf := addClientFlags(fs)
	force := fs.Bool("force", false, "delete the stream even if it has registered consumers (EnforceConsumerDeletion)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait until the stream is gone")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	kc, err := cf.kinesisClient()
	if err != nil {
		return err
	}
	name := pos[0]
	if _, err := kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &name, EnforceConsumerDeletion: force}); err != nil {
		return cf.explain(err, "delete stream", name)
	}
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		_, err := kc.DescribeStreamSummary(wctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			break
		}
		if err != nil {
			return cf.explain(err, "describe stream", name)
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("stream %s still exists after %v", name, *timeout)
		case <-time.After(delay):
		}
	}
	fmt.Fprintf(stdout, "stream %s deleted\n", name)
	return nil
}
