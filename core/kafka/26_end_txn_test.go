package kafka

import (
	"testing"

	"github.com/seedlog/seedlog/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnBroker is the fake broker with one transaction coordinator for every id.
type txnBroker struct {
	*fakeBroker
	c *txn.Coordinator
}

func (b txnBroker) TxnCoordinator(string) (*txn.Coordinator, int16) { return b.c, 0 }

// instantLog is a __transaction_state partition whose appends are durable at once.
type instantLog struct{ next int64 }

func (l *instantLog) Append(_ int64, recs []txn.KV, done func(int64, error)) {
	l.next += int64(len(recs))
	done(l.next-int64(len(recs)), nil)
}

func (l *instantLog) Load(_ int64, _ func([]byte), done func(error)) { done(nil) }

// TestEndTxnVersions: every version served, 4 included, commits and aborts through the
// wire; a fenced producer hears PRODUCER_FENCED from version 2 on and
// INVALID_PRODUCER_EPOCH before; an end in the wrong state INVALID_TXN_STATE.
func TestEndTxnVersions(t *testing.T) {
	if _, hi, _ := Served.Range(26); hi != 5 {
		t.Fatalf("EndTxn served up to v%d, want 5", hi)
	}
	for _, v := range versions(t, 26) {
		fb := newFakeBroker(t)
		if v == 5 {
			fb.txnVersion = 1 // served as v4 on a version-1 broker; TestEndTxnV5 has the rest
		}
		cfg := txn.DefaultConfig(0, 1)
		next := int64(100)
		cfg.NewProducerID = func(reply func(int64, int16)) { next++; reply(next, 0) }
		cfg.SendMarkers = func(_ int64, m txn.MarkerRequest, done func([]int16)) { done(make([]int16, len(m.Partitions))) }
		b := txnBroker{fb, txn.NewCoordinator(fb.now, cfg, &instantLog{})}
		var pid int64
		var epoch int16
		b.c.InitProducerID(fb.now, "tx", 60000, -1, -1, func(p int64, e int16, code int16) { pid, epoch = p, e })
		end := func(pid int64, epoch int16, commit bool) int16 {
			t.Helper()
			req := kmsg.NewPtrEndTxnRequest()
			req.SetVersion(v)
			req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = "tx", pid, epoch, commit
			rs := &replies{t: t}
			EndTxn(b, viaWire(t, req), rs.reply)
			resp := rs.one().(*kmsg.EndTxnResponse)
			checkWire(t, resp)
			return resp.ErrorCode
		}
		for _, commit := range []bool{true, false} {
			b.c.AddPartitions(fb.now, "tx", pid, epoch, []txn.TopicPartition{{Topic: "t", Partition: 0}}, func([]int16) {})
			if code := end(pid, epoch, commit); code != 0 {
				t.Fatalf("v%d: EndTxn commit=%v: %s", v, commit, kerr.ErrorForCode(code))
			}
			if st := b.c.Describe([]string{"tx"})[0]; (commit && st.State != "CompleteCommit") || (!commit && st.State != "CompleteAbort") {
				t.Fatalf("v%d: after EndTxn commit=%v: %s", v, commit, st.State)
			}
		}
		if code := end(pid, epoch, true); code != kerr.InvalidTxnState.Code {
			t.Errorf("v%d: commit after an abort: %v, want INVALID_TXN_STATE", v, kerr.ErrorForCode(code))
		}
		fenced := kerr.ProducerFenced.Code
		if v < 2 {
			fenced = kerr.InvalidProducerEpoch.Code
		}
		if code := end(pid, epoch-1, false); code != fenced {
			t.Errorf("v%d: an old epoch's EndTxn: %v, want %v", v, kerr.ErrorForCode(code), kerr.ErrorForCode(fenced))
		}
	}
}

// TestEndTxnV5: on a broker at transaction.version 2, EndTxn v5 bumps the epoch and
// answers the new one; a retry with the old epoch gets the same answer; v4 keeps the
// epoch and answers none. On a version-1 broker, v5 is answered as v4.
func TestEndTxnV5(t *testing.T) {
	for _, tv := range []int16{1, 2} {
		fb := newFakeBroker(t)
		fb.txnVersion = tv
		cfg := txn.DefaultConfig(0, 1)
		cfg.NewProducerID = func(reply func(int64, int16)) { reply(100, 0) }
		var markers []txn.MarkerRequest
		cfg.SendMarkers = func(_ int64, m txn.MarkerRequest, done func([]int16)) {
			markers = append(markers, m)
			done(make([]int16, len(m.Partitions)))
		}
		b := txnBroker{fb, txn.NewCoordinator(fb.now, cfg, &instantLog{})}
		b.c.InitProducerID(fb.now, "tx", 60000, -1, -1, func(int64, int16, int16) {})
		end := func(v int16, epoch int16) *kmsg.EndTxnResponse {
			t.Helper()
			req := kmsg.NewPtrEndTxnRequest()
			req.SetVersion(v)
			req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = "tx", 100, epoch, true
			rs := &replies{t: t}
			EndTxn(b, viaWire(t, req), rs.reply)
			resp := rs.one().(*kmsg.EndTxnResponse)
			checkWire(t, resp)
			return resp
		}
		b.c.AddPartitions(fb.now, "tx", 100, 0, []txn.TopicPartition{{Topic: "t", Partition: 0}}, func([]int16) {})
		r := end(5, 0)
		wantEpoch := int16(1)
		if tv < 2 {
			wantEpoch = -1
		}
		if r.ErrorCode != 0 || r.ProducerEpoch != wantEpoch || (tv >= 2) != (r.ProducerID == 100) {
			t.Fatalf("tv %d: EndTxn v5 answer %+v", tv, r)
		}
		if m := markers[0]; (tv >= 2) != (m.ProducerEpoch == 1 && m.TransactionVersion == 2) {
			t.Fatalf("tv %d: markers %+v", tv, m)
		}
		if tv < 2 {
			continue
		}
		if again := end(5, 0); again.ErrorCode != 0 || again.ProducerEpoch != 1 || again.ProducerID != 100 {
			t.Fatalf("retry %+v", again)
		}
		// A v4 end of a transaction opened at the new epoch keeps it.
		b.c.AddPartitions(fb.now, "tx", 100, 1, []txn.TopicPartition{{Topic: "t", Partition: 0}}, func([]int16) {})
		if r := end(4, 1); r.ErrorCode != 0 || len(markers) != 2 || markers[1].ProducerEpoch != 1 || markers[1].TransactionVersion != 0 {
			t.Fatalf("v4 end: %+v, markers %+v", r, markers)
		}
	}
}
