package txn

import (
	"math"
	"testing"
)

type endResp struct {
	pid   int64
	epoch int16
	code  int16
}

func (h *harness) endV2(id string, pid int64, epoch int16, commit bool) *call[endResp] {
	c := &call[endResp]{t: h.t}
	h.c.EndTxnVersion(h.now, id, pid, epoch, commit, 2, func(p int64, e int16, code int16) { c.reply(endResp{p, e, code}) })
	return c
}

func (h *harness) implicitAdd(id string, pid int64, epoch int16, p TopicPartition) *call[int16] {
	c := &call[int16]{t: h.t}
	h.c.AddPartitionImplicit(h.now, id, pid, epoch, p, c.reply)
	return c
}

// TestV2EndBumpsEpoch: a version-2 transaction (opened by an implicit add) ends with
// the epoch bumped in its Prepare* record, markers at the new epoch, and the new epoch
// answered; the records are value version 1 with the client's transaction version.
func TestV2EndBumpsEpoch(t *testing.T) {
	h := newHarness(t)
	pid, e0 := h.initOK("tx")
	wantCode(t, "implicit add", h.implicitAdd("tx", pid, e0, TopicPartition{"t", 0}).get(), codeNone)
	if rec, _ := h.log.last("tx"); rec.state != stateOngoing || rec.tv != 2 || rec.epoch != e0 {
		t.Fatalf("record after the implicit add %+v", rec)
	}
	h.markers.auto = false
	r := h.endV2("tx", pid, e0, true).get()
	if r.code != 0 || r.pid != pid || r.epoch != e0+1 {
		t.Fatalf("EndTxn v5: %+v, want producer %d epoch %d", r, pid, e0+1)
	}
	if rec, _ := h.log.last("tx"); rec.state != statePrepareCommit || rec.epoch != e0+1 || rec.tv != 2 {
		t.Fatalf("Prepare record %+v", rec)
	}
	if m := h.markers.sent[0]; m.ProducerEpoch != e0+1 || m.TransactionVersion != 2 || !m.Commit {
		t.Fatalf("markers %+v", m)
	}
	// While the markers are out: the retry (old epoch) waits, the old epoch's write is
	// fenced, and the new epoch's add waits for the end to complete.
	wantCode(t, "retry while the markers are out", h.endV2("tx", pid, e0, true).get().code, codeConcurrentTransactions)
	wantCode(t, "retry of the other outcome", h.endV2("tx", pid, e0, false).get().code, codeInvalidTxnState)
	wantCode(t, "late add of the old epoch", h.implicitAdd("tx", pid, e0, TopicPartition{"t", 1}).get(), codeProducerFenced)
	next := h.implicitAdd("tx", pid, e0+1, TopicPartition{"t", 1})
	if next.answered() {
		t.Fatal("the next transaction began before the last one completed")
	}
	h.markers.answerAll()
	wantCode(t, "next transaction's add", next.get(), codeNone)
	if st := h.status("tx"); st.State != "Ongoing" || st.ProducerEpoch != e0+1 {
		t.Fatalf("status %+v", st)
	}
	// Reload keeps the version and the epoch.
	h.failover(testEpoch + 1)
	if st := h.status("tx"); st.State != "Ongoing" || st.ProducerEpoch != e0+1 {
		t.Fatalf("status after reload %+v", st)
	}
	h.markers.auto = true
	r = h.endV2("tx", pid, e0+1, false).get()
	if r.code != 0 || r.epoch != e0+2 {
		t.Fatalf("abort after reload: %+v", r)
	}
	// Complete: a retry of the old epoch succeeds with the current epoch; the other
	// outcome is refused; an older epoch is fenced.
	if again := h.endV2("tx", pid, e0+1, false).get(); again != r {
		t.Fatalf("retry after completion %+v, want %+v", again, r)
	}
	wantCode(t, "retry with the other outcome", h.endV2("tx", pid, e0+1, true).get().code, codeInvalidTxnState)
	wantCode(t, "older epoch", h.endV2("tx", pid, e0, false).get().code, codeProducerFenced)
	wantCode(t, "commit with nothing open", h.endV2("tx", pid, e0+2, true).get().code, codeInvalidTxnState)
	// An empty abort bumps the epoch too.
	if r := h.endV2("tx", pid, e0+2, false).get(); r.code != 0 || r.epoch != e0+3 {
		t.Fatalf("empty abort: %+v", r)
	}
	if rec, _ := h.log.last("tx"); rec.state != stateCompleteAbort || rec.epoch != e0+3 {
		t.Fatalf("record after the empty abort %+v", rec)
	}
}

