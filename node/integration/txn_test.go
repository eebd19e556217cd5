package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestTransactionsExactlyOnce runs a franz-go consume-transform-produce loop
// (GroupTransactSession, read_committed) across 3 brokers, SIGKILLs the transaction
// coordinator's broker and then an output partition's leader midway, and checks that
// the output holds every input record exactly once.
func TestTransactionsExactlyOnce(t *testing.T) {
	c := newCluster(t, 3)
	admin := c.client()
	c.waitBrokers(admin, 3)
	c.createTopic(admin, "eos-in", 3, 3)
	c.createTopic(admin, "eos-out", 3, 3)

	const inputs = 600
	in := c.client(kgo.DefaultProduceTopic("eos-in"), kgo.RequiredAcks(kgo.AllISRAcks()))
	for i := range inputs {
		in.Produce(context.Background(), &kgo.Record{Value: []byte(fmt.Sprintf("v%04d", i))}, nil)
	}
	if err := in.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	var processed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var loopErr error
	go func() {
		defer wg.Done()
		loopErr = transformLoop(ctx, c, &processed)
	}()
	defer func() { cancel(); wg.Wait() }()

	waitProcessed := func(n int64) {
		c.eventually(2*time.Minute, fmt.Sprintf("%d records processed", n), func() bool { return processed.Load() >= n })
	}
	waitProcessed(inputs / 4)
	coord := txnCoordinatorOf(t, admin, "eos-txn")
	t.Logf("killing broker %d, the transaction coordinator, after %d records", coord, processed.Load())
	c.kill(int(coord) - 1)
	time.Sleep(time.Second)
	c.start(int(coord) - 1)

	waitProcessed(inputs / 2)
	leader := c.partitions(admin, "eos-out")[0].Leader
	t.Logf("killing broker %d, leader of eos-out/0, after %d records", leader, processed.Load())
	c.kill(int(leader) - 1)
	time.Sleep(time.Second)
	c.start(int(leader) - 1)

	out := readCommitted(t, c, "eos-out", inputs)
	cancel()
	wg.Wait()
	if loopErr != nil && !errors.Is(loopErr, context.Canceled) {
		t.Errorf("transform loop: %v", loopErr)
	}
	for i := range inputs {
		v := fmt.Sprintf("out-v%04d", i)
		if out[v] != 1 {
			t.Errorf("%s is in the output %d times, want once", v, out[v])
		}
	}
	if len(out) != inputs {
		t.Errorf("the output holds %d distinct values, want %d", len(out), inputs)
	}
}

// transformLoop copies eos-in to eos-out in transactions, committing its consumer
// offsets in them, until ctx ends. processed counts the records of committed
// transactions.
func transformLoop(ctx context.Context, c *cluster, processed *atomic.Int64) error {
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(c.seeds()...),
		kgo.TransactionalID("eos-txn"),
		kgo.TransactionTimeout(10*time.Second),
		kgo.ConsumerGroup("eos-group"),
		kgo.ConsumeTopics("eos-in"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.RetryTimeout(60*time.Second),
		kgo.FetchMaxWait(300*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	for ctx.Err() == nil {
		fs := sess.PollRecords(ctx, 20)
		if fs.IsClientClosed() || ctx.Err() != nil {
			return ctx.Err()
		}
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for _, r := range recs {
			sess.Produce(ctx, &kgo.Record{Topic: "eos-out", Partition: r.Partition, Value: []byte("out-" + string(r.Value))}, nil)
		}
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil && ctx.Err() == nil {
			// A failed commit aborts; the session rewinds to the last committed
			// offsets and the records are transformed again.
			continue
		}
		if committed {
			processed.Add(int64(len(recs)))
		}
	}
	return ctx.Err()
}

// txnCoordinatorOf finds the broker coordinating a transactional id.
func txnCoordinatorOf(t *testing.T, cl *kgo.Client, txnID string) int32 {
	t.Helper()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType, req.CoordinatorKey, req.CoordinatorKeys = 1, txnID, []string{txnID}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetVersion() >= 4 {
		if len(resp.Coordinators) != 1 || resp.Coordinators[0].ErrorCode != 0 {
			t.Fatalf("FindCoordinator %s: %+v", txnID, resp.Coordinators)
		}
		return resp.Coordinators[0].NodeID
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("FindCoordinator %s: code %d", txnID, resp.ErrorCode)
	}
	return resp.NodeID
}

// readCommitted reads a topic from the start with read_committed until it holds want
// distinct values and nothing more arrives for 2 seconds, and counts each value.
func readCommitted(t *testing.T, c *cluster, topic string, want int) map[string]int {
	t.Helper()
	cl := c.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	seen := map[string]int{}
	deadline := time.Now().Add(3 * time.Minute)
	quietSince := time.Now()
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			n++
		})
		if n > 0 {
			quietSince = time.Now()
		}
		if len(seen) >= want && time.Since(quietSince) > 2*time.Second {
			return seen
		}
	}
	t.Fatalf("read_committed of %s: %d distinct values after 3 minutes, want %d", topic, len(seen), want)
	return nil
}

