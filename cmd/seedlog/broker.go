package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/seedlog/seedlog/node"
)

func brokerCommand(args []string) int {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	configPath := fs.String("config", "", "properties file (key=value lines); flags override it")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	overrides := node.FlagOverrides(fs)
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog broker --config FILE [--<setting>=VALUE ...]  (settings: see node/doc.go or node/example.properties)")
	}
	if err != nil {
		return usageError("%v; see seedlog broker -h", err)
	}
	if len(pos) > 0 {
		return usageError("broker: unexpected argument %q; see seedlog broker -h", pos[0])
	}
	logger, err := newLogger(*logLevel, *logJSON)
	if err != nil {
		return usageError("broker: %v", err)
	}
	cfg, err := node.LoadConfig(*configPath)
	if err != nil {
		return problem("%v", err)
	}
	if err := overrides(&cfg); err != nil {
		return usageError("broker: %v", err)
	}
	n, err := node.New(cfg, logger)
	if err != nil {
		return problem("%s", startError(err, ""))
	}
	// The heap's soft limit is process-wide, so the one-broker command sets it, not the
	// node (a dev cluster runs several in one process).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit())
	}
	ctx, stop := stopOnSignals("seedlog: shutting down (moving leadership away); signal again to stop at once", n.Stop)
	defer stop()
	if err := n.Run(ctx); err != nil {
		// A fatal stop: the durable state is unknown. A supervisor restarts the process
		// and recovery runs from disk.
		fmt.Fprintf(os.Stderr, "seedlog: broker %d stopped: %v; restart it to recover from disk\n", cfg.NodeID, err)
		return exitFailed
	}
	return exitOK
}

// startError turns a start-up failure into one line saying what to change. flagHint
// names the flag of the command that sets a clashing port, if any.
func startError(err error, flagHint string) string {
	var pe *node.PortError
	if errors.As(err, &pe) {
		if flagHint == "" {
			flagHint = "--" + pe.Setting
		}
		return fmt.Sprintf("%v; pick another port with %s", err, flagHint)
	}
	return err.Error()
}

// stopOnSignals returns a context cancelled by the first SIGINT or SIGTERM, which also
// prints msg; a second signal calls now.
func stopOnSignals(msg string, now func()) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			fmt.Fprintln(os.Stderr, msg)
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			now()
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

func newLogger(level string, asJSON bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log-level: want debug, info, warn or error, got %q", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	if asJSON {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}
