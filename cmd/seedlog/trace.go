package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/traces"
)

func traceCommand(args []string) int {
	if len(args) == 0 {
		return usageError("trace: want a subcommand: show, html or verify; see seedlog trace -h")
	}
	switch args[0] {
	case "show":
		return traceShow(args[1:])
	case "html":
		return traceHTML(args[1:])
	case "verify":
		return traceVerify(args[1:])
	case "-h", "--help", "help":
		fmt.Println(`usage:
  seedlog trace show FILE [--node N] [--partition T/P] [--from T] [--to T]
  seedlog trace html FILE -o OUT.html
  seedlog trace verify FILE      re-run the trace's seed (and scenario, for a scenario replay) and compare fingerprints`)
		return exitOK
	}
	return usageError("trace: unknown subcommand %q (want show, html or verify)", args[0])
}

// traceFile returns the one FILE argument.
func traceFile(cmd string, pos []string) (string, int) {
	switch len(pos) {
	case 0:
		return "", usageError("trace %s: want a trace FILE, e.g. seedlog trace %s sim-out/seed-7.trace", cmd, cmd)
	case 1:
		return pos[0], exitOK
	}
	return "", usageError("trace %s: one FILE at a time (got %d arguments)", cmd, len(pos))
}

func traceShow(args []string) int {
	fs := flag.NewFlagSet("trace show", flag.ContinueOnError)
	node := fs.String("node", "", "only events of this node")
	partition := fs.String("partition", "", "only events of this partition, as topic/partition")
	from := fs.String("from", "", "only events at or after this virtual time (e.g. 1.5s)")
	to := fs.String("to", "", "only events at or before this virtual time")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog trace show FILE [--node N] [--partition T/P] [--from T] [--to T]")
	}
	if err != nil {
		return usageError("%v; see seedlog trace show -h", err)
	}
	path, code := traceFile("show", pos)
	if code != exitOK {
		return code
	}
	var f traces.Filter
	if *node != "" {
		n, err := strconv.ParseInt(*node, 10, 32)
		if err != nil || n < 0 {
			return usageError("trace show: --node %q is not a node id", *node)
		}
		f.Node, f.HasNode = int32(n), true
	}
	if *partition != "" {
		if f.Partition, err = traces.ParsePartition(*partition); err != nil {
			return usageError("trace show: --%v", err)
		}
	}
	if *from != "" {
		if f.From, err = traces.ParseTime(*from); err != nil {
			return usageError("trace show: --from: %v", err)
		}
	}
	if *to != "" {
		if f.To, err = traces.ParseTime(*to); err != nil {
			return usageError("trace show: --to: %v", err)
		}
		if f.To < f.From {
			return usageError("trace show: --to %v is before --from %v", f.To, f.From)
		}
	}
	t, err := traces.ReadFile(path)
	if err != nil {
		return problem("trace show: %v", err)
	}
	if err := traces.WriteText(os.Stdout, t, f); err != nil {
		return problem("trace show: %v", err)
	}
	return exitOK
}

func traceHTML(args []string) int {
	fs := flag.NewFlagSet("trace html", flag.ContinueOnError)
	out := fs.String("o", "", "the HTML file to write (required)")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog trace html FILE -o OUT.html")
	}
	if err != nil {
		return usageError("%v; see seedlog trace html -h", err)
	}
	path, code := traceFile("html", pos)
	if code != exitOK {
		return code
	}
	if *out == "" {
		return usageError("trace html: -o OUT.html is required, e.g. seedlog trace html %s -o seed.html", path)
	}
	t, err := traces.ReadFile(path)
	if err != nil {
		return problem("trace html: %v", err)
	}
	f, err := os.Create(*out)
	if err != nil {
		return problem("trace html: %v", err)
	}
	if err := traces.WriteHTML(f, t); err != nil {
		f.Close()
		return problem("trace html: %v", err)
	}
	if err := f.Close(); err != nil {
		return problem("trace html: %v", err)
	}
	fmt.Printf("wrote %s (%d events)\n", *out, len(t.Events))
	return exitOK
}

func traceVerify(args []string) int {
	fs := flag.NewFlagSet("trace verify", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog trace verify FILE")
	}
	if err != nil {
		return usageError("%v; see seedlog trace verify -h", err)
	}
	path, code := traceFile("verify", pos)
	if code != exitOK {
		return code
	}
	t, err := traces.ReadFile(path)
	if err != nil {
		return problem("trace verify: %v", err)
	}
	if err := t.CheckFingerprint(); err != nil {
		return problem("trace verify: %v", err)
	}
	if err := traces.VerifyReplay(t.Header, sim.BuildTags(), sim.Replay(sim.Options{})); err != nil {
		fmt.Fprintf(os.Stderr, "seedlog: %v\n", err)
		return exitFailed
	}
	what := fmt.Sprintf("seed %d", t.Header.Seed)
	if t.Header.Scripted {
		what += "'s scenario"
	}
	fmt.Printf("%s reproduces fingerprint %016x\n", what, t.Header.Fingerprint)
	return exitOK
}
