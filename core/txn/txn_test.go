package txn

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestAddPartitionsRefusals(t *testing.T) {
	h := newHarness(t)
	wantCode(t, "unknown id", h.addCode(h.add("tx", 1000, 0, tps("t", 0)...)), codeInvalidProducerIDMapping)
	pid, epoch := h.initOK("tx")
	wantCode(t, "other producer id", h.addCode(h.add("tx", pid+1, epoch, tps("t", 0)...)), codeInvalidProducerIDMapping)
	wantCode(t, "other epoch", h.addCode(h.add("tx", pid, epoch+1, tps("t", 0)...)), codeProducerFenced)
	wantCode(t, "empty topic", h.addCode(h.add("tx", pid, epoch, tps("", 0)...)), codeInvalidRequest)
	wantCode(t, "negative partition", h.addCode(h.add("tx", pid, epoch, tps("t", -1)...)), codeInvalidRequest)
	long := string(make([]byte, TopicBytesMax+1))
	wantCode(t, "topic too long", h.addCode(h.add("tx", pid, epoch, tps(long, 0)...)), codeInvalidRequest)
	wantCode(t, "offsets of unknown id", h.offsets("nope", pid, epoch, TopicPartition{"__consumer_offsets", 1}).get(), codeInvalidProducerIDMapping)
	if st := h.status("tx"); st.State != "Empty" {
		t.Fatalf("state %s after refused requests", st.State)
	}
}

func TestAddPartitionsBound(t *testing.T) {
	cfg := testConfig()
	cfg.PartitionsMax = 3
	h := newHarnessConfig(t, cfg)
	pid, epoch := h.begin("tx", tps("t", 0, 1)...)
	wantCode(t, "two more", h.addCode(h.add("tx", pid, epoch, tps("t", 1, 2, 3)...)), codeInvalidRequest)
	wantCode(t, "one more", h.addCode(h.add("tx", pid, epoch, tps("t", 1, 2)...)), codeNone)
	if st := h.status("tx"); !slices.Equal(st.Partitions, tps("t", 0, 1, 2)) {
		t.Fatalf("partitions %v", st.Partitions)
	}
}

// TestAddPartitionsDurableBeforeAnswer: the transaction becomes Ongoing, for the
// answer and for Describe, only once its record is durable; meanwhile the id is busy.
func TestAddPartitionsDurableBeforeAnswer(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.initOK("tx")
	h.log.auto = false
	ac := h.add("tx", pid, epoch, tps("t", 1, 0)...)
	if ac.answered() || h.status("tx").State != "Empty" {
		t.Fatal("AddPartitions acted on before durable")
	}
	// A second AddPartitions waits for the first one's write, then writes its own.
	queued := h.add("tx", pid, epoch, tps("u", 0)...)
	wantCode(t, "EndTxn while a write is out", h.end("tx", pid, epoch, true).get(), codeConcurrentTransactions)
	wantCode(t, "init while a write is out", h.init("tx", testTimeoutMs, -1, -1).get().code, codeConcurrentTransactions)
	h.now += int64(time.Second) / 2
	h.log.completeAll()
	wantCode(t, "AddPartitions", h.addCode(ac), codeNone)
	// completeAll completes the waiting request's own write too.
	wantCode(t, "AddPartitions that waited", h.addCode(queued), codeNone)
	st := h.status("tx")
	if st.State != "Ongoing" || st.StartMs != millis(int64(time.Hour)) || !slices.Equal(st.Partitions, slices.Concat(tps("t", 0, 1), tps("u", 0))) {
		t.Fatalf("status %+v", st)
	}
	// Partitions already in need no write; new ones keep the start time.
	appends := h.log.appends
	wantCode(t, "again", h.addCode(h.add("tx", pid, epoch, tps("t", 0)...)), codeNone)
	if h.log.appends != appends {
		t.Fatal("adding partitions already in wrote a record")
	}
	h.log.auto = true
	wantCode(t, "offsets", h.offsets("tx", pid, epoch, TopicPartition{"__consumer_offsets", 4}).get(), codeNone)
	st = h.status("tx")
	if st.StartMs != millis(int64(time.Hour)) || !slices.Equal(st.Partitions, slices.Concat(tps("__consumer_offsets", 4), tps("t", 0, 1), tps("u", 0))) {
		t.Fatalf("status after AddOffsets %+v", st)
	}
	if got := h.eventKinds(); !slices.Equal(got, []string{"txn-coordinator-loaded", "txn-begin"}) {
		t.Fatalf("events %v", got)
	}
}

