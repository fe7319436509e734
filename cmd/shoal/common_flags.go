package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
)

// connectionHelp is appended to the --help of every operator command: what the connection flags
// do and what they cannot do (shoal does not link the SDK's config module).
const connectionHelp = `Connection:
  --endpoint URL   a Kinesis+DynamoDB endpoint such as 'shoal local' (http://127.0.0.1:4567);
                   credentials then default to dummy ones unless AWS_ACCESS_KEY_ID is set.
  Without --endpoint, AWS itself in --region, with credentials from AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN only: shared config/credentials files, SSO,
  --profile and instance or container roles are not supported (shoal does not include the SDK's
  config module).
`

// errProfile is the parse error of --profile, which needs the SDK's config module.
var errProfile = errors.New("not supported: shoal does not include the AWS SDK's config module, which reads profiles; " +
	"set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) instead")

// clientFlags are the connection flags every operator command takes.
type clientFlags struct {
	endpoint, region string
}

// addClientFlags registers --endpoint, --region and --profile on fs.
func addClientFlags(fs *flag.FlagSet) *clientFlags {
	c := &clientFlags{}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	fs.StringVar(&c.endpoint, "endpoint", "", "Kinesis+DynamoDB endpoint URL, e.g. http://127.0.0.1:4567 (default: AWS)")
	fs.StringVar(&c.region, "region", region, "AWS region (the default is $AWS_REGION when set)")
	fs.Func("profile", "not supported: shoal reads credentials from the environment only", func(string) error {
		return errProfile
	})
	return c
}

// newCmdFlags is newFlags with a help text (description and examples) printed before the flags.
func newCmdFlags(name, synopsis, help string, stderr io.Writer) *flag.FlagSet {
	fs := newFlags(name, synopsis, stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: shoal %s\n\n%s\n\n%s\nFlags:\n", synopsis, strings.TrimSpace(help), connectionHelp)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses args whose flags may come before or after the positional arguments, and
// checks that exactly len(names) positionals were given. Errors are usage errors (printed).
func parseArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != len(names) {
		if len(pos) < len(names) {
			fmt.Fprintf(fs.Output(), "missing %s\n", strings.Join(names[len(pos):], " "))
		} else {
			fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", pos[len(names):])
		}
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// usageError prints msg to fs's output and returns errUsage (exit code 2).
func usageError(fs *flag.FlagSet, format string, a ...any) error {
	fmt.Fprintf(fs.Output(), format+"\n", a...)
	return errUsage
}

// where names the endpoint in messages.
func (c *clientFlags) where() string {
	if c.endpoint != "" {
		return c.endpoint
	}
	return "AWS (" + c.region + ")"
}

// config returns the aws.Config of the flags. With --endpoint it is endpointConfig (dummy
// credentials unless the environment has some); without, AWS with credentials from the
// environment, and an error if there are none.
func (c *clientFlags) config() (aws.Config, error) {
	var cfg aws.Config
	if c.endpoint != "" {
		if u, err := url.Parse(c.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return aws.Config{}, fmt.Errorf("--endpoint %q: want a URL such as http://127.0.0.1:4567", c.endpoint)
		}
		cfg = endpointConfig(c.endpoint)
	} else {
		id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return aws.Config{}, errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), " +
				"or use --endpoint for a local server; shared config files, SSO and instance roles are not supported")
		}
		cfg = aws.Config{Credentials: credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))}
	}
	cfg.Region = c.region
	// Operator commands are interactive: retry like the SDK, but never sleep more than a second
	// between attempts, so an unreachable endpoint is reported within a few seconds.
	cfg.Retryer = func() aws.Retryer {
		return retry.AddWithMaxBackoffDelay(retry.NewStandard(), time.Second)
	}
	return cfg, nil
}

// kinesisClient returns a Kinesis client for the flags.
func (c *clientFlags) kinesisClient() (*kinesis.Client, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	return kinesis.NewFromConfig(cfg), nil
}

// explain turns an SDK error into the message an operator needs: an unknown stream, an
// endpoint that cannot be reached, credentials that were refused. Other errors are returned
// prefixed with what was being done.
func (c *clientFlags) explain(err error, doing, stream string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ResourceNotFoundException":
			if stream != "" {
				return fmt.Errorf("stream %s not found at %s", stream, c.where())
			}
		case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
			"AccessDeniedException", "MissingAuthenticationTokenException":
			return fmt.Errorf("%s: credentials refused by %s: %s: %s", doing, c.where(), api.ErrorCode(), api.ErrorMessage())
		}
		return fmt.Errorf("%s: %s: %s", doing, api.ErrorCode(), api.ErrorMessage())
	}
	var op *net.OpError
	var dns *net.DNSError
	if (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns) {
		if c.endpoint != "" {
			return fmt.Errorf("cannot reach %s: is `shoal local` running? (%s)", c.endpoint, rootCause(err))
		}
		return fmt.Errorf("cannot reach Kinesis in %s: %s", c.region, rootCause(err))
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// rootCause returns the innermost error's message.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
