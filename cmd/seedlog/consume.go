package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
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
	var p printing
	fs.BoolVar(&p.key, "print-key", false, "print key<TAB> before each value")
	fs.BoolVar(&p.offset, "print-offset", false, "print partition:offset<TAB> before each record")
	fs.BoolVar(&p.timestamp, "print-timestamp", false, "print the record's timestamp (RFC 3339, ms)<TAB> before each record")
	fs.BoolVar(&p.headers, "print-headers", false, "print the record's headers as k=v,k=v<TAB> before its key and value")
	format := fs.String("format", "", `print each record by this layout instead (franz-go's record formatter, as kcat's -f): %t topic, %p partition, %o offset, %k key, %v value, %d{go[2006-01-02T15:04:05Z07:00]} timestamp, %h{%k=%v} headers, 	 
 escapes; e.g. '%p:%o %k=%v
'`)
	partition := fs.Int("partition", -1, "read only this partition (not with --group)")
	offset := fs.Int64("offset", -1, "with --partition: start at this offset (default: its end, or its start with --from-beginning)")
	isolation := fs.String("isolation", "read_uncommitted", "read_committed: only committed transactions' records, up to the last stable offset; read_uncommitted: every record")
	const synopsis = "seedlog consume TOPIC [--from-beginning] [--group G | --partition P [--offset O]] [--isolation read_committed|read_uncommitted] [--max-messages N] [--idle-exit D] [--print-key] [--print-offset] [--print-timestamp] [--print-headers | --format LAYOUT]"
	pos, code, ok := o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if *format != "" {
		if p != (printing{}) {
			return usageError("consume: --format replaces the --print-* flags; give one or the other")
		}
		f, err := kgo.NewRecordFormatter(*format)
		if err != nil {
			return usageError("consume: --format: %v", err)
		}
		p.layout = f
	}
	if len(pos) != 1 || (*partition >= 0 && *group != "") || (*offset >= 0 && *partition < 0) || *offset < -1 || *partition > math.MaxInt32 {
		return usageError("consume: want one topic, and --partition (with --offset) only without --group; usage: %s", synopsis)
	}
	level, err := isolationLevel(*isolation)
	if err != nil {
		return usageError("consume: %v", err)
	}
	start := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{kgo.ConsumeResetOffset(start), kgo.FetchIsolationLevel(level)}
	switch {
	case *partition >= 0:
		at := start
		if *offset >= 0 {
			at = kgo.NewOffset().At(*offset)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{pos[0]: {int32(*partition): at}}))
	default:
		opts = append(opts, kgo.ConsumeTopics(pos[0]))
	}
	if *group != "" {
		opts = append(opts, kgo.ConsumerGroup(*group))
	}
	cl, err := o.client(opts...)
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	if code := checkTopicExists(&o, cl, "consume", pos[0], int32(*partition)); code != exitOK {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	c := consumer{cl: cl, out: out, max: *maxRecords, idle: *idle, print: p}
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

// isolationLevel maps --isolation to kgo's isolation levels (Kafka's isolation.level
// values).
func isolationLevel(s string) (kgo.IsolationLevel, error) {
	switch s {
	case "read_uncommitted":
		return kgo.ReadUncommitted(), nil
	case "read_committed":
		return kgo.ReadCommitted(), nil
	}
	return kgo.IsolationLevel{}, fmt.Errorf("--isolation %q: want read_committed or read_uncommitted", s)
}

type consumer struct {
	cl    *kgo.Client
	out   *bufio.Writer
	max   int
	idle  time.Duration
	print printing
	seen  int
	buf   []byte // the formatted record, with --format
}

// printing says what is printed of each record, in this order, tab separated, before
// its value; or, with layout, how the whole record is printed.
type printing struct {
	offset, timestamp, headers, key bool
	layout                          *kgo.RecordFormatter
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
		fetches.EachRecord(c.write)
		c.out.Flush()
	}
	return nil
}

func (c *consumer) write(r *kgo.Record) {
	c.seen++
	if c.print.layout != nil {
		c.buf = c.print.layout.AppendRecord(c.buf[:0], r)
		c.out.Write(c.buf)
		return
	}
	if c.print.offset {
		fmt.Fprintf(c.out, "%d:%d\t", r.Partition, r.Offset)
	}
	if c.print.timestamp {
		fmt.Fprintf(c.out, "%s\t", r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	if c.print.headers {
		for i, h := range r.Headers {
			if i > 0 {
				c.out.WriteByte(',')
			}
			fmt.Fprintf(c.out, "%s=%s", h.Key, h.Value)
		}
		c.out.WriteByte('\t')
	}
	if c.print.key {
		c.out.Write(r.Key)
		c.out.WriteByte('\t')
	}
	c.out.Write(r.Value)
	c.out.WriteByte('\n')
}

// checkTopicExists refuses a topic the cluster does not have, or a partition (>= 0) the
// topic does not have, instead of waiting for it in silence (a consumer would wait for
// it to be created).
func checkTopicExists(o *clientOptions, cl *kgo.Client, what, topic string, partition int32) int {
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
	if n := int32(len(topics[topic].Partitions)); partition >= n {
		return refused("%s: topic %s has %d partitions, numbered from 0: no partition %d", what, topic, n, partition)
	}
	return exitOK
}
