package core

import (
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnNode is a single-node cluster driven by requests (as lone, with the notes kept
// and each call run until it is answered), for tests that go through the handlers, the
// coordinators and the partitions together.
type txnNode struct {
	t     *testing.T
	n     *Node
	now   int64
	corr  int32
	notes []Note
}

func newTxnNode(t *testing.T, cfg Config) *txnNode {
	cfg.NodeID, cfg.Voters, cfg.Broker, cfg.Seed = 1, []int32{1}, true, 1
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := &txnNode{t: t, n: n, now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
	n.Start(l.now, disk.Recovered{Files: map[string][]byte{}})
	l.run(5 * time.Second)
	return l
}

// step drains the node once, completing its disk ops at once, or moves its clock on.
func (l *txnNode) step(until int64) []Response {
	out := l.n.Drain()
	if out.Fatal != nil {
		l.t.Fatal(out.Fatal)
	}
	l.notes = append(l.notes, out.Notes...)
	if len(out.Ops) > 0 {
		for _, op := range out.Ops {
			l.n.Done(l.now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
		}
	} else if len(out.Responses) == 0 {
		l.now = max(l.now+int64(time.Microsecond), min(l.n.Deadline(), until))
		l.n.Tick(l.now)
	}
	return out.Responses
}

func (l *txnNode) run(d time.Duration) {
	for end := l.now + int64(d); l.now < end; {
		l.step(end)
	}
}

// call sends req at version v and returns its answer, within 10 s of the node's clock.
func (l *txnNode) call(req kmsg.Request, v int16) kmsg.Response {
	l.t.Helper()
	req.SetVersion(v)
	l.corr++
	l.n.Request(l.now, Request{Conn: 1, Corr: l.corr, Key: req.Key(), Version: v, Msg: req})
	for end := l.now + int64(10*time.Second); l.now < end; {
		for _, r := range l.step(end) {
			if r.Corr == l.corr {
				return r.Msg
			}
		}
	}
	l.t.Fatalf("no answer to %T", req)
	return nil
}

// txnRound is InitProducerID, then AddOffsetsToTxn for group, with the coordinators
// found (and their topics created) first.
func (l *txnNode) txnRound(txnID, group string) (pid int64, epoch int16) {
	l.t.Helper()
	for i := 0; i < 100; i++ {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey, fc.CoordinatorType = txnID, 1
		l.call(fc, 3)
		init := kmsg.NewPtrInitProducerIDRequest()
		init.TransactionalID, init.TransactionTimeoutMillis = &txnID, 60000
		r := l.call(init, 1).(*kmsg.InitProducerIDResponse)
		if r.ErrorCode == 0 {
			pid, epoch = r.ProducerID, r.ProducerEpoch
			break
		}
		l.run(100 * time.Millisecond)
	}
	for i := 0; i < 100; i++ {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey = group
		l.call(fc, 3)
		if _, code := l.n.Coordinator(group); code == 0 {
			break
		}
		l.run(100 * time.Millisecond)
	}
	l.addOffsets(txnID, group, pid, epoch)
	return pid, epoch
}

func (l *txnNode) addOffsets(txnID, group string, pid int64, epoch int16) {
	l.t.Helper()
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = txnID, pid, epoch, group
	if code := l.call(ao, 3).(*kmsg.AddOffsetsToTxnResponse).ErrorCode; code != 0 {
		l.t.Fatalf("AddOffsetsToTxn: %s", kerr.ErrorForCode(code))
	}
}

func (l *txnNode) txnOffsetCommit(txnID, group string, pid int64, epoch int16, v int16) int16 {
	l.t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = txnID, group, pid, epoch
	req.Generation, req.MemberID = -1, ""
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = OffsetsTopic // a topic that exists: the commit's own partition
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, 7, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return l.call(req, v).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

func (l *txnNode) endTxn(txnID string, pid int64, epoch int16, commit bool) {
	l.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = txnID, pid, epoch, commit
	if code := l.call(req, 3).(*kmsg.EndTxnResponse).ErrorCode; code != 0 {
		l.t.Fatalf("EndTxn: %s", kerr.ErrorForCode(code))
	}
	l.run(time.Second) // the markers
}

// offsetsStable reports whether the group's offsets partition has no open transaction.
func (l *txnNode) offsetsStable(group string) bool {
	tp := l.n.OffsetsPartition(group)
	st := l.n.replica(tp.Topic, tp.Partition).r.Status()
	return st.LastStableOffset == st.HighWatermark
}

// A TxnOffsetCommit below v5 that arrives after its transaction aborted (its client
// sent it before the EndTxn, and it was held up) is refused (KIP-890 part 1): written,
// it would open a transaction on __consumer_offsets that nobody ends. One within the
// transaction is written, and the abort marker ends it.
func TestTxnOffsetCommitAfterAbortRefused(t *testing.T) {
	for _, c := range []struct {
		tv, version, want int16
	}{{1, 3, kerr.InvalidTxnState.Code}, {2, 4, kerr.TransactionAbortable.Code}} {
		l := newTxnNode(t, Config{TxnVersion: c.tv})
		pid, epoch := l.txnRound("tx", "g")
		if code := l.txnOffsetCommit("tx", "g", pid, epoch, c.version); code != 0 {
			t.Fatalf("tv %d: commit within the transaction: %s", c.tv, kerr.ErrorForCode(code))
		}
		l.endTxn("tx", pid, epoch, false)
		if !l.offsetsStable("g") {
			t.Fatalf("tv %d: the abort left the offsets partition unstable", c.tv)
		}
		if code := l.txnOffsetCommit("tx", "g", pid, epoch, c.version); code != c.want {
			t.Errorf("tv %d: late commit answered %s, want %s", c.tv, kerr.ErrorForCode(code), kerr.ErrorForCode(c.want))
		}
		if !l.offsetsStable("g") {
			t.Errorf("tv %d: the late commit opened a transaction on the offsets partition", c.tv)
		}
		noted := false
		for _, n := range l.notes {
			noted = noted || n.Kind == "txn-verify-refused"
		}
		if !noted {
			t.Errorf("tv %d: the refusal was not noted", c.tv)
		}
		// The next transaction (the same epoch at version 1) commits again.
		l.addOffsets("tx", "g", pid, epoch)
		if code := l.txnOffsetCommit("tx", "g", pid, epoch, c.version); code != 0 {
			t.Errorf("tv %d: commit within the next transaction: %s", c.tv, kerr.ErrorForCode(code))
		}
	}
}
