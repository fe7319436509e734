package main

import (
	"strings"
	"testing"
)

func TestStreamLifecycleGolden(t *testing.T) {
	ep := startServer(t)
	if out := mustShoal(t, ep, "stream", "create", "orders", "--shards", "2"); out != "stream orders is ACTIVE: 2 open shards, PROVISIONED\n" {
		t.Errorf("create printed %q", out)
	}
	mustShoal(t, ep, "stream", "create", "clicks", "--on-demand")

	diffGolden(t, "list", mustShoal(t, ep, "stream", "list"), `
NAME    STATUS  MODE         OPEN SHARDS  RETENTION
clicks  ACTIVE  ON_DEMAND    4            24h
orders  ACTIVE  PROVISIONED  2            24h
`)

	out := mustShoal(t, ep, "stream", "split", "orders", "--shard", "shardId-000000000000")
	diffGolden(t, "split", out, `
split shardId-000000000000 at 85070591730234615865843651857942052864
  child shardId-000000000002: 0..85070591730234615865843651857942052863
  child shardId-000000000003: 85070591730234615865843651857942052864..170141183460469231731687303715884105727
`)
	out = mustShoal(t, ep, "stream", "merge", "orders", "--shard", "shardId-000000000003", "--adjacent", "shardId-000000000001")
	diffGolden(t, "merge", out, `
merged shardId-000000000003 and shardId-000000000001
  child shardId-000000000004: 85070591730234615865843651857942052864..340282366920938463463374607431768211455
`)
	diffGolden(t, "describe", mustShoal(t, ep, "stream", "describe", "orders"), `
Stream:     orders
ARN:        arn:aws:kinesis:us-east-1:000000000000:stream/orders
Status:     ACTIVE
Mode:       PROVISIONED
Retention:  24h
Consumers:  0
Shards:     2 open, 3 closed

SHARD                 STATE   STARTING HASH KEY                        ENDING HASH KEY                          PARENTS                                    CHILDREN
shardId-000000000000  closed  0                                        170141183460469231731687303715884105727  -                                          shardId-000000000002,shardId-000000000003
shardId-000000000001  closed  170141183460469231731687303715884105728  340282366920938463463374607431768211455  -                                          shardId-000000000004
shardId-000000000002  open    0                                        85070591730234615865843651857942052863   shardId-000000000000                       -
shardId-000000000003  closed  85070591730234615865843651857942052864   170141183460469231731687303715884105727  shardId-000000000000                       shardId-000000000004
shardId-000000000004  open    85070591730234615865843651857942052864   340282366920938463463374607431768211455  shardId-000000000003,shardId-000000000001  -
`)
	if out := mustShoal(t, ep, "stream", "scale", "orders", "--to", "4"); out != "stream orders scaled from 2 to 4 open shards\n" {
		t.Errorf("scale printed %q", out)
	}
	if out := mustShoal(t, ep, "stream", "delete", "orders"); out != "stream orders deleted\n" {
		t.Errorf("delete printed %q", out)
	}
	code, _, errs := shoal(t, ep, "stream", "describe", "orders")
	if want := "shoal stream: stream orders not found at " + ep + "\n"; code != 1 || errs != want {
		t.Errorf("describe after delete: exit %d, stderr %q; want 1, %q", code, errs, want)
	}
}

func TestStreamErrors(t *testing.T) {
	ep := startServer(t)
	mustShoal(t, ep, "stream", "create", "s", "--shards", "2")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown stream", []string{"stream", "describe", "nope"}, 1, "stream nope not found at " + ep},
		{"unknown sub-command", []string{"stream", "frob"}, 2, `unknown stream sub-command "frob"`},
		{"no name", []string{"stream", "describe"}, 2, "missing NAME"},
		{"create needs a mode", []string{"stream", "create", "x"}, 2, "give exactly one of --shards"},
		{"create exists", []string{"stream", "create", "s", "--shards", "1"}, 1, "stream s exists already at " + ep},
		{"split needs shard", []string{"stream", "split", "s"}, 2, "--shard is required"},
		{"split unknown shard", []string{"stream", "split", "s", "--shard", "shardId-9"}, 1, "shard shardId-9 not found in stream s"},
		{"merge not adjacent", []string{"stream", "merge", "s", "--shard", "shardId-000000000000", "--adjacent", "shardId-000000000000"}, 1, "are not adjacent"},
		{"profile refused", []string{"stream", "list", "--profile", "dev"}, 2, `invalid value "dev" for flag -profile: not supported: shoal does not include the AWS SDK's config module`},
		{"help", []string{"stream", "split", "--help"}, 0, "Examples:\n  shoal stream split orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := shoal(t, ep, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tt.code, tt.msg)
			}
		})
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	ep := "http://127.0.0.1:1" // nothing listens on port 1
	code, _, errs := shoal(t, ep, "stream", "describe", "orders")
	want := "shoal stream: cannot reach " + ep + ": is `shoal local` running?"
	if code != 1 || !strings.HasPrefix(errs, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errs, want)
	}
}

func TestNoCredentialsWithoutEndpoint(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	code, _, errs := shoal(t, "", "stream", "list")
	if code != 1 || !strings.Contains(errs, "no AWS credentials: set AWS_ACCESS_KEY_ID") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	code, _, errs = shoal(t, "127.0.0.1:4567", "stream", "list")
	if code != 1 || !strings.Contains(errs, `--endpoint "127.0.0.1:4567": want a URL such as http://127.0.0.1:4567`) {
		t.Errorf("endpoint without scheme: exit %d, stderr %q", code, errs)
	}
}

func TestMiddleHash(t *testing.T) {
	tests := []struct{ start, end, want string }{
		{"0", "340282366920938463463374607431768211455", "170141183460469231731687303715884105728"},
		{"0", "1", "1"},
		{"10", "20", "15"},
		{"10", "19", "15"},
	}
	for _, tt := range tests {
		if got, err := middleHash(tt.start, tt.end); err != nil || got != tt.want {
			t.Errorf("middleHash(%s, %s) = %s, %v; want %s", tt.start, tt.end, got, err, tt.want)
		}
	}
	if _, err := middleHash("5", "5"); err == nil {
		t.Error("a single-key range was split")
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, cmd := range [][]string{
		{"stream", "create"}, {"stream", "describe"}, {"stream", "list"}, {"stream", "split"},
		{"stream", "merge"}, {"stream", "scale"}, {"stream", "delete"}, {"put"}, {"tail"}, {"leases"},
	} {
		code, _, errs := shoal(t, "", append(cmd, "--help")...)
		want := "Examples:\n  shoal " + strings.Join(cmd, " ")
		if code != 0 || !strings.Contains(errs, want) || !strings.Contains(errs, "--endpoint") ||
			!strings.Contains(errs, "shared config/credentials files, SSO") {
			t.Errorf("shoal %v --help: exit %d, lacks %q or the connection notes:\n%s", cmd, code, want, errs)
		}
	}
	code, out, _ := shoal(t, "", "stream", "--help")
	if code != 0 || !strings.Contains(out, "split    NAME --shard ID [--hash KEY]") {
		t.Errorf("shoal stream --help: exit %d\n%s", code, out)
	}
}