// TestKcatTransactions writes one transaction with kcat (librdkafka's transactional
// producer) and aborts another with franz-go, then reads both back with kcat:
// read_committed sees exactly the committed records, read_uncommitted all of them.
func TestKcatTransactions(t *testing.T) {
	bin := kcatPath(t)
	d := startDev(t, 3)
	admin := d.client()
	const topic = "kcat-txn"
	d.must("", "topic", "create", topic, "--partitions", "3", "--replication-factor", "3")
	waitLeaders(t, admin, topic, 3)

	var in strings.Builder
	var committed []string
	for i := range 200 {
		line := fmt.Sprintf("committed-%03d", i)
		in.WriteString(line + "\n")
		committed = append(committed, line)
	}
	// franz-go's transaction goes first: the first transactional id creates
	// __transaction_state (50 partitions), and kcat gives init_transactions only 5 s,
	// where franz-go retries.
	cl := d.client(kgo.TransactionalID("franz-abort"), kgo.DefaultProduceTopic(topic))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var aborted []string
	for i := range 50 {
		v := fmt.Sprintf("aborted-%03d", i)
		aborted = append(aborted, v)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(context.Background(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	kcat(t, bin, in.String(), "-b", d.bootstrap, "-P", "-t", topic, "-X", "transactional.id=kcat-txn-producer")

	read := func(isolation string) []string {
		got := lines(kcat(t, bin, "", "-b", d.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
			"-X", "isolation.level="+isolation, "-f", "%s\n"))
		slices.Sort(got)
		return got
	}
	slices.Sort(committed)
	if got := read("read_committed"); !slices.Equal(got, committed) {
		t.Errorf("read_committed: kcat read %d records, want the %d committed (first: %q)", len(got), len(committed), first(got))
	}
	all := slices.Concat(committed, aborted)
	slices.Sort(all)
	if got := read("read_uncommitted"); !slices.Equal(got, all) {
		t.Errorf("read_uncommitted: kcat read %d records, want all %d", len(got), len(all))
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// TestTxnOffsetCommitLateRefused: a TxnOffsetCommit below v5 that reaches its group's
// coordinator after its transaction aborted is refused INVALID_TXN_STATE (KIP-890 part
// 1), through the peer listener's verification when the transaction coordinator is
// another broker, and leaves the group's offsets stable; one within the transaction is
// written.
func TestTxnOffsetCommitLateRefused(t *testing.T) {
	c := newCluster(t, 3)
	admin := c.client()
	c.waitBrokers(admin, 3)
	c.createTopic(admin, "late-in", 1, 3)
	vs := kversion.Stable()
	// The first transaction protocol: TxnOffsetCommit v3 after AddOffsetsToTxn (verified),
	// and EndTxn v4, which keeps the epoch (v5 would fence the late commit by its bump).
	vs.SetMaxKeyVersion(28, 3)
	vs.SetMaxKeyVersion(26, 4)
	cl := c.client(kgo.MaxVersions(vs))
	ctx := context.Background()
	const txnID = "late-txn"
	var pid int64
	var epoch int16
	c.eventually(time.Minute, "a producer id", func() bool {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(txnID), 60000
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != 0 {
			return false
		}
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return true
	})
	commit := func(group string) int16 {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = txnID, group, pid, epoch
		req.Generation, req.MemberID = -1, ""
		req.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "late-in",
			Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5, LeaderEpoch: -1}}}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("TxnOffsetCommit: %v", err)
		}
		if v := resp.GetVersion(); v != 3 {
			t.Fatalf("TxnOffsetCommit went as v%d", v)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	txnCoord := txnCoordinatorOf(t, admin, txnID)
	local, remote := 0, 0
	for i := 0; i < 12 && (local == 0 || remote == 0 || i < 3); i++ {
		group := fmt.Sprintf("late-group-%d", i)
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey, fc.CoordinatorKeys = group, []string{group}
		c.eventually(time.Minute, group+"'s coordinator", func() bool {
			r, err := fc.RequestWith(ctx, admin)
			if err != nil || len(r.Coordinators) != 1 || r.Coordinators[0].ErrorCode != 0 {
				return false
			}
			if r.Coordinators[0].NodeID == txnCoord {
				local++
			} else {
				remote++
			}
			return true
		})
		ao := kmsg.NewPtrAddOffsetsToTxnRequest()
		ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = txnID, pid, epoch, group
		c.eventually(30*time.Second, group+": AddOffsetsToTxn", func() bool {
			resp, err := ao.RequestWith(ctx, cl)
			if err == nil && resp.ErrorCode != 0 && !kerr.IsRetriable(kerr.ErrorForCode(resp.ErrorCode)) {
				t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
			return err == nil && resp.ErrorCode == 0
		})
		c.eventually(30*time.Second, group+": the commit within the transaction", func() bool {
			code := commit(group)
			if code != 0 && !kerr.IsRetriable(kerr.ErrorForCode(code)) {
				t.Fatalf("%s: commit within the transaction: %v", group, kerr.ErrorForCode(code))
			}
			return code == 0
		})
		end := kmsg.NewPtrEndTxnRequest()
		end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = txnID, pid, epoch, false
		if resp, err := end.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
			t.Fatalf("EndTxn: %v %+v", err, resp)
		}
		// Late: after the abort marker (a commit before it joins the transaction it ends).
		c.eventually(30*time.Second, group+": the abort complete", func() bool {
			req := kmsg.NewPtrDescribeTransactionsRequest()
			req.TransactionalIDs = []string{txnID}
			resp, err := req.RequestWith(ctx, admin)
			return err == nil && len(resp.TransactionStates) == 1 && resp.TransactionStates[0].State == "CompleteAbort"
		})
		var code int16
		c.eventually(30*time.Second, group+": the late commit answered for good", func() bool {
			code = commit(group)
			return code != kerr.ConcurrentTransactions.Code && code != kerr.CoordinatorLoadInProgress.Code
		})
		if code != kerr.InvalidTxnState.Code {
			t.Fatalf("%s: late commit answered %v, want INVALID_TXN_STATE", group, kerr.ErrorForCode(code))
		}
		fetch := kmsg.NewPtrOffsetFetchRequest()
		fetch.Group, fetch.RequireStable = group, true
		fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "late-in", Partitions: []int32{0}}}
		resp, err := fetch.RequestWith(ctx, admin)
		if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("%s: stable offset fetch after the refused commit: %v %+v", group, err, resp)
		}
	}
	if remote == 0 {
		t.Errorf("no group's coordinator was another broker than the transaction coordinator (%d local)", local)
	}
}
