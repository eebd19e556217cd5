package partition

import (
	"testing"
	"time"
)

// produceWith produces batch on node id with a verification guard.
func (c *tcluster) produceWith(id int32, batch []byte, g TxnGuard) *produceRec {
	p := &produceRec{}
	n := c.nodes[id]
	n.r.ProduceVerified(c.now, batch, g, -1, time.Second, p.reply)
	c.collect(n)
	c.settle()
	return p
}

func (c *tcluster) plainProduce(id int32, batch []byte) *produceRec {
	p := &produceRec{}
	n := c.nodes[id]
	n.r.Produce(c.now, batch, -1, time.Second, p.reply)
	c.collect(n)
	c.settle()
	return p
}

// The first transactional batch of a producer needs a verification; the ones after it,
// in the same open transaction, do not; without one it is refused INVALID_TXN_STATE and
// opens nothing.
func TestTxnVerificationNeeded(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	r := c.r(1)
	if res := c.plainProduce(1, txnBatch(5, 0, 0, "t1")).one(t); res.Err != CodeInvalidTxnState {
		t.Fatalf("unverified first batch: %+v", res)
	}
	if st := r.Status(); st.LastStableOffset != st.HighWatermark {
		t.Fatalf("a refused batch opened a transaction: %+v", st)
	}
	g, need, code := r.StartTxnVerification(c.now, txnBatch(5, 0, 0, "t1"), -1)
	if !need || code != CodeNone || r.VerifyingCount() != 1 {
		t.Fatalf("first batch: need %v code %d verifying %d", need, code, r.VerifyingCount())
	}
	if res := c.produceWith(1, txnBatch(5, 0, 0, "t1"), g).one(t); res.Err != CodeNone {
		t.Fatalf("verified first batch: %+v", res)
	}
	if r.VerifyingCount() != 0 || len(r.lead.verifying) != 0 {
		t.Fatalf("guard left after the append: %d, %v", r.VerifyingCount(), r.lead.verifying)
	}
	if _, need, _ := r.StartTxnVerification(c.now, txnBatch(5, 0, 1, "t2"), -1); need {
		t.Fatal("a batch of an open transaction asks for a verification")
	}
	if res := c.plainProduce(1, txnBatch(5, 0, 1, "t2")).one(t); res.Err != CodeNone {
		t.Fatalf("second batch of the open transaction: %+v", res)
	}
	if _, need, _ := r.StartTxnVerification(c.now, batchOf("plain"), -1); need {
		t.Fatal("a plain batch asks for a verification")
	}
	c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, Commit: false}).one(t)
	if _, need, _ := r.StartTxnVerification(c.now, txnBatch(5, 0, 2, "t3"), -1); !need {
		t.Fatal("a batch after the abort marker needs no verification")
	}
}

// The race Kafka's verification guard closes: the coordinator vouched for the
// transaction, then its abort marker landed before the batch. The batch must not open
// a transaction the coordinator has already ended.
func TestTxnVerificationGuardClearedByMarker(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	r := c.r(1)
	g, need, _ := r.StartTxnVerification(c.now, txnBatch(5, 0, 0, "late"), -1)
	if !need {
		t.Fatal("no verification asked")
	}
	c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, Commit: false}).one(t)
	if res := c.produceWith(1, txnBatch(5, 0, 0, "late"), g).one(t); res.Err != CodeInvalidTxnState {
		t.Fatalf("batch verified before its abort marker, appended after it: %+v", res)
	}
	st := r.Status()
	if st.LastStableOffset != st.HighWatermark {
		t.Fatalf("the late batch opened a transaction: %+v", st)
	}
	if r.VerifyingCount() != 0 {
		t.Fatalf("verifications left: %d", r.VerifyingCount())
	}
}

