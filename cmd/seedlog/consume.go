package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func consumeCommand(args []string) int {
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	var o clientOptions
	o.register(fs)
	fromBeginning := fs.Bool("from-beginning", false, "start at the oldest record (default: only new records; a group resumes from its committed offsets)")
	group := fs.String("group", "", "consume as a member of this consumer group, committing offsets")
	maxRecords := fs.Int("max-messages", 0, "exit after this many records (0: no limit)")
	idle := fs.Duration("idle-exit", 0, "exit after this long without a record (0: never)")
	printKey := fs.Bool("print-key", false, "print key<TAB>value")
	printOffset := fs.Bool("print-offset", false, "print partition:offset<TAB> before each record")
	const synopsis = "seedlog consume TOPIC [--from-beginning] [--group G] [--max-messages N] [--idle-exit D]"
	pos, code, ok := parseClientFlags(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError("consume: want one topic; usage: %s", synopsis)
	}
	start := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{kgo.ConsumeTopics(pos[0]), kgo.ConsumeResetOffset(start)}
	if *group != "" {
		opts = append(opts, kgo.ConsumerGroup(*group))
	}
	cl, err := o.client(opts...)
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	if code := checkTopicExists(&o, cl, "consume", pos[0]); code != exitOK {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	c := consumer{cl: cl, out: out, max: *maxRecords, idle: *idle, printKey: *printKey, printOffset: *printOffset}
	if err := c.run(ctx); err != nil {
		out.Flush()
		return problem("consume: %v", err)
	}
	if *group != "" {
		ctx, cancel := o.ctx()
		defer cancel()
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			return problem("consume: committing offsets of group %s: %v", *group, err)
		}
	}
	return exitOK
}

type consumer struct {
	cl                    *kgo.Client
	out                   *bufio.Writer
	max                   int
	idle                  time.Duration
	printKey, printOffset bool
	seen                  int
}

// run polls until ctx ends, the record limit is reached or the idle time passes.
func (c *consumer) run(ctx context.Context) error {
	for c.max == 0 || c.seen < c.max {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if c.idle > 0 {
			pollCtx, cancel = context.WithTimeout(ctx, c.idle)
		}
		fetches := c.cl.PollRecords(pollCtx, c.max-c.seen)
		idle := c.idle > 0 && pollCtx.Err() != nil && fetches.NumRecords() == 0
		cancel()
		if ctx.Err() != nil || idle || fetches.IsClientClosed() {
			return nil
		}
		var errs []error
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("%s/%d: %w", topic, p, err))
			}
		})
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		fetches.EachRecord(c.print)
		c.out.Flush()
	}
	return nil
}

func (c *consumer) print(r *kgo.Record) {
	c.seen++
	if c.printOffset {
		fmt.Fprintf(c.out, "%d:%d\t", r.Partition, r.Offset)
	}
	if c.printKey {
		c.out.Write(r.Key)
		c.out.WriteByte('\t')
	}
	c.out.Write(r.Value)
	c.out.WriteByte('\n')
}

// checkTopicExists refuses a topic the cluster does not have, instead of waiting for it
// in silence (a consumer would wait for it to be created).
func checkTopicExists(o *clientOptions, cl *kgo.Client, what, topic string) int {
	ctx, cancel := o.ctx()
	defer cancel()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if td, listed := topics[topic]; err == nil && !listed {
		err = kerr.UnknownTopicOrPartition
	} else if err == nil {
		err = td.Err
	}
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return refused("%s: topic %s does not exist; seedlog topic list shows the topics, seedlog topic create %s makes it", what, topic, topic)
	case err != nil:
		return problem("%s", requestError(what+" "+topic, err))
	}
	return exitOK
}
