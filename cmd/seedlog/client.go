package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clientOptions are the flags every client command shares.
type clientOptions struct {
	brokers  string
	timeout  time.Duration
	security securityOptions
}

func (o *clientOptions) register(fs *flag.FlagSet) {
	const usage = "bootstrap brokers host:port[,host:port] (default: the running `seedlog dev` cluster)"
	fs.StringVar(&o.brokers, "b", "", usage)
	fs.StringVar(&o.brokers, "brokers", "", usage)
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on a request after this long")
	o.security.register(fs)
}

// errNoCluster says how to point a client command at a cluster.
var errNoCluster = errors.New("no cluster to talk to: start one with 'seedlog dev' or pass -b host:port")

// seeds returns the bootstrap addresses: the flag, else the dev cluster's record.
func (o *clientOptions) seeds() ([]string, error) {
	s := o.brokers
	if s == "" {
		b, err := os.ReadFile(devBootstrapPath())
		if err != nil {
			return nil, errNoCluster
		}
		s = strings.TrimSpace(string(b))
	}
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, errNoCluster
	}
	return out, nil
}

// client creates a kgo client on the bootstrap brokers.
func (o *clientOptions) client(extra ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := o.seeds()
	if err != nil {
		return nil, err
	}
	security, err := o.security.opts()
	if err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("seedlog-cli"),
		kgo.RetryTimeout(o.timeout),
		kgo.RecordDeliveryTimeout(o.timeout),
	}, security...)
	opts = append(opts, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cl, nil
}

// ctx is a context bounded by the request timeout.
func (o *clientOptions) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), o.timeout)
}

// refused prints the cluster's refusal (or a failed check) in one line and returns
// exitFailed.
func refused(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "seedlog: "+format+"\n", args...)
	return exitFailed
}

// unreachable reports whether err says no broker could be reached (or none answered).
func unreachable(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || strings.Contains(err.Error(), "unable to dial")
}

// tlsFailed reports whether err is a TLS handshake that failed: the broker's
// certificate not trusted or not for the name dialled, or the broker refusing this
// client's certificate (or its lack of one).
func tlsFailed(err error) bool {
	var verify *tls.CertificateVerificationError
	// The broker's alerts come as a net.OpError around an unexported type.
	return errors.As(err, &verify) || strings.Contains(err.Error(), "remote error: tls:")
}

// retrying calls fn again while it fails with an error Kafka calls retriable (a
// coordinator still loading, a leader moving) and ctx has time left.
func retrying(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil || !kerr.IsRetriable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// requestError explains a failed request in one line with what to do.
func requestError(what string, err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s: no answer in time; is the cluster up (seedlog dev, or -b host:port)?", what)
	}
	if tlsFailed(err) {
		return fmt.Sprintf("%s: %v; check --tls-ca, --tls-server-name and --tls-cert/--tls-key", what, err)
	}
	if unreachable(err) {
		return fmt.Sprintf("%s: %v; is the cluster up (seedlog dev, or -b host:port)?", what, err)
	}
	return fmt.Sprintf("%s: %v", what, err)
}

// codeError turns a Kafka error code into an error (nil for 0), with its message.
func codeError(code int16, msg *string) error {
	err := kerr.ErrorForCode(code)
	if err == nil {
		return nil
	}
	if msg != nil && *msg != "" {
		return fmt.Errorf("%v: %s", err, *msg)
	}
	return err
}

// parse parses a client command's flags, registered with o.register, and checks the
// security flags together. It returns the positional arguments and, when it returns
// early, the exit code.
func (o *clientOptions) parse(fs *flag.FlagSet, args []string, synopsis string) ([]string, int, bool) {
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, flagHelp(fs, synopsis), false
	}
	if err == nil {
		err = o.security.resolve()
	}
	if err != nil {
		return nil, usageError("%v; usage: %s", err, synopsis), false
	}
	return pos, 0, true
}

// repeatFlag collects a repeatable flag, one value per occurrence (values may hold
// commas: --config cleanup.policy=compact,delete).
type repeatFlag []string

func (r *repeatFlag) String() string { return strings.Join(*r, " ") }

func (r *repeatFlag) Set(v string) error {
	*r = append(*r, v)
	return nil
}
