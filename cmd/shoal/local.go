package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/shoal-go/shoal/internal/workerproc"
	"github.com/shoal-go/shoal/kinesislocal"
)

// faultFlags collects repeated --fault values.
type faultFlags []kinesislocal.Fault

func (f *faultFlags) String() string { return fmt.Sprint(len(*f), " faults") }

// Set parses OPERATION:ERROR_CODE[:PROBABILITY[:LATENCY]], e.g.
// GetRecords:ProvisionedThroughputExceededException:0.2 or PutRecords::1:50ms (latency only).
func (f *faultFlags) Set(s string) error {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 4 {
		return fmt.Errorf("fault %q: want OPERATION:ERROR_CODE[:PROBABILITY[:LATENCY]]", s)
	}
	fault := kinesislocal.Fault{Operation: parts[0], ErrorCode: parts[1]}
	if len(parts) > 2 && parts[2] != "" {
		p, err := strconv.ParseFloat(parts[2], 64)
		if err != nil {
			return fmt.Errorf("fault %q: probability: %w", s, err)
		}
		fault.Probability = p
	}
	if len(parts) > 3 && parts[3] != "" {
		d, err := time.ParseDuration(parts[3])
		if err != nil {
			return fmt.Errorf("fault %q: latency: %w", s, err)
		}
		fault.Latency = d
	}
	*f = append(*f, fault)
	return nil
}

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("local", "local [--addr 127.0.0.1:4567] [--data-dir DIR [--repair]] [--tls [--tls-cert FILE --tls-key FILE]] [--limits] [--fault OP:CODE[:P[:LATENCY]]]...", stderr)
	addr := fs.String("addr", "127.0.0.1:4567", "listen address (loopback by default)")
	dataDir := fs.String("data-dir", "", "keep state durably in this directory (default: in memory)")
	repair := fs.Bool("repair", false, "with --data-dir: repair damaged logs first (keep every intact record, move damaged bytes to LOG.damaged-OFFSET, log what was lost), then serve")
	stateDelay := fs.Duration("state-delay", 50*time.Millisecond, "how long streams and tables stay CREATING/UPDATING")
	limits := fs.Bool("limits", false, "enforce AWS per-shard throughput limits (1 MiB/s and 1000 rec/s in, 2 MiB/s and 5 reads/s out)")
	verbose := fs.Bool("v", false, "log every request")
	withParent := fs.Bool("exit-with-parent", false, "exit when stdin closes (for a parent process that started this one with a pipe)")
	useTLS := fs.Bool("tls", false, "serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with a generated certificate kept in DATA-DIR/tls (or a temporary directory), or the one given by --tls-cert and --tls-key")
	tlsCert := fs.String("tls-cert", "", "with --tls: PEM certificate (chain) file to serve")
	tlsKey := fs.String("tls-key", "", "with --tls: PEM private key file of --tls-cert")
	var faults faultFlags
	fs.Var(&faults, "fault", "inject a fault, repeatable: OPERATION:ERROR_CODE[:PROBABILITY[:LATENCY]] (OPERATION * = all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *withParent {
		workerproc.ExitWithParent()
	}
	if *repair && *dataDir == "" {
		fmt.Fprintln(stderr, "--repair needs --data-dir")
		return errUsage
	}
	if (*tlsCert == "") != (*tlsKey == "") || (*tlsCert != "" && !*useTLS) {
		fmt.Fprintln(stderr, "--tls-cert and --tls-key go together, and only with --tls")
		return errUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := kinesislocal.Options{StateDelay: *stateDelay, DataDir: *dataDir, Faults: faults, Logger: log, Repair: *repair}
	if *limits {
		opts.Limits = &kinesislocal.Limits{}
	}
	srv, err := kinesislocal.New(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	var files kinesislocal.TLSFiles
	if *useTLS {
		var cleanup func()
		if files, cleanup, err = localTLSFiles(*dataDir, *tlsCert, *tlsKey); err != nil {
			return err
		}
		defer cleanup()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *useTLS {
		fmt.Fprintf(stdout, "kinesislocal listening on https://%s (Kinesis and DynamoDB; any credentials; HTTP/1.1 and HTTP/2)\n", ln.Addr())
		if files.CAFile != "" {
			fmt.Fprintf(stdout, "CA certificate: %s (export AWS_CA_BUNDLE=%[1]s NODE_EXTRA_CA_CERTS=%[1]s)\n", files.CAFile)
		} else {
			fmt.Fprintf(stdout, "certificate: %s\n", files.CertFile)
		}
	} else {
		fmt.Fprintf(stdout, "kinesislocal listening on http://%s (Kinesis and DynamoDB; any credentials; HTTP/1.1 and HTTP/2 prior knowledge)\n", ln.Addr())
	}
	return serveTLSUntilDone(ctx, ln, srv, files)
}

// localTLSFiles returns the given certificate and key (checked), or generated ones under
// dataDir/tls, kept across restarts so clients keep trusting the CA file; without a data
// directory, in a temporary directory that cleanup removes.
func localTLSFiles(dataDir, cert, key string) (_ kinesislocal.TLSFiles, cleanup func(), _ error) {
	cleanup = func() {}
	if cert != "" {
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			return kinesislocal.TLSFiles{}, cleanup, fmt.Errorf("--tls-cert %s --tls-key %s: %w", cert, key, err)
		}
		return kinesislocal.TLSFiles{CertFile: cert, KeyFile: key}, cleanup, nil
	}
	dir := filepath.Join(dataDir, "tls")
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "shoal-local-tls-")
		if err != nil {
			return kinesislocal.TLSFiles{}, cleanup, err
		}
		dir, cleanup = tmp, func() { os.RemoveAll(tmp) }
	}
	files, err := kinesislocal.EnsureTLSFiles(dir)
	if err != nil {
		cleanup()
	}
	return files, cleanup, err
}

// serveUntilDone serves h on ln (HTTP/1.1 and h2c) until ctx ends, then shuts the server down
// gracefully (open SubscribeToShard streams are cut after 2 seconds).
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	return serveTLSUntilDone(ctx, ln, h, kinesislocal.TLSFiles{})
}

// serveTLSUntilDone is serveUntilDone over TLS when tlsFiles names a certificate.
func serveTLSUntilDone(ctx context.Context, ln net.Listener, h http.Handler, tlsFiles kinesislocal.TLSFiles) error {
	// NewHTTPServer sets no read or write timeouts: SubscribeToShard streams last minutes. (The
	// "use of closed network connection" once blamed on ReadHeaderTimeout is the aws-sdk-go-v2
	// HTTP/1.1 race described at kinesislocal.BufferedTransport.)
	hs := kinesislocal.NewHTTPServer(h)
	hs.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() {
		if tlsFiles.CertFile != "" {
			errc <- hs.ServeTLS(ln, tlsFiles.CertFile, tlsFiles.KeyFile)
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// endpointConfig returns an aws.Config for a Kinesis+DynamoDB endpoint such as a local server:
// dummy credentials unless the environment has some, region us-east-1 unless AWS_REGION is set,
// and kinesislocal.BufferedTransport (the SDK races fast loopback servers without it).
func endpointConfig(endpoint string) aws.Config {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	var creds aws.CredentialsProvider = credentials.NewStaticCredentialsProvider("shoal", "shoal", "")
	if id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		creds = credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))
	}
	return aws.Config{Region: region, Credentials: creds, BaseEndpoint: aws.String(endpoint),
		HTTPClient: &http.Client{Transport: kinesislocal.BufferedTransport(nil)}}
}
