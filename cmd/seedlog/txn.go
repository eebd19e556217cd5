package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const txnSynopsis = `seedlog txn list [--state S ...] [--producer-id N ...] [--duration-ms D]
       seedlog txn describe ID [ID ...]
  every subcommand takes -b/--brokers host:port (default: the running dev cluster);
  transactions are written with seedlog produce TOPIC --transactional-id ID [--abort]`

func txnCommand(args []string) int {
	if len(args) == 0 {
		return usageError("txn: want a subcommand (list, describe); see seedlog txn -h")
	}
	switch args[0] {
	case "list":
		return txnList(args[1:])
	case "describe":
		return txnDescribe(args[1:])
	case "-h", "--help", "help":
		fmt.Println("usage: " + txnSynopsis)
		return exitOK
	}
	return usageError("txn: unknown subcommand %q (want list, describe)", args[0])
}

// txnStates are the states a transaction coordinator reports, as ListTransactions'
// state filter spells them.
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// parseTxnStates checks --state values against the coordinator's states, ignoring case
// (ongoing is Ongoing), and returns them spelled as the broker expects: a broker
// ignores a filter it does not know, which would list nothing without saying why.
func parseTxnStates(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		i := slices.IndexFunc(txnStates, func(k string) bool { return strings.EqualFold(k, s) })
		if i < 0 {
			return nil, fmt.Errorf("--state %q: want one of %s", s, strings.Join(txnStates, ", "))
		}
		if !slices.Contains(out, txnStates[i]) {
			out = append(out, txnStates[i])
		}
	}
	return out, nil
}

// parseProducerIDs parses --producer-id values (non-negative producer ids).
func parseProducerIDs(in []string) ([]int64, error) {
	var out []int64
	for _, s := range in {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("--producer-id %q: want a producer id, a number 0 or more", s)
		}
		out = append(out, id)
	}
	return out, nil
}

// txnListRequest is the ListTransactions request of txn list's flags: states and
// producer ids already checked, durationMs -1 for any duration.
func txnListRequest(states []string, pids []int64, durationMs int64) *kmsg.ListTransactionsRequest {
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters, req.ProducerIDFilters, req.DurationFilterMillis = states, pids, durationMs
	return req
}

func txnList(args []string) int {
	fs := flag.NewFlagSet("txn list", flag.ContinueOnError)
	var o clientOptions
	o.register(fs)
	var stateFlags, pidFlags listFlag
	fs.Var(&stateFlags, "state", "only transactions in this state (repeatable or comma separated): "+strings.Join(txnStates, ", "))
	fs.Var(&pidFlags, "producer-id", "only transactions of this producer id (repeatable or comma separated)")
	duration := fs.Int64("duration-ms", -1, "only transactions open for longer than this many milliseconds")
	const synopsis = "seedlog txn list [--state S ...] [--producer-id N ...] [--duration-ms D]"
	pos, code, ok := o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError("txn list: unexpected argument %q; usage: %s", pos[0], synopsis)
	}
	states, err := parseTxnStates(stateFlags)
	if err != nil {
		return usageError("txn list: %v", err)
	}
	pids, err := parseProducerIDs(pidFlags)
	if err != nil {
		return usageError("txn list: %v", err)
	}
	if *duration < -1 {
		return usageError("txn list: --duration-ms %d: want 0 or more milliseconds", *duration)
	}
	return listTxns(&o, txnListRequest(states, pids, *duration))
}

func listTxns(o *clientOptions, req *kmsg.ListTransactionsRequest) int {
	cl, err := o.client()
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	ctx, cancel := o.ctx()
	defer cancel()
	// Every broker coordinates the transactional ids of the __transaction_state
	// partitions it leads: ask them all.
	var txns []kmsg.ListTransactionsResponseTransactionState
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			return problem("%s", requestError(fmt.Sprintf("list transactions on broker %d", shard.Meta.NodeID), notServed(shard.Err)))
		}
		resp := shard.Resp.(*kmsg.ListTransactionsResponse)
		if err := codeError(resp.ErrorCode, nil); err != nil {
			return problem("list transactions on broker %d: %v", shard.Meta.NodeID, err)
		}
		if req.DurationFilterMillis >= 0 && resp.Version < 1 {
			// Version 0 has no duration filter: the broker would list every transaction.
			return refused("txn list: broker %d answers ListTransactions v0 only, which cannot filter by --duration-ms; list without it", shard.Meta.NodeID)
		}
		if len(resp.UnknownStateFilters) > 0 {
			return refused("txn list: broker %d does not know the states %s", shard.Meta.NodeID, strings.Join(resp.UnknownStateFilters, ", "))
		}
		txns = append(txns, resp.TransactionStates...)
	}
	// An id whose coordinator moves during the request can be listed by both brokers:
	// show it once.
	slices.SortStableFunc(txns, func(a, b kmsg.ListTransactionsResponseTransactionState) int {
		return strings.Compare(a.TransactionalID, b.TransactionalID)
	})
	txns = slices.CompactFunc(txns, func(a, b kmsg.ListTransactionsResponseTransactionState) bool {
		return a.TransactionalID == b.TransactionalID
	})
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TRANSACTIONAL-ID\tSTATE\tPRODUCER-ID")
	for _, t := range txns {
		fmt.Fprintf(w, "%s\t%s\t%d\n", t.TransactionalID, orDash(t.TransactionState), t.ProducerID)
	}
	w.Flush()
	return exitOK
}