// TestTxnVerificationGuardKeptByBumpedMarker: at transaction version 2 the marker of
// the last transaction carries the epoch the coordinator bumped to, which is the epoch
// of the producer's next transaction: an implicit add of the next transaction started
// before that marker landed holds, while a version-1 marker of the same epoch, or a
// version-2 marker above the guard's epoch, clears the guard.
func TestTxnVerificationGuardKeptByBumpedMarker(t *testing.T) {
	for _, c := range []struct {
		name        string
		markerEpoch int16
		tv          int8
		keep        bool
	}{{"v2 marker of the epoch before", 1, 2, true}, {"v1 marker", 1, 0, false}, {"v2 marker of the guard's end", 2, 2, false}} {
		cl := newCluster(t, 3, 1, nil)
		r := cl.r(1)
		cl.produce(1, txnBatch(5, 0, 0, "first"), -1).one(t)
		g, need, _ := r.StartTxnVerification(cl.now, txnBatch(5, 1, 0, "next"), -1)
		if !need {
			t.Fatalf("%s: no verification asked", c.name)
		}
		cl.marker(1, Marker{ProducerID: 5, ProducerEpoch: c.markerEpoch, Commit: true, TransactionVersion: c.tv}).one(t)
		res := cl.produceWith(1, txnBatch(5, 1, 0, "next"), g).one(t)
		if kept := res.Err == CodeNone; kept != c.keep {
			t.Fatalf("%s: batch verified before the marker: %+v", c.name, res)
		}
		if st := r.Status(); c.keep != (st.LastStableOffset < st.HighWatermark) {
			t.Fatalf("%s: status %+v", c.name, st)
		}
	}
}

// A guard also goes with a batch of another epoch of its producer, and with the
// leadership it was started in.
func TestTxnVerificationGuardClearedByEpochAndLeadership(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	r := c.r(1)
	g, _, _ := r.StartTxnVerification(c.now, txnBatch(5, 0, 0, "a"), -1)
	if res := c.produce(1, idemBatch(5, 1, 0, "bumped"), -1).one(t); res.Err != CodeNone {
		t.Fatalf("batch of the next epoch: %+v", res)
	}
	if res := c.produceWith(1, txnBatch(5, 0, 0, "a"), g).one(t); res.Err != CodeInvalidProducerEpoch {
		t.Fatal("a guard of epoch 0 survived a batch of epoch 1")
	}
	// Two verifications of one producer share its guard; one dropped leaves the other.
	g1, _, _ := r.StartTxnVerification(c.now, txnBatch(7, 0, 0, "x"), -1)
	g2, _, _ := r.StartTxnVerification(c.now, txnBatch(7, 0, 0, "x"), -1)
	r.DropTxnVerification(g1)
	if res := c.produceWith(1, txnBatch(7, 0, 0, "x"), g2).one(t); res.Err != CodeNone {
		t.Fatalf("second verification after the first was dropped: %+v", res)
	}
	g3, _, _ := r.StartTxnVerification(c.now, txnBatch(9, 0, 0, "y"), -1)
	c.elect(1)
	if res := c.produceWith(1, txnBatch(9, 0, 0, "y"), g3).one(t); res.Err != CodeInvalidTxnState {
		t.Fatal("a guard of an earlier leadership was honoured")
	}
	if r.VerifyingCount() != 0 {
		t.Fatalf("verifications left: %d", r.VerifyingCount())
	}
}

// VerifyingMax bounds the verifications under way; one dropped makes room again.
func TestTxnVerificationBound(t *testing.T) {
	c := newCluster(t, 3, 1, func(cfg *Config) { cfg.VerifyingMax = 3 })
	r := c.r(1)
	var gs []TxnGuard
	for pid := int64(1); pid <= 3; pid++ {
		g, need, code := r.StartTxnVerification(c.now, txnBatch(pid, 0, 0, "v"), -1)
		if !need || code != CodeNone {
			t.Fatalf("verification %d: need %v code %d", pid, need, code)
		}
		gs = append(gs, g)
	}
	if _, need, code := r.StartTxnVerification(c.now, txnBatch(4, 0, 0, "v"), -1); need || code != CodeRequestTimedOut {
		t.Fatalf("verification beyond the bound: need %v code %d", need, code)
	}
	r.DropTxnVerification(gs[0])
	r.DropTxnVerification(gs[0]) // a second drop of one guard is a caller's bug, but must not free room twice
	if _, need, code := r.StartTxnVerification(c.now, txnBatch(4, 0, 0, "v"), -1); !need || code != CodeNone {
		t.Fatalf("verification after one was dropped: need %v code %d", need, code)
	}
}