// TestV1EndKeepsEpoch: EndTxn below v5 keeps the epoch and the version-0 records.
func TestV1EndKeepsEpoch(t *testing.T) {
	h := newHarness(t)
	pid, e0 := h.begin("tx", tps("t", 0)...)
	wantCode(t, "EndTxn", h.end("tx", pid, e0, true).get(), codeNone)
	rec, _ := h.log.last("tx")
	if rec.epoch != e0 || rec.tv >= 2 || rec.state != stateCompleteCommit {
		t.Fatalf("record %+v", rec)
	}
	if m := h.markers.sent[0]; m.ProducerEpoch != e0 || m.TransactionVersion != 0 {
		t.Fatalf("markers %+v", m)
	}
	wantCode(t, "v1 EndTxn after a v1 end, old epoch", h.end("tx", pid, e0-1, true).get(), codeProducerFenced)
}

// TestV2EpochOverflow: the end at the last epoch takes a new producer id: the markers
// carry the old id at math.MaxInt16, the answer the new id at epoch 0, which the
// Complete* record makes the producer's; a retry naming the old id is answered the same.
func TestV2EpochOverflow(t *testing.T) {
	h := newHarness(t)
	h.log.write([]KV{{Key: encodeKey("tx"), Value: encodeValue(txnRecord{pid: 5, epoch: epochInitMax,
		timeoutMs: testTimeoutMs, state: stateOngoing, parts: tps("t", 0), startMs: millis(h.now), tv: 2, prevPid: -1, nextPid: -1})}})
	h.failover(testEpoch)
	h.markers.auto = false
	r := h.endV2("tx", 5, epochInitMax, true).get()
	if r.code != 0 || r.pid != 1000 || r.epoch != 0 {
		t.Fatalf("end at the last epoch: %+v, want producer 1000 epoch 0", r)
	}
	if m := h.markers.sent[0]; m.ProducerID != 5 || m.ProducerEpoch != math.MaxInt16 {
		t.Fatalf("markers %+v", m)
	}
	wantCode(t, "new id before the end completed", h.endV2("tx", 1000, 0, false).get().code, codeConcurrentTransactions)
	wantCode(t, "retry while the markers are out", h.endV2("tx", 5, epochInitMax, true).get().code, codeConcurrentTransactions)
	h.markers.answerAll()
	rec, _ := h.log.last("tx")
	if rec.pid != 1000 || rec.epoch != 0 || rec.prevPid != 5 || rec.nextPid != -1 || rec.state != stateCompleteCommit {
		t.Fatalf("Complete record %+v", rec)
	}
	if again := h.endV2("tx", 5, epochInitMax, true).get(); again != r {
		t.Fatalf("retry with the old id: %+v, want %+v", again, r)
	}
	h.failover(testEpoch + 1)
	if again := h.endV2("tx", 5, epochInitMax, true).get(); again != r {
		t.Fatalf("retry with the old id after reload: %+v, want %+v", again, r)
	}
	wantCode(t, "new id's add", h.implicitAdd("tx", 1000, 0, TopicPartition{"t", 0}).get(), codeNone)
}

// TestImplicitAddRefusals: an implicit add is checked like AddPartitions.
func TestImplicitAddRefusals(t *testing.T) {
	h := newHarness(t)
	wantCode(t, "unknown id", h.implicitAdd("tx", 1000, 0, TopicPartition{"t", 0}).get(), codeInvalidProducerIDMapping)
	pid, e0 := h.initOK("tx")
	wantCode(t, "other epoch", h.implicitAdd("tx", pid, e0+1, TopicPartition{"t", 0}).get(), codeProducerFenced)
	wantCode(t, "bad partition", h.implicitAdd("tx", pid, e0, TopicPartition{"t", -1}).get(), codeInvalidRequest)
	// An add of a partition the transaction has marks it version 2 all the same.
	wantCode(t, "client add", h.addCode(h.add("tx", pid, e0, tps("t", 0)...)), codeNone)
	wantCode(t, "implicit add of the same", h.implicitAdd("tx", pid, e0, TopicPartition{"t", 0}).get(), codeNone)
	if rec, _ := h.log.last("tx"); rec.tv != 2 {
		t.Fatalf("record %+v", rec)
	}
}
