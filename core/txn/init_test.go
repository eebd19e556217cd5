package txn

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestInitNewIDIsDurableBeforeAnswer(t *testing.T) {
	h := newHarness(t)
	h.log.auto = false
	ic := h.init("tx", testTimeoutMs, -1, -1)
	if ic.answered() {
		t.Fatal("InitProducerID answered before its record is durable")
	}
	if st := h.status("tx"); st.ErrorCode != codeTransactionalIDNotFound {
		t.Fatalf("an id with no durable record described as %+v", st)
	}
	h.log.completeAll()
	r := ic.get()
	if r.code != 0 || r.pid != 1000 || r.epoch != 0 {
		t.Fatalf("InitProducerID: %+v, want producer 1000 epoch 0", r)
	}
	rec, ok := h.log.last("tx")
	if !ok || rec.pid != 1000 || rec.epoch != 0 || rec.state != stateEmpty || rec.timeoutMs != testTimeoutMs || rec.startMs != -1 {
		t.Fatalf("durable record %+v", rec)
	}
	st := h.status("tx")
	if st.State != "Empty" || st.ProducerID != 1000 || st.ProducerEpoch != 0 || st.TimeoutMs != testTimeoutMs || st.StartMs != -1 {
		t.Fatalf("status %+v", st)
	}
}

func TestInitBumpsEpochAndFencesOldProducer(t *testing.T) {
	h := newHarness(t)
	pid, e0 := h.initOK("tx")
	pid1, e1 := h.initOK("tx")
	if pid1 != pid || e1 != e0+1 {
		t.Fatalf("re-init: producer %d epoch %d, want %d epoch %d", pid1, e1, pid, e0+1)
	}
	wantCode(t, "old producer's AddPartitions", h.addCode(h.add("tx", pid, e0, tps("t", 0)...)), codeProducerFenced)
	wantCode(t, "old producer's EndTxn", h.end("tx", pid, e0, true).get(), codeProducerFenced)
	wantCode(t, "new producer's AddPartitions", h.addCode(h.add("tx", pid, e1, tps("t", 0)...)), codeNone)
}

func TestInitRefusals(t *testing.T) {
	h := newHarness(t)
	maxMs := int32(DefaultMaxTimeout / time.Millisecond)
	wantCode(t, "timeout above the maximum", h.init("tx", maxMs+1, -1, -1).get().code, codeInvalidTransactionTimeout)
	wantCode(t, "zero timeout", h.init("tx", 0, -1, -1).get().code, codeInvalidTransactionTimeout)
	wantCode(t, "the maximum timeout", h.init("tx", maxMs, -1, -1).get().code, codeNone)
	wantCode(t, "empty id", h.init("", 1000, -1, -1).get().code, codeInvalidRequest)
	long := string(make([]byte, TxnIDBytesMax+1))
	wantCode(t, "id too long for the record", h.init(long, 1000, -1, -1).get().code, codeInvalidRequest)
	if n := len(h.log.ids()); n != 1 {
		t.Fatalf("%d ids written, want 1", n)
	}
}

func TestInitKIP360(t *testing.T) {
	h := newHarness(t)
	pid, e0 := h.initOK("tx")
	r := h.init("tx", testTimeoutMs, pid, e0).get()
	if r.code != 0 || r.pid != pid || r.epoch != e0+1 {
		t.Fatalf("KIP-360 bump: %+v", r)
	}
	// The answer was lost: the same request again gets the same epoch, not a fence.
	again := h.init("tx", testTimeoutMs, pid, e0).get()
	if again != r {
		t.Fatalf("retry of a KIP-360 bump: %+v, want %+v", again, r)
	}
	wantCode(t, "older epoch", h.init("tx", testTimeoutMs, pid, e0+5).get().code, codeProducerFenced)
	wantCode(t, "other producer id", h.init("tx", testTimeoutMs, pid+1, r.epoch).get().code, codeProducerFenced)
	// A producer that started over without naming its epoch fences the KIP-360 retry.
	_, e2 := h.initOK("tx")
	wantCode(t, "retry after a new producer", h.init("tx", testTimeoutMs, pid, e0).get().code, codeProducerFenced)
	wantCode(t, "current epoch", h.init("tx", testTimeoutMs, pid, e2).get().code, codeNone)
}

// TestEpochOverflowTakesNewProducerID: an epoch at the last one InitProducerID hands out
// moves the id to a new producer id at epoch 0.
func TestEpochOverflowTakesNewProducerID(t *testing.T) {
	h := newHarness(t)
	h.log.write([]KV{{Key: encodeKey("tx"), Value: encodeValue(txnRecord{pid: 5, epoch: epochInitMax - 1,
		timeoutMs: testTimeoutMs, state: stateCompleteCommit, startMs: -1})}})
	h.failover(testEpoch)
	r := h.init("tx", testTimeoutMs, -1, -1).get()
	if r.code != 0 || r.pid != 5 || r.epoch != epochInitMax {
		t.Fatalf("bump to the last epoch: %+v", r)
	}
	r = h.init("tx", testTimeoutMs, 5, epochInitMax).get()
	if r.code != 0 || r.pid != 1000 || r.epoch != 0 {
		t.Fatalf("bump past the last epoch: %+v, want producer 1000 epoch 0", r)
	}
	if rec, _ := h.log.last("tx"); rec.pid != 1000 || rec.epoch != 0 || rec.state != stateEmpty {
		t.Fatalf("durable record %+v", rec)
	}
	// The KIP-360 retry naming the old producer id gets the new one.
	if again := h.init("tx", testTimeoutMs, 5, epochInitMax).get(); again != r {
		t.Fatalf("retry across the producer id change: %+v, want %+v", again, r)
	}
}

