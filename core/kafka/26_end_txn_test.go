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
	if _, hi, _ := Served.Range(26); hi != 4 {
		t.Fatalf("EndTxn served up to v%d, want 4", hi)
	}
	for _, v := range versions(t, 26) {
		fb := newFakeBroker(t)
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