// TestCommit follows a transaction from its partitions to its durable completion.
func TestCommit(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("tx", tps("t", 0, 1)...)
	h.log.auto, h.markers.auto = false, false
	ec := h.end("tx", pid, epoch, true)
	if ec.answered() || len(h.markers.sent) != 0 {
		t.Fatal("EndTxn answered or markers sent before the PrepareCommit record is durable")
	}
	h.log.completeAll()
	wantCode(t, "EndTxn", ec.get(), codeNone)
	if st := h.status("tx"); st.State != "PrepareCommit" {
		t.Fatalf("state %s", st.State)
	}
	want := MarkerRequest{ProducerID: pid, ProducerEpoch: epoch, Commit: true, CoordinatorEpoch: testEpoch, Partitions: tps("t", 0, 1)}
	if len(h.markers.sent) != 1 || !equalMarkers(h.markers.sent[0], want) {
		t.Fatalf("markers %+v, want %+v", h.markers.sent, want)
	}
	wantCode(t, "commit again while the markers are out", h.end("tx", pid, epoch, true).get(), codeConcurrentTransactions)
	wantCode(t, "abort while the commit's markers are out", h.end("tx", pid, epoch, false).get(), codeInvalidTxnState)
	// The next transaction's first AddPartitions waits for this one's end.
	next := h.add("tx", pid, epoch, tps("t", 2)...)
	h.markers.answerAll()
	if st := h.status("tx"); st.State != "PrepareCommit" {
		t.Fatalf("state %s before the completion is durable", st.State)
	}
	h.log.auto = true // the completion, then the waiting AddPartitions' write
	h.log.completeAll()
	wantEvents := []string{"txn-coordinator-loaded", "txn-begin", "txn-prepare-commit", "txn-complete-commit", "txn-begin"}
	if got := h.eventKinds(); !slices.Equal(got, wantEvents) {
		t.Fatalf("events %v, want %v", got, wantEvents)
	}
	if e := h.events[3]; e.TxnID != "tx" || e.ProducerID != pid || !slices.Equal(e.Partitions, tps("t", 0, 1)) {
		t.Fatalf("completion event %+v", e)
	}
	// The next transaction starts from CompleteCommit with the same producer.
	wantCode(t, "next transaction", h.addCode(next), codeNone)
	if st := h.status("tx"); st.State != "Ongoing" || !slices.Equal(st.Partitions, tps("t", 2)) {
		t.Fatalf("next transaction %+v", st)
	}
}

func equalMarkers(a, b MarkerRequest) bool {
	return a.ProducerID == b.ProducerID && a.ProducerEpoch == b.ProducerEpoch && a.Commit == b.Commit &&
		a.CoordinatorEpoch == b.CoordinatorEpoch && slices.Equal(a.Partitions, b.Partitions)
}

func TestEndTxnOutcomes(t *testing.T) {
	h := newHarness(t)
	wantCode(t, "unknown id", h.end("tx", 1, 0, true).get(), codeInvalidProducerIDMapping)
	pid, epoch := h.initOK("tx")
	wantCode(t, "Empty", h.end("tx", pid, epoch, true).get(), codeInvalidTxnState)
	wantCode(t, "Empty abort", h.end("tx", pid, epoch, false).get(), codeInvalidTxnState)
	wantCode(t, "other producer id", h.end("tx", pid+1, epoch, true).get(), codeInvalidProducerIDMapping)
	h.add("tx", pid, epoch, tps("t", 0)...)
	wantCode(t, "fenced epoch", h.end("tx", pid, epoch-1, false).get(), codeProducerFenced)
	wantCode(t, "abort", h.end("tx", pid, epoch, false).get(), codeNone)
	wantCode(t, "abort retried", h.end("tx", pid, epoch, false).get(), codeNone)
	wantCode(t, "commit after abort", h.end("tx", pid, epoch, true).get(), codeInvalidTxnState)
	if m := h.markers.sent; len(m) != 1 || m[0].Commit {
		t.Fatalf("markers %+v", m)
	}
	h.add("tx", pid, epoch, tps("t", 0)...)
	wantCode(t, "commit", h.end("tx", pid, epoch, true).get(), codeNone)
	wantCode(t, "commit retried", h.end("tx", pid, epoch, true).get(), codeNone)
	wantCode(t, "abort after commit", h.end("tx", pid, epoch, false).get(), codeInvalidTxnState)
	if n := len(h.markers.sent); n != 2 {
		t.Fatalf("%d marker rounds, want 2 (retries send none)", n)
	}
}