// TestFenceAtMaxEpoch: fencing an Ongoing transaction at the last InitProducerID epoch
// uses the reserved epoch for its abort markers; the retry moves to a new producer id.
func TestFenceAtMaxEpoch(t *testing.T) {
	h := newHarness(t)
	h.log.write([]KV{{Key: encodeKey("tx"), Value: encodeValue(txnRecord{pid: 5, epoch: epochInitMax,
		timeoutMs: testTimeoutMs, state: stateOngoing, parts: tps("t", 0), startMs: millis(h.now)})}})
	h.failover(testEpoch)
	wantCode(t, "init over an Ongoing transaction", h.init("tx", testTimeoutMs, -1, -1).get().code, codeConcurrentTransactions)
	if m := h.markers.sent[0]; m.ProducerEpoch != math.MaxInt16 || m.Commit {
		t.Fatalf("fence markers %+v", m)
	}
	r := h.init("tx", testTimeoutMs, -1, -1).get()
	if r.code != 0 || r.pid != 1000 || r.epoch != 0 {
		t.Fatalf("init after the fence: %+v", r)
	}
}

// TestFenceOngoing: a new producer's InitProducerID aborts the open transaction with a
// bumped epoch (answering CONCURRENT_TRANSACTIONS meanwhile), and its retry gets the
// epoch after that.
func TestFenceOngoing(t *testing.T) {
	h := newHarness(t)
	h.markers.auto = false
	pid, e0 := h.begin("tx", tps("t", 0, 1)...)
	wantCode(t, "init over an Ongoing transaction", h.init("tx", testTimeoutMs, -1, -1).get().code, codeConcurrentTransactions)
	if rec, _ := h.log.last("tx"); rec.state != statePrepareAbort || rec.epoch != e0+1 {
		t.Fatalf("fence record %+v, want PrepareAbort epoch %d", rec, e0+1)
	}
	if len(h.markers.sent) != 1 {
		t.Fatalf("%d marker rounds, want 1", len(h.markers.sent))
	}
	m := h.markers.sent[0]
	if m.Commit || m.ProducerID != pid || m.ProducerEpoch != e0+1 || m.CoordinatorEpoch != testEpoch || !slices.Equal(m.Partitions, tps("t", 0, 1)) {
		t.Fatalf("fence markers %+v", m)
	}
	wantCode(t, "init while the abort's markers are out", h.init("tx", testTimeoutMs, -1, -1).get().code, codeConcurrentTransactions)
	wantCode(t, "old producer's commit", h.end("tx", pid, e0, true).get(), codeProducerFenced)
	h.markers.answerAll()
	if rec, _ := h.log.last("tx"); rec.state != stateCompleteAbort || rec.epoch != e0+1 || len(rec.parts) != 0 {
		t.Fatalf("after the markers %+v", rec)
	}
	r := h.init("tx", testTimeoutMs, -1, -1).get()
	if r.code != 0 || r.pid != pid || r.epoch != e0+2 {
		t.Fatalf("retried init: %+v, want epoch %d", r, e0+2)
	}
	want := []string{"txn-coordinator-loaded", "txn-begin", "txn-fenced", "txn-prepare-abort", "txn-complete-abort"}
	if got := h.eventKinds(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestInitWhileProducerIDPending(t *testing.T) {
	h := newHarness(t)
	h.pids.manual = true
	first := h.init("tx", testTimeoutMs, -1, -1)
	wantCode(t, "second init of a new id", h.init("tx", testTimeoutMs, -1, -1).get().code, codeConcurrentTransactions)
	wantCode(t, "AddPartitions before any producer id", h.addCode(h.add("tx", 1000, 0, tps("t", 0)...)), codeInvalidProducerIDMapping)
	h.pids.answerAll()
	if r := first.get(); r.code != 0 || r.pid != 1000 {
		t.Fatalf("first init: %+v", r)
	}
	// A refusal from the producer id source is passed on and leaves nothing behind.
	h.pids.manual, h.pids.code = false, codeNotCoordinator
	wantCode(t, "init without producer ids", h.init("other", testTimeoutMs, -1, -1).get().code, codeNotCoordinator)
	if len(h.c.List()) != 1 {
		t.Fatalf("List %+v after a refused init", h.c.List())
	}
}

func TestInitWriteFailureForgetsNewID(t *testing.T) {
	h := newHarness(t)
	h.log.auto = false
	ic := h.init("tx", testTimeoutMs, -1, -1)
	h.log.fail(0, ErrNotLeader)
	wantCode(t, "init whose write failed", ic.get().code, codeNotCoordinator)
	if st := h.status("tx"); st.ErrorCode != codeTransactionalIDNotFound {
		t.Fatalf("status after a failed first write %+v", st)
	}
	h.log.auto = true
	if r := h.init("tx", testTimeoutMs, -1, -1).get(); r.code != 0 || r.pid != 1001 {
		t.Fatalf("init again: %+v", r)
	}
}

func TestTxnsMax(t *testing.T) {
	cfg := testConfig()
	cfg.TxnsMax = 2
	h := newHarnessConfig(t, cfg)
	h.initOK("a")
	h.initOK("b")
	wantCode(t, "third id", h.init("c", testTimeoutMs, -1, -1).get().code, codeCoordinatorNotAvailable)
	h.initOK("a") // known ids still work
}
