package sim

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Late offset commits (KIP-890 part 1 for TxnOffsetCommit). A consume-transform-produce
// transaction drawn to abort may, in the safety phase, abort sloppily once its group is
// added (AddOffsetsToTxn): it sends its EndTxn(abort) at once and its TxnOffsetCommit
// a while later, as a client whose commit was held up on its way. The abort's marker
// then reaches the group's offsets partition before the commit, which a broker that
// does not verify it writes as a transaction nobody ends: the group's offsets stay
// unstable for good, and the workers cannot rewind (the group never drains). A broker
// that verifies refuses it (INVALID_TXN_STATE below v4, TRANSACTION_ABORTABLE from
// it). The commit goes as v3 or v4 whatever the brokers' transaction version: v5 would
// have the coordinator add the partition instead. The worker begins no transaction
// with the same epoch until the commit is answered: at version 1 the coordinator cannot
// tell that transaction from the aborted one, and would let the commit join it.

// lateOffsetsChance is the share (one in) of the transactions drawn to abort that
// abort sloppily.
const lateOffsetsChance = 2

// sloppyOffsets aborts t at once and sends its offset commit late, when drawn; it
// reports whether it did (t is then over).
func (t *ctpTxn) sloppyOffsets() bool {
	in := t.in
	c := in.c
	w := c.w
	if !t.abort || w.phase != phaseSafety || c.rng.IntN(lateOffsetsChance) != 0 {
		return false
	}
	x := t.x
	op := &Op{Kind: OpTxnOffsetCommit, TxnID: in.r.spec.ID, Txn: t.num, Group: ctpGroup, Producer: in.pid, Epoch: in.epoch,
		Member: t.memberID, Generation: t.gen, Offsets: []PartitionOffset{{t.src, t.end}}, Offset: -1, HW: -1, LSO: -1}
	w.invoke(c, op)
	w.cov.Inc("ctp:late-offsets")
	w.clientNote(c, fmt.Sprintf("transaction %d of %s aborts before its offset commit is sent", t.num, in.r.spec.ID))
	x.lateIn = in
	settle := func(outcome Outcome) {
		w.complete(op, outcome)
		if x.lateIn == in {
			x.lateIn = nil
		}
	}
	req := t.offsetCommit(in, x.m)
	delay := time.Duration(200+c.rng.IntN(800)) * time.Millisecond
	x.end(t, false, nil)
	c.later(delay, func() {
		if !in.alive() {
			op.Code = -1
			settle(Failed)
			return
		}
		in.find(ctpGroup, 0, func(node int32) {
			op.Node = node
			op.Attempts++
			c.sendLimited(node, req, 3, 4, w.requestTimeout(), func(resp kmsg.Response, err error) {
				code := txnOffsetCommitCode(resp, err)
				op.Code = code
				switch code {
				case errNone:
					settle(OK)
					w.cov.Inc("ctp:late-offsets-written")
				case errInvalidTxnState, errTransactionAbortable:
					settle(Failed)
					w.cov.Inc("ctp:late-offsets-refused")
				default:
					settle(Indeterminate)
				}
			})
		})
	})
	return true
}
