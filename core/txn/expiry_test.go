package txn

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

const testExpiration = 10 * time.Minute

func expiryHarness(t *testing.T) *harness {
	cfg := testConfig()
	cfg.IDExpiration = testExpiration
	return newHarnessConfig(t, cfg)
}

// TestIdleIDExpires: an id whose last transaction completed is removed IDExpiration
// after its last update, not a millisecond before; its tombstone is in the log, so a
// new coordinator does not bring it back; its old producer is unknown, and an
// InitProducerID starts it over with a fresh producer id that works.
func TestIdleIDExpires(t *testing.T) {
	h := expiryHarness(t)
	pid, epoch := h.begin("tx", tps("t", 0)...)
	wantCode(t, "commit", h.end("tx", pid, epoch, true).get(), 0)
	st := h.status("tx")
	if st.State != "CompleteCommit" {
		t.Fatalf("state %s", st.State)
	}
	due := (st.LastUpdateMs + testExpiration.Milliseconds()) * int64(time.Millisecond)
	if d := h.deadline(); d != due {
		t.Fatalf("Deadline %d, want the expiry at %d", d, due)
	}
	h.run(time.Duration(due - h.now - 1))
	if st := h.status("tx"); st.ErrorCode != 0 {
		t.Fatalf("expired early: %+v", st)
	}
	h.run(time.Nanosecond)
	if st := h.status("tx"); st.ErrorCode != codeTransactionalIDNotFound {
		t.Fatalf("after its expiration %+v", st)
	}
	if _, ok := h.log.last("tx"); ok {
		t.Fatal("no tombstone is the last record of the expired id")
	}
	e := h.events[len(h.events)-1]
	if e.Kind != TxnIDExpired || e.TxnID != "tx" || e.ProducerID != pid || e.State != "CompleteCommit" || e.UpdateMs != st.LastUpdateMs ||
		e.AtMs-e.UpdateMs != testExpiration.Milliseconds() {
		t.Fatalf("event %+v", e)
	}
	wantCode(t, "the expired producer's AddPartitions", h.addCode(h.add("tx", pid, epoch, tps("t", 1)...)), codeInvalidProducerIDMapping)
	h.failover(testEpoch + 1)
	if st := h.status("tx"); st.ErrorCode != codeTransactionalIDNotFound {
		t.Fatalf("the expired id came back on loading: %+v", st)
	}
	pid2, epoch2 := h.begin("tx", tps("t", 1)...)
	if pid2 == pid || epoch2 != 0 {
		t.Fatalf("after expiry: producer %d epoch %d, want a fresh producer id at epoch 0 (was %d)", pid2, epoch2, pid)
	}
	wantCode(t, "commit after expiry", h.end("tx", pid2, epoch2, true).get(), 0)
}

// TestOpenTransactionNeverExpires: an Ongoing transaction outliving the expiration is
// kept (its timeout aborts it); the id expires IDExpiration after that abort completed.
// A transaction's changes keep pushing the expiry back.
func TestOpenTransactionNeverExpires(t *testing.T) {
	cfg := testConfig()
	cfg.IDExpiration = time.Second
	cfg.AbortCheckInterval = time.Minute
	h := newHarnessConfig(t, cfg)
	h.c.InitProducerID(h.now, "open", 120_000, -1, -1, func(int64, int16, int16) {})
	pid, epoch := h.status("open").ProducerID, h.status("open").ProducerEpoch
	h.run(900 * time.Millisecond)
	wantCode(t, "add", h.addCode(h.add("open", pid, epoch, tps("t", 0)...)), 0) // just before its expiry
	h.run(90 * time.Second)
	if st := h.status("open"); st.State != "Ongoing" {
		t.Fatalf("an Ongoing transaction past the expiration: %+v", st)
	}
	h.run(90 * time.Second) // the timeout check aborts it
	st := h.status("open")
	if st.State != "CompleteAbort" {
		t.Fatalf("after its timeout: %+v", st)
	}
	h.run(time.Second)
	if st := h.status("open"); st.ErrorCode != codeTransactionalIDNotFound {
		t.Fatalf("a second after its abort completed: %+v", st)
	}
	if slices.Contains(h.eventKinds(), "txn-id-expired") && h.events[len(h.events)-1].State != "CompleteAbort" {
		t.Fatalf("events %v", h.eventKinds())
	}
}

