package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
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
	var headerFlags repeatFlag
	fs.Var(&headerFlags, "header", "a header key=value on every record (repeatable)")
	const synopsis = "seedlog produce TOPIC [--key-separator SEP] [--header k=v ...] [--acks all|1|0] [--partition P]  (records: stdin lines)"
	pos, code, ok := o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError("produce: want one topic; usage: %s", synopsis)
	}
	var headers []kgo.RecordHeader
	for _, kv := range headerFlags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageError("produce: --header %q: want key=value", kv)
		}
		headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
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
	return produceLines(&o, cl, pos[0], *acks, *keySep, headers, int32(*partition))
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

// produceLines writes stdin's lines. Every record is acknowledged or failed within the
// --timeout (kgo's delivery timeout); a failure is explained in one line.
func produceLines(o *clientOptions, cl *kgo.Client, topic, acks, keySep string, headers []kgo.RecordHeader, partition int32) int {
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
		r := &kgo.Record{Value: []byte(line), Partition: max(partition, 0), Headers: headers}
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
		what := fmt.Sprintf("produce to %s: %d records acknowledged, %d failed", topic, sent.Load(), failed.Load())
		if unreachable(firstErr) && sent.Load() == 0 {
			return problem("%s", requestError(what, firstErr))
		}
		if why := explainNoAcks(o, cl, topic, acks, firstErr); why != "" {
			return refused("%s: %s", what, why)
		}
		return refused("%s (first error: %v)", what, firstErr)
	}
	fmt.Fprintf(os.Stderr, "produced %d records\n", sent.Load())
	return exitOK
}

// explainNoAcks says why writes to topic fail, when the topic's own state says it: an
// acks=all write needs min.insync.replicas replicas in sync, which a topic whose
// replication factor is lower can never have, and a partition with too few replicas in
// sync has not now. "" when it sees no such reason.
func explainNoAcks(o *clientOptions, cl *kgo.Client, topic, acks string, err error) string {
	if acks != "all" && acks != "-1" {
		return ""
	}
	if !errors.Is(err, kerr.NotEnoughReplicas) && !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) && !errors.Is(err, kgo.ErrRecordTimeout) {
		return ""
	}
	ctx, cancel := o.ctx()
	defer cancel()
	adm := kadm.NewClient(cl)
	topics, terr := adm.ListTopics(ctx, topic)
	configs, cerr := adm.DescribeTopicConfigs(ctx, topic)
	if terr != nil || cerr != nil || topics[topic].Err != nil || len(configs) != 1 || configs[0].Err != nil {
		return ""
	}
	minISR := -1
	for _, c := range configs[0].Configs {
		if c.Key == "min.insync.replicas" && c.Value != nil {
			minISR, _ = strconv.Atoi(*c.Value)
		}
	}
	if minISR < 1 {
		return ""
	}
	parts := topics[topic].Partitions.Sorted()
	for _, p := range parts {
		if rf := len(p.Replicas); rf < minISR {
			return fmt.Sprintf("its replication factor %d is below its min.insync.replicas=%d, so no acks=all write can succeed; "+
				"lower it (seedlog topic alter-config %s --set min.insync.replicas=%d), recreate the topic with --replication-factor %d or more, or produce with --acks 1",
				rf, minISR, topic, rf, minISR)
		}
	}
	for _, p := range parts {
		if len(p.ISR) < minISR {
			return fmt.Sprintf("partition %d has %d replicas in sync, below its min.insync.replicas=%d, so acks=all writes wait until enough of its brokers are back (seedlog topic describe %s)",
				p.Partition, len(p.ISR), minISR, topic)
		}
	}
	return ""
}
