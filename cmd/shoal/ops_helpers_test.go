package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoal-go/shoal/kinesislocal"
)

// startServer serves a fresh in-memory kinesislocal on a loopback socket for the test and
// returns its URL.
func startServer(t *testing.T) string {
	t.Helper()
	srv, err := kinesislocal.New(kinesislocal.Options{StateDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveUntilDone(ctx, ln, srv) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return "http://" + ln.Addr().String()
}

// shoal runs the CLI with args (plus --endpoint) and returns the exit code, stdout and stderr.
func shoal(t *testing.T, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if endpoint != "" {
		args = append(args, "--endpoint", endpoint)
	}
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// mustShoal is shoal that fails the test unless the exit code is 0.
func mustShoal(t *testing.T, endpoint string, args ...string) string {
	t.Helper()
	code, out, errs := shoal(t, endpoint, args...)
	if code != 0 {
		t.Fatalf("shoal %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
	}
	return out
}

var (
	seqRE  = regexp.MustCompile(`\b\d{30,}\b`)
	portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// maskSeq replaces sequence numbers (30 digits or more) by SEQ; hash keys are kept only when
// listed in keep.
func maskSeq(s string, keep ...string) string {
	return seqRE.ReplaceAllStringFunc(s, func(m string) string {
		for _, k := range keep {
			if m == k {
				return m
			}
		}
		return "SEQ"
	})
}

func diffGolden(t *testing.T, name, got, want string) {
	t.Helper()
	if strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Errorf("%s output differs\n--- got:\n%s\n--- want:\n%s", name, got, want)
	}
}