// TestExpiryBoundedPerTick: ids all due at once expire expirePerTick per Tick, with
// Deadline asking for the next Tick at once.
func TestExpiryBoundedPerTick(t *testing.T) {
	h := expiryHarness(t)
	n := 3*expirePerTick + 5
	for i := range n {
		h.initOK(fmt.Sprintf("id-%04d", i))
	}
	h.now += int64(testExpiration)
	h.c.Tick(h.now)
	if got := len(h.c.List()); got != n-expirePerTick {
		t.Fatalf("%d ids left after one Tick, want %d", got, n-expirePerTick)
	}
	if d := h.deadline(); d > h.now {
		t.Fatalf("Deadline %d after a Tick that left ids due at %d", d, h.now)
	}
	ticks := 1
	for len(h.c.List()) > 0 {
		h.c.Tick(h.deadline())
		if ticks++; ticks > n {
			t.Fatal("expiry does not progress")
		}
	}
	if ticks != 4 {
		t.Fatalf("%d Ticks expired %d ids, want 4", ticks, n)
	}
}

// TestExpiryTombstoneRefused: while the tombstone is out the id is busy; a refused
// tombstone leaves the id as it was, and it is tried again after MarkerRetry.
func TestExpiryTombstoneRefused(t *testing.T) {
	h := expiryHarness(t)
	pid, epoch := h.initOK("tx")
	h.log.auto = false
	h.run(testExpiration)
	if len(h.log.pending) != 1 || h.log.pending[0].recs[0].Value != nil {
		t.Fatalf("pending appends %+v, want the tombstone", h.log.pending)
	}
	wantCode(t, "InitProducerID during the tombstone", h.init("tx", testTimeoutMs, -1, -1).get().code, codeConcurrentTransactions)
	add := h.add("tx", pid, epoch, tps("t", 0)...)
	if add.answered() {
		t.Fatal("AddPartitions answered while the tombstone is out, want it to wait")
	}
	h.log.fail(0, errTimeout)
	if st := h.status("tx"); st.ErrorCode != 0 || st.State != "Empty" {
		t.Fatalf("after a refused tombstone %+v", st)
	}
	// The waiting AddPartitions ran once the id was free: the transaction began, so the
	// id no longer expires.
	h.log.completeAll()
	wantCode(t, "the waiting AddPartitions", h.addCode(add), 0)
	h.log.auto = true
	h.run(testExpiration / 2) // it times out, and is not due to expire yet
	if st := h.status("tx"); st.State != "CompleteAbort" {
		t.Fatalf("state %+v", st)
	}
	// With no request in between, a refused tombstone is written again.
	h2 := expiryHarness(t)
	h2.initOK("tx")
	h2.log.auto = false
	h2.run(testExpiration)
	h2.log.fail(0, errTimeout)
	h2.log.auto = true
	h2.run(DefaultMarkerRetry - time.Millisecond)
	if st := h2.status("tx"); st.ErrorCode != 0 {
		t.Fatalf("written again before MarkerRetry: %+v", st)
	}
	h2.run(time.Millisecond)
	if st := h2.status("tx"); st.ErrorCode != codeTransactionalIDNotFound {
		t.Fatalf("not expired after the retry: %+v", st)
	}
}

// TestLoadedIDsExpire: ids loaded from the log expire from their recorded last update;
// a PrepareCommit loaded finishes its markers first.
func TestLoadedIDsExpire(t *testing.T) {
	h := expiryHarness(t)
	pid, epoch := h.begin("a", tps("t", 0)...)
	h.initOK("b")
	h.markers.auto = false
	wantCode(t, "commit", h.end("a", pid, epoch, true).get(), 0)
	h.failover(testEpoch + 1) // the new coordinator's round stays unanswered for now
	h.run(testExpiration)
	if st := h.status("b"); st.ErrorCode != codeTransactionalIDNotFound {
		t.Fatalf("b after its expiration: %+v", st)
	}
	if st := h.status("a"); st.State != "PrepareCommit" {
		t.Fatalf("a with its markers out: %+v", st)
	}
	h.markers.auto = true
	h.markers.answerAll()
	h.run(DefaultMarkerRetry)
	if st := h.status("a"); st.State != "CompleteCommit" {
		t.Fatalf("a after its markers: %+v", st)
	}
	h.run(testExpiration)
	if st := h.status("a"); st.ErrorCode != codeTransactionalIDNotFound {
		t.Fatalf("a after its expiration: %+v", st)
	}
}
