package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceLineBytesMax bounds one input line (a record).
const produceLineBytesMax = 16 << 20

func produceCommand(args []string) int {
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	var o clientOptions
	o.register(fs)
	keySep := fs.String("key-separator", "", "split each line at the first occurrence into key and value (default: no key)")
	acks := fs.String("acks", "all", "all, 1 or 0")
	partition := fs.Int("partition", -1, "write every record to this partition (default: by key, else spread)")
	const synopsis = "seedlog produce TOPIC [--key-separator SEP] [--acks all|1|0] [--partition P]  (records: stdin lines)"
	pos, code, ok := parseClientFlags(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError("produce: want one topic; usage: %s", synopsis)
	}
	opts, err := producerOpts(*acks)
	if err != nil {
		return usageError("produce: %v", err)
	}
	if *partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	opts = append(opts, kgo.DefaultProduceTopic(pos[0]))
	cl, err := o.client(opts...)
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	return produceLines(cl, *keySep, int32(*partition))
}

// producerOpts maps --acks to kgo options. Idempotence needs acks=all.
func producerOpts(acks string) ([]kgo.Opt, error) {
	switch acks {
	case "all", "-1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, nil
	case "1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}, nil
	case "0":
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}, nil
	}
	return nil, fmt.Errorf("--acks: want all, 1 or 0, got %q", acks)
}

func produceLines(cl *kgo.Client, keySep string, partition int32) int {
	var (
		sent, failed atomic.Int64
		firstErr     error
		errOnce      sync.Once
	)
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 64<<10), produceLineBytesMax)
	ctx := context.Background()
	for sc.Scan() {
		line := sc.Text()
		r := &kgo.Record{Value: []byte(line), Partition: max(partition, 0)}
		if keySep != "" {
			if k, v, ok := strings.Cut(line, keySep); ok {
				r.Key, r.Value = []byte(k), []byte(v)
			}
		}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				errOnce.Do(func() { firstErr = err })
				return
			}
			sent.Add(1)
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return problem("produce: %v", err)
	}
	if err := sc.Err(); err != nil {
		return problem("produce: reading stdin: %v", err)
	}
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "seedlog: produce: %d records acknowledged, %d failed (first error: %v)\n", sent.Load(), failed.Load(), firstErr)
		return exitFailed
	}
	fmt.Fprintf(os.Stderr, "produced %d records\n", sent.Load())
	return exitOK
}
