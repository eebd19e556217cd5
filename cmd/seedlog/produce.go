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
	var txn produceTxn
	fs.StringVar(&txn.id, "transactional-id", "", "write every line in one transaction of this transactional id, committed once all are acknowledged (acks=all)")
	fs.BoolVar(&txn.abort, "abort", false, "with --transactional-id: abort the transaction instead of committing it (read_committed consumers never see its records)")
	const synopsis = "seedlog produce TOPIC [--key-separator SEP] [--header k=v ...] [--acks all|1|0] [--partition P] [--transactional-id ID [--abort]]  (records: stdin lines)"
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
	if txn.abort && txn.id == "" {
		return usageError("produce: --abort ends a transaction: give --transactional-id too")
	}
	if txn.id != "" {
		if *acks != "all" && *acks != "-1" {
			return usageError("produce: --transactional-id needs --acks all (transactions are idempotent writes)")
		}
		opts = append(opts, kgo.TransactionalID(txn.id))
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
	return produceLines(&o, cl, pos[0], *acks, *keySep, headers, int32(*partition), txn)
}

// produceTxn is produce's transaction: none when id is "".
type produceTxn struct {
	id    string
	abort bool
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
// --timeout (kgo's delivery timeout); a failure is explained in one line. With a
// transactional id the lines are one transaction, ended once every record is answered.
func produceLines(o *clientOptions, cl *kgo.Client, topic, acks, keySep string, headers []kgo.RecordHeader, partition int32, txn produceTxn) int {
	var (
		sent, failed atomic.Int64
		firstErr     error
		errOnce      sync.Once
	)
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 64<<10), produceLineBytesMax)
	ctx := context.Background()
	if txn.id != "" {
		// Nothing goes to the cluster yet: the producer id is fetched, and the
		// transaction's timeout starts, with the first record.
		if err := cl.BeginTransaction(); err != nil {
			what := fmt.Sprintf("produce to %s: transaction %s could not begin", topic, txn.id)
			if clusterAnswered(err) {
				return refused("%s: %v", what, err)
			}
			return problem("%s", requestError(what, err))
		}
	}
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
		if txn.id != "" {
			endTxn(o, cl, kgo.TryAbort) // best effort: the coordinator aborts it at its timeout anyway
		}
		return problem("produce: reading stdin: %v", err)
	}
	if txn.id != "" {
		return endProducedTxn(o, cl, topic, acks, txn, sent.Load(), failed.Load(), firstErr)
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

// endProducedTxn ends produce's transaction once every record is answered: committed (or
// aborted with --abort) when all were acknowledged, aborted when any failed, since
// committing would make a partial write visible.
func endProducedTxn(o *clientOptions, cl *kgo.Client, topic, acks string, txn produceTxn, sent, failed int64, firstErr error) int {
	what := fmt.Sprintf("produce to %s: transaction %s", topic, txn.id)
	if failed > 0 {
		ended := "aborted"
		if err := endTxn(o, cl, kgo.TryAbort); err != nil {
			ended = fmt.Sprintf("and aborting it failed too (%v); the coordinator aborts it at its timeout", err)
		}
		what = fmt.Sprintf("%s: %d records acknowledged, %d failed, %s", what, sent, failed, ended)
		if unreachable(firstErr) && sent == 0 {
			return problem("%s", requestError(what, firstErr))
		}
		if why := explainNoAcks(o, cl, topic, acks, firstErr); why != "" {
			return refused("%s: %s", what, why)
		}
		return refused("%s (first error: %v)", what, firstErr)
	}
	end, verb := kgo.TryCommit, "committed"
	if txn.abort {
		end, verb = kgo.TryAbort, "aborted"
	}
	if err := endTxn(o, cl, end); err != nil {
		if unreachable(err) {
			return problem("%s", requestError(fmt.Sprintf("%s: %d records acknowledged, ending the transaction", what, sent), err))
		}
		return refused("%s: %d records acknowledged, but the transaction could not be %s: %v", what, sent, verb, err)
	}
	fmt.Fprintf(os.Stderr, "produced %d records in transaction %s, %s\n", sent, txn.id, verb)
	return exitOK
}

// endTxn commits or aborts the client's transaction within --timeout.
func endTxn(o *clientOptions, cl *kgo.Client, end kgo.TransactionEndTry) error {
	ctx, cancel := o.ctx()
	defer cancel()
	return cl.EndTransaction(ctx, end)
}