func txnDescribe(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("txn describe", flag.ContinueOnError)
	s.o.register(fs)
	const synopsis = "seedlog txn describe ID [ID ...]"
	pos, code, ok := s.o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError("txn describe: want at least one transactional id; usage: %s", synopsis)
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	var found []kadm.DescribedTransaction
	var failures []string // one line each, printed after the table
	exit := exitOK
	for _, id := range pos {
		d, err := describeTxn(&s.o, s.adm, id)
		switch {
		case errors.Is(err, kerr.TransactionalIDNotFound):
			failures = append(failures, fmt.Sprintf("transactional id %s is not known to its coordinator; seedlog txn list shows the ids", id))
			exit = max(exit, exitFailed)
		case err != nil && (d.TxnID != "" || clusterAnswered(err)):
			failures = append(failures, fmt.Sprintf("transactional id %s: %v", id, err))
			exit = max(exit, exitFailed)
		case err != nil:
			failures = append(failures, requestError("describe transactional id "+id, notServed(err)))
			exit = exitProblem
		default:
			found = append(found, d)
		}
	}
	if len(found) > 0 {
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TRANSACTIONAL-ID\tSTATE\tCOORDINATOR\tPRODUCER-ID\tEPOCH\tTIMEOUT-MS\tSTART-TIME\tPARTITIONS")
		for _, d := range found {
			fmt.Fprintln(w, describedTxnRow(d))
		}
		w.Flush()
	}
	for _, f := range failures {
		fmt.Fprintln(os.Stderr, "seedlog: "+f)
	}
	return exit
}

// describeTxn asks the coordinator of id (found by FindCoordinator with the transaction
// key type) for its state, again while the answer is retriable: a coordinator still
// loading its __transaction_state partition, or moving. An error with d.TxnID set is
// the coordinator's answer; without, no answer came.
func describeTxn(o *clientOptions, adm *kadm.Client, id string) (kadm.DescribedTransaction, error) {
	ctx, cancel := o.ctx()
	defer cancel()
	var d kadm.DescribedTransaction
	err := retrying(ctx, func() error {
		d = kadm.DescribedTransaction{}
		all, err := adm.DescribeTransactions(ctx, id)
		got, ok := all[id]
		if !ok {
			if err == nil {
				err = fmt.Errorf("no answer for it")
			}
			return unwrapShard(err)
		}
		d = got
		return d.Err
	})
	return d, err
}

// unwrapShard returns the error of a kadm request that went to one broker, so that
// retrying sees a retriable Kafka error inside it.
func unwrapShard(err error) error {
	var se *kadm.ShardErrors
	if errors.As(err, &se) && len(se.Errs) == 1 {
		return se.Errs[0].Err
	}
	return err
}

// describedTxnRow is one tab-separated row of txn describe's table.
func describedTxnRow(d kadm.DescribedTransaction) string {
	start := "-" // no transaction open
	if d.StartTimestamp >= 0 {
		start = time.UnixMilli(d.StartTimestamp).UTC().Format(time.RFC3339Nano)
	}
	var parts []string
	for _, t := range d.Topics.Sorted() {
		for _, p := range t.Partitions {
			parts = append(parts, fmt.Sprintf("%s/%d", t.Topic, p))
		}
	}
	partitions := "-"
	if len(parts) > 0 {
		partitions = strings.Join(parts, ",")
	}
	return fmt.Sprintf("%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s", d.TxnID, orDash(d.State), d.Coordinator, d.ProducerID, d.ProducerEpoch, d.TimeoutMillis, start, partitions)
}

// clusterAnswered reports whether err is a Kafka error code a broker answered with (a
// refusal, exit 1), rather than no answer (exit 3).
func clusterAnswered(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke)
}

// notServed says in words that a broker does not serve a request at all (franz-go's
// "broker is too old": its ApiVersions lacks the request or the versions needed).
func notServed(err error) error {
	if strings.Contains(err.Error(), "broker is too old") {
		return fmt.Errorf("the brokers do not serve this request (their ApiVersions lack it); transactions need brokers that support them")
	}
	return err
}