// TestEndTxnWriteFailure: an end whose record the log refused is answered with the
// log's code and changes nothing; the producer may end the transaction again.
func TestEndTxnWriteFailure(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("tx", tps("t", 0)...)
	h.log.auto = false
	ec := h.end("tx", pid, epoch, true)
	h.log.fail(0, errTimeout)
	wantCode(t, "EndTxn", ec.get(), codeCoordinatorNotAvailable)
	ec = h.end("tx", pid, epoch, true)
	h.log.fail(0, ErrNotLeader)
	wantCode(t, "EndTxn", ec.get(), codeNotCoordinator)
	ec = h.end("tx", pid, epoch, true)
	h.log.fail(0, ErrTooLarge)
	wantCode(t, "EndTxn", ec.get(), codeUnknownServerError)
	if st := h.status("tx"); st.State != "Ongoing" || len(h.markers.sent) != 0 {
		t.Fatalf("state %s, %d marker rounds after failed ends", st.State, len(h.markers.sent))
	}
	h.log.auto = true
	wantCode(t, "EndTxn", h.end("tx", pid, epoch, false).get(), codeNone)
	if st := h.status("tx"); st.State != "CompleteAbort" {
		t.Fatalf("state %s", st.State)
	}
}

// TestMarkerRetry: only the partitions whose marker failed with a retriable code are
// sent again, after MarkerRetry; the refusals that cannot change count as done.
func TestMarkerRetry(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("tx", append(tps("t", 0, 1, 2, 3), tps("gone", 0)...)...)
	failures := map[TopicPartition][]int16{
		{"t", 1}:    {codeNotCoordinator, 6 /* NOT_LEADER_OR_FOLLOWER */, 0},
		{"t", 2}:    {codeInvalidProducerEpoch},
		{"t", 3}:    {codeTransactionCoordinatorFenced},
		{"gone", 0}: {codeUnknownTopicOrPartition},
	}
	h.markers.code = func(_ MarkerRequest, p TopicPartition) int16 {
		codes := failures[p]
		if len(codes) == 0 {
			return 0
		}
		failures[p] = codes[1:]
		return codes[0]
	}
	wantCode(t, "EndTxn", h.end("tx", pid, epoch, true).get(), codeNone)
	if len(h.markers.sent) != 1 {
		t.Fatalf("%d rounds at once", len(h.markers.sent))
	}
	retryAt := h.now + int64(DefaultMarkerRetry)
	if d := h.deadline(); d != retryAt {
		t.Fatalf("Deadline %d, want the retry at %d", d, retryAt)
	}
	h.run(DefaultMarkerRetry - 1)
	if len(h.markers.sent) != 1 {
		t.Fatal("markers sent again before MarkerRetry")
	}
	h.run(time.Second)
	if len(h.markers.sent) != 3 {
		t.Fatalf("%d rounds, want 3", len(h.markers.sent))
	}
	for _, m := range h.markers.sent[1:] {
		if !slices.Equal(m.Partitions, tps("t", 1)) {
			t.Fatalf("retry sent %v, want only t/1", m.Partitions)
		}
	}
	if st := h.status("tx"); st.State != "CompleteCommit" {
		t.Fatalf("state %s", st.State)
	}
	var refused []string
	for _, e := range h.events {
		if e.Kind == MarkerRefused {
			refused = append(refused, e.String())
		}
	}
	if len(refused) != 2 {
		t.Fatalf("refusal events %v, want t/2 and t/3", refused)
	}
}

// TestMarkerAnswerShort: a round answered with fewer codes than partitions sends the
// unanswered ones again.
func TestMarkerAnswerShort(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("tx", tps("t", 0, 1)...)
	h.markers.auto = false
	h.end("tx", pid, epoch, false)
	p := h.markers.pending[0]
	h.markers.pending = nil
	p.done([]int16{0})
	h.markers.auto = true
	h.run(time.Second)
	if n := len(h.markers.sent); n != 2 || !slices.Equal(h.markers.sent[1].Partitions, tps("t", 1)) {
		t.Fatalf("rounds %+v", h.markers.sent)
	}
	p.done([]int16{0, 0}) // a second answer to the first round changes nothing
	if st := h.status("tx"); st.State != "CompleteAbort" {
		t.Fatalf("state %s", st.State)
	}
}

