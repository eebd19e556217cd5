package txn

import (
	"slices"
	"testing"
)

// verifyCodes is Verify with its codes checked against want.
func (h *harness) wantVerify(what, id string, pid int64, epoch int16, parts []TopicPartition, want ...int16) {
	h.t.Helper()
	appends := h.log.appends
	got := h.c.Verify(id, pid, epoch, parts)
	if !slices.Equal(got, want) {
		h.t.Fatalf("%s: verify codes %v, want %v", what, got, want)
	}
	if h.log.appends != appends {
		h.t.Fatalf("%s: a verification wrote a record", what)
	}
}

// TestVerify follows what a partition leader hears when it asks whether a transactional
// write belongs to an ongoing transaction (KIP-890), through a transaction's life.
func TestVerify(t *testing.T) {
	h := newHarness(t)
	t0, t1 := tps("t", 0), tps("t", 1)
	h.wantVerify("unknown id", "tx", 1000, 0, t0, codeInvalidProducerIDMapping)
	pid, epoch := h.initOK("tx")
	h.wantVerify("Empty", "tx", pid, epoch, t0, codeTransactionAbortable)
	wantCode(t, "add", h.addCode(h.add("tx", pid, epoch, t0...)), codeNone)
	h.wantVerify("Ongoing, in", "tx", pid, epoch, t0, codeNone)
	h.wantVerify("Ongoing, both", "tx", pid, epoch, slices.Concat(t1, t0), codeTransactionAbortable, codeNone)
	h.wantVerify("other producer id", "tx", pid+1, epoch, t0, codeInvalidProducerIDMapping)
	h.wantVerify("older epoch", "tx", pid, epoch-1, t0, codeProducerFenced)
	h.wantVerify("bad partition", "tx", pid, epoch, tps("t", -1), codeInvalidRequest)
	h.wantVerify("empty id", "", pid, epoch, t0, codeInvalidRequest)
	// The abort's record is written; the markers are out: the end is under way.
	h.markers.auto = false
	wantCode(t, "abort", h.end("tx", pid, epoch, false).get(), codeNone)
	h.wantVerify("PrepareAbort", "tx", pid, epoch, t0, codeConcurrentTransactions)
	h.markers.answerAll()
	if st := h.status("tx"); st.State != "CompleteAbort" {
		t.Fatalf("state %s", st.State)
	}
	h.wantVerify("CompleteAbort", "tx", pid, epoch, t0, codeTransactionAbortable)
	// A write to the next transaction is in once its AddPartitions is durable, not before.
	h.log.auto = false
	ac := h.add("tx", pid, epoch, t1...)
	h.wantVerify("AddPartitions being written", "tx", pid, epoch, t1, codeTransactionAbortable)
	h.log.completeAll()
	wantCode(t, "add next", h.addCode(ac), codeNone)
	h.wantVerify("next transaction", "tx", pid, epoch, t1, codeNone)
	h.wantVerify("previous transaction's partition", "tx", pid, epoch, t0, codeTransactionAbortable)
	h.failover(testEpoch + 1)
	h.wantVerify("after failover", "tx", pid, epoch, t1, codeNone)
}

// TestVerifyNotServing: a coordinator loading or closed answers its Availability code.
func TestVerifyNotServing(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("tx", tps("t", 0)...)
	h.c.Close()
	h.wantVerify("closed", "tx", pid, epoch, tps("t", 0), h.c.Availability())
	if h.c.Availability() == codeNone {
		t.Fatal("a closed coordinator is available")
	}
}

// TestVerifyOffsetsPartition: a TxnOffsetCommit below v5 is verified on the group's
// offsets partition, which AddOffsets added: in while Ongoing, and no longer once the
// transaction aborted, so that a late commit of it is refused.
func TestVerifyOffsetsPartition(t *testing.T) {
	h := newHarness(t)
	offsets := TopicPartition{Topic: "__consumer_offsets", Partition: 7}
	pid, epoch := h.initOK("tx")
	h.wantVerify("before AddOffsets", "tx", pid, epoch, []TopicPartition{offsets}, codeTransactionAbortable)
	wantCode(t, "add offsets", h.offsets("tx", pid, epoch, offsets).get(), codeNone)
	h.wantVerify("Ongoing", "tx", pid, epoch, []TopicPartition{offsets}, codeNone)
	wantCode(t, "abort", h.end("tx", pid, epoch, false).get(), codeNone)
	h.wantVerify("late commit after the abort", "tx", pid, epoch, []TopicPartition{offsets}, codeTransactionAbortable)
}
