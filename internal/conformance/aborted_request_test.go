package conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// TestEmulatorsSurviveAbortedRequest checks that every external emulator keeps serving after a
// client gives up in the middle of a request body, as an SDK call cancelled by its context does.
// Unpatched, kinesalite and dynalite rethrow the request stream's "aborted" error from an event
// handler and the whole Node process exits, so every later case on that target fails
// (test/emulators/abort-tolerant.js is the fix).
//
// The abort is a POST announcing more body than it sends, then a half-close. The test waits
// until the emulator has closed its side (so the abort has been handled, not merely sent) and
// only then makes an ordinary call, which fails if the process is gone.
func TestEmulatorsSurviveAbortedRequest(t *testing.T) {
	for _, spec := range allTargets {
		if spec.envVar == "" {
			continue // kinesislocal: the Go HTTP server, not a separate process
		}
		t.Run(spec.name, func(t *testing.T) {
			endpoint := os.Getenv(spec.envVar)
			if endpoint == "" {
				msg := fmt.Sprintf("!!! TARGET %s NOT TESTED: %s is unset; start the emulators with "+
					"`bash test/emulators/start.sh` and `. test/emulators/.run/env`", spec.name, spec.envVar)
				if os.Getenv(requireEmulatorsEnv) == "1" {
					t.Fatal(msg + " (" + requireEmulatorsEnv + "=1)")
				}
				t.Skip(msg)
			}
			if err := checkLoopback(endpoint); err != nil {
				t.Fatalf("%s=%q: %v", spec.envVar, endpoint, err)
			}
			ctx := caseContext(t)
			cfg := socketConfig(endpoint, nil)
			call := func() error {
				if spec.dynamo {
					_, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
					return err
				}
				_, err := kinesis.NewFromConfig(cfg).ListStreams(ctx, &kinesis.ListStreamsInput{})
				return err
			}
			must(t, call(), "call before the aborted request")
			for i := range 2 {
				abortRequest(ctx, t, endpoint, spec.dynamo)
				must(t, call(), fmt.Sprintf("call after aborted request %d (is the emulator process still running? see its log)", i+1))
			}
		})
	}
}

// abortRequest sends a request whose body stops short of its Content-Length, half-closes the
// connection, and waits until the server closes its side.
func abortRequest(ctx context.Context, t *testing.T, endpoint string, dynamo bool) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	service, target, ctype := "kinesis", "Kinesis_20131202.ListStreams", "application/x-amz-json-1.1"
	if dynamo {
		service, target, ctype = "dynamodb", "DynamoDB_20120810.ListTables", "application/x-amz-json-1.0"
	}
	body := `{"Limit": 1`
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		t.Fatalf("dial %s: %v", u.Host, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A well-formed (unverifiable) SigV4 header, so that no emulator refuses the request before
	// reading its body.
	auth := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/" + service + "/aws4_request, " +
		"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + strings.Repeat("0", 64)
	req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nX-Amz-Target: %s\r\n"+
		"X-Amz-Date: 20260101T000000Z\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n%s",
		u.Host, ctype, target, auth, len(body)+100, body)
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write truncated request: %v", err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("half-close: %v", err)
	}
	// Whatever the server answers (nothing, or an error response), it must close the connection:
	// read to EOF, or to a reset, which also means it is closed.
	start := time.Now()
	n, err := io.Copy(io.Discard, bufio.NewReader(conn))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("server kept the aborted connection open for %v", time.Since(start))
	}
	t.Logf("aborted request: server closed the connection after %d response bytes (read error: %v)", n, err)
}