// TestCompleteWriteRetried: a completion the log refused is written again after
// MarkerRetry, without sending markers again; the transaction stays busy meanwhile.
func TestCompleteWriteRetried(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("tx", tps("t", 0)...)
	h.log.auto = false
	ec := h.end("tx", pid, epoch, true)
	h.log.complete(0) // PrepareCommit durable; markers answered; CompleteCommit out
	wantCode(t, "EndTxn", ec.get(), codeNone)
	h.log.fail(0, errTimeout)
	wantCode(t, "commit again while the completion waits", h.end("tx", pid, epoch, true).get(), codeConcurrentTransactions)
	h.run(DefaultMarkerRetry)
	if len(h.log.pending) != 1 {
		t.Fatalf("%d appends out after the retry, want 1", len(h.log.pending))
	}
	h.log.completeAll()
	if st := h.status("tx"); st.State != "CompleteCommit" || len(h.markers.sent) != 1 {
		t.Fatalf("state %s after %d rounds", st.State, len(h.markers.sent))
	}
}

// TestTimeoutAbort: an Ongoing transaction past its timeout is aborted at the next
// check with a bumped epoch, which fences its producer.
func TestTimeoutAbort(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.initOK("tx")
	h.c.InitProducerID(h.now, "short", 1000, -1, -1, func(int64, int16, int16) {})
	start := h.now
	h.add("tx", pid, epoch, tps("t", 0)...)
	h.add("short", 1001, 0, tps("u", 0)...)
	check := start + int64(DefaultAbortCheckInterval)
	if d := h.deadline(); d != check {
		t.Fatalf("Deadline %d, want the timeout check at %d", d, check)
	}
	h.run(DefaultAbortCheckInterval - time.Millisecond)
	if st := h.status("short"); st.State != "Ongoing" {
		t.Fatalf("aborted before the check: %s", st.State)
	}
	h.run(time.Millisecond)
	st := h.status("short")
	if st.State != "CompleteAbort" || st.ProducerEpoch != 1 {
		t.Fatalf("timed-out transaction %+v", st)
	}
	if m := h.markers.sent; len(m) != 1 || m[0].Commit || m[0].ProducerEpoch != 1 || m[0].ProducerID != 1001 {
		t.Fatalf("markers %+v", m)
	}
	wantCode(t, "the timed-out producer's commit", h.end("short", 1001, 0, true).get(), codeProducerFenced)
	if st := h.status("tx"); st.State != "Ongoing" {
		t.Fatalf("a transaction within its timeout aborted: %s", st.State)
	}
	want := []string{"txn-coordinator-loaded", "txn-begin", "txn-begin", "txn-timed-out", "txn-prepare-abort", "txn-complete-abort"}
	if got := h.eventKinds(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	h.run(time.Minute)
	if st := h.status("tx"); st.State != "CompleteAbort" || st.ProducerEpoch != epoch+1 {
		t.Fatalf("after its timeout %+v", st)
	}
	// Nothing is Ongoing: what is left is the expiry of the idle ids.
	first := min(h.status("tx").LastUpdateMs, h.status("short").LastUpdateMs)
	if d, want := h.deadline(), (first+DefaultIDExpiration.Milliseconds())*int64(time.Millisecond); d != want {
		t.Fatalf("Deadline %d with nothing Ongoing, want the first expiry at %d", d, want)
	}
}

// TestTimeoutAbortFailedWrite: a timeout abort the log refused is tried again at the
// next check.
func TestTimeoutAbortFailedWrite(t *testing.T) {
	h := newHarness(t)
	h.c.InitProducerID(h.now, "short", 1000, -1, -1, func(int64, int16, int16) {})
	h.add("short", 1000, 0, tps("u", 0)...)
	h.log.auto = false
	h.run(DefaultAbortCheckInterval)
	h.log.fail(0, errTimeout)
	if st := h.status("short"); st.State != "Ongoing" || st.ProducerEpoch != 0 {
		t.Fatalf("after a refused abort %+v", st)
	}
	h.log.auto = true
	h.run(DefaultAbortCheckInterval)
	if st := h.status("short"); st.State != "CompleteAbort" || st.ProducerEpoch != 1 {
		t.Fatalf("after the second check %+v", st)
	}
}

func TestDescribeAndList(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("b", tps("t", 1, 0)...)
	h.initOK("a")
	got := h.c.Describe([]string{"b", "zz", "a"})
	if len(got) != 3 || got[0].TxnID != "b" || got[0].State != "Ongoing" || got[0].ProducerID != pid || got[0].ProducerEpoch != epoch ||
		got[0].TimeoutMs != testTimeoutMs || got[0].StartMs != millis(h.now) || !slices.Equal(got[0].Partitions, tps("t", 0, 1)) {
		t.Fatalf("Describe %+v", got)
	}
	if got[1].ErrorCode != codeTransactionalIDNotFound || got[2].State != "Empty" || got[2].ErrorCode != 0 {
		t.Fatalf("Describe %+v", got)
	}
	l := h.c.List()
	if len(l) != 2 || l[0].TxnID != "a" || l[1].TxnID != "b" {
		t.Fatalf("List %+v", l)
	}
	got[0].Partitions[0].Topic = "changed"
	if h.status("b").Partitions[0].Topic != "t" {
		t.Fatal("Describe shares the coordinator's partitions")
	}
}

// TestRetryScheduledOutsideInput: markers answered outside any input carry no time; the
// retry's backoff starts at the next input, which Deadline asks for at once.
func TestRetryScheduledOutsideInput(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("tx", tps("t", 0)...)
	h.markers.auto = false
	h.end("tx", pid, epoch, true)
	p := h.markers.pending[0]
	h.markers.pending = nil
	h.now += int64(time.Second)
	p.done([]int16{codeNotCoordinator}) // outside any input
	if d := h.deadline(); d != int64(time.Hour) {
		t.Fatalf("Deadline %d, want the last input's time %d", d, int64(time.Hour))
	}
	h.c.Tick(h.now)
	if d := h.deadline(); d != h.now+int64(DefaultMarkerRetry) {
		t.Fatalf("Deadline %d, want %d", d, h.now+int64(DefaultMarkerRetry))
	}
	h.markers.auto = true
	h.run(DefaultMarkerRetry)
	if st := h.status("tx"); st.State != "CompleteCommit" || len(h.markers.sent) != 2 {
		t.Fatalf("state %s after %d rounds", st.State, len(h.markers.sent))
	}
}

// TestWaitingRequestsExpireAndClose: requests of one producer that wait for its busy id
// join into one write, wait at most QueueWait, and Close answers those still waiting.
func TestWaitingRequestsExpireAndClose(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.initOK("tx")
	h.log.auto = false
	first := h.add("tx", pid, epoch, tps("t", 0)...)
	var waiting []*call[[]int16]
	for p := range int32(queueMax + 1) {
		waiting = append(waiting, h.add("tx", pid, epoch, tps("u", p)...))
	}
	appends := h.log.appends
	h.log.completeAll()
	wantCode(t, "first", h.addCode(first), codeNone)
	for i, w := range waiting {
		wantCode(t, fmt.Sprintf("waiting request %d", i), h.addCode(w), codeNone)
	}
	if n := h.log.appends - appends; n != 1 {
		t.Fatalf("the waiting requests took %d writes, want 1", n)
	}
	if st := h.status("tx"); len(st.Partitions) != queueMax+2 {
		t.Fatalf("partitions %v", st.Partitions)
	}

	h.add("tx", pid, epoch, tps("v", 0)...)
	late := h.add("tx", pid, epoch, tps("v", 1)...)
	if d := h.c.Deadline(); d != h.now+int64(DefaultQueueWait) {
		t.Fatalf("deadline %d, want the queue's %d", d, h.now+int64(DefaultQueueWait))
	}
	h.now += int64(DefaultQueueWait)
	h.c.Tick(h.now)
	wantCode(t, "a request after QueueWait", h.addCode(late), codeConcurrentTransactions)
	w := h.add("tx", pid, epoch, tps("v", 2)...)
	h.c.Close()
	wantCode(t, "a waiting request at Close", h.addCode(w), codeNotCoordinator)
}
