// Command seedlog is the seedlog binary: brokers, a development cluster, the simulator,
// trace tools and client commands. Each command group lives in its own file and has one
// line in the commands table below.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one entry of the dispatcher: `seedlog <name> ...`.
type command struct {
	name    string
	summary string
	run     func(args []string) int
}

// commands is the dispatcher's table, one line per command group.
var commands = []command{
	{"sim", "run the deterministic simulator (run, sweep, shrink, merge; bare: the default sweep)", simCommand},
	{"trace", "show, render and replay simulation traces (show, html, verify)", traceCommand},
	{"broker", "run a broker (--config FILE; flags override it)", brokerCommand},
	{"dev", "run a development cluster of N brokers in one process", devCommand},
	{"peer-auth", "make peer credentials: a cluster secret, or a CA and node certificates", peerAuthCommand},
	{"topic", "create, list, describe, alter and delete topics, add partitions, delete records", topicCommand},
	{"produce", "write stdin lines as records to a topic", produceCommand},
	{"consume", "print a topic's records, alone or as a group member", consumeCommand},
	{"group", "list, describe and delete consumer groups, reset and delete their offsets", groupCommand},
	{"txn", "list and describe transactions (write them with produce --transactional-id)", txnCommand},
	{"cluster", "describe the cluster (its brokers and active controller) and elect preferred leaders", clusterCommand},
	{"user", "create, delete and list users' SCRAM credentials", userCommand},
	{"acl", "create, delete and list ACLs (brokers with authorizer.class.name set)", aclCommand},
	{"quota", "alter and describe client quotas (producer and consumer byte rates)", quotaCommand},
	{"bench", "measure produce throughput and latency against a cluster", benchCommand},
}

// Exit codes (listed by seedlog help).
const (
	exitOK      = 0
	exitFailed  = 1 // the command ran and found a problem (a failing seed, a refusal, ...)
	exitUsage   = 2
	exitProblem = 3 // the command could not run (no cluster reachable, a file it could not read, ...)
)

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

func dispatch(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(os.Stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:])
		}
	}
	return usageError("unknown command %q; run 'seedlog help' for the list", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: seedlog <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nclient commands (topic, produce, consume, group, txn, cluster, bench) take")
	fmt.Fprintln(w, "  -b host:port[,host:port]   bootstrap brokers (default: the running seedlog dev cluster)")
	fmt.Fprintln(w, "  --tls                      connect with TLS (listeners mapped to SSL or SASL_SSL)")
	fmt.Fprintln(w, "  --tls-ca FILE              PEM CAs to trust for the brokers (default: the system's)")
	fmt.Fprintln(w, "  --tls-cert FILE            a client certificate, with its key in --tls-key FILE (ssl.client.auth)")
	fmt.Fprintln(w, "  --tls-server-name NAME     the name the brokers' certificates must carry (default: the host dialled)")
	fmt.Fprintln(w, "  --sasl-mechanism PLAIN|SCRAM-SHA-256|SCRAM-SHA-512 --sasl-user USER --sasl-password PASS")
	fmt.Fprintln(w, "                             authenticate with SASL; the password may come from $"+saslPasswordEnv+" instead")
	fmt.Fprintln(w, "\nclient commands give up after --timeout (30s unless set); every command exits")
	fmt.Fprintln(w, "  0  done")
	fmt.Fprintln(w, "  1  refused or failed: the cluster's error in words (or a failing seed, a failed check)")
	fmt.Fprintln(w, "  2  a usage error (a bad combination of flags among them, such as --tls-cert without --tls-key)")
	fmt.Fprintln(w, "  3  could not run: no cluster reachable or no answer within --timeout, a file it could not read")
}

// usageError prints one line saying what was wrong and returns exitUsage.
func usageError(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "seedlog: "+format+"\n", args...)
	return exitUsage
}

// problem prints one line and returns exitProblem.
func problem(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "seedlog: "+format+"\n", args...)
	return exitProblem
}

// parseFlags parses args with fs, allowing flags after positional arguments (seedlog
// trace show FILE --node 2). It returns the positional arguments, or a usage error line.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%s %v", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagHelp prints a flag set's usage to stdout.
func flagHelp(fs *flag.FlagSet, synopsis string) int {
	fmt.Fprintf(os.Stdout, "usage: %s\n", synopsis)
	fs.SetOutput(os.Stdout)
	fs.PrintDefaults()
	return exitOK
}

// listFlag collects a repeatable flag that also accepts comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// isTerminal reports whether f is a terminal (progress bars only go there).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
