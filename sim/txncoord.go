package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The ends transaction coordinators decide, as their notes tell them: each Prepare
// record a coordinator makes durable (txn-prepare-commit, txn-prepare-abort) lists the
// partitions of the transaction it ends. Those must be partitions the producer added in
// the transaction it was in at that moment, the newest its transactional id began: a
// transaction whose end was acknowledged is over, and the next one starts empty. A
// coordinator that answered EndTxn before its Prepare record was durable, and lost it
// with its leadership, finds the transaction still open after a failover and lets the
// next one join it: that next end then lists partitions of the one before (checker
// "transactions", kind coordinator-lost-end).

// txnBegin is a transaction a producer began.
type txnBegin struct {
	num   int
	id    string
	at    int64
	parts []TopicPartition
}

// txnPrepare is an end a coordinator made durable.
type txnPrepare struct {
	at     int64
	id     string
	commit bool
	pid    int64
	epoch  int16
	parts  []TopicPartition
}

// noteTxnPrepare records a coordinator's txn-prepare-* note: `txn-prepare-commit:
// "tx0" producer 0 epoch 0 at 1767225600640 ms d0/2 d0/1`.
func (w *World) noteTxnPrepare(text string) {
	if w.data == nil {
		return
	}
	f := strings.Fields(text)
	if len(f) < 7 || f[2] != "producer" || f[4] != "epoch" {
		return
	}
	id, err := strconv.Unquote(f[1])
	pid, err2 := strconv.ParseInt(f[3], 10, 64)
	epoch, err3 := strconv.ParseInt(f[5], 10, 16)
	if err != nil || err2 != nil || err3 != nil {
		return
	}
	p := txnPrepare{at: w.now, id: id, commit: strings.HasPrefix(f[0], "txn-prepare-commit"), pid: pid, epoch: int16(epoch)}
	ms := slices.Index(f, "ms")
	if ms < 0 {
		return
	}
	for _, s := range f[ms+1:] {
		topic, part, ok := strings.Cut(s, "/")
		n, err := strconv.ParseInt(part, 10, 32)
		if !ok || err != nil {
			return
		}
		p.parts = append(p.parts, TopicPartition{topic, int32(n)})
	}
	w.data.txnPrepared = append(w.data.txnPrepared, p)
}

// checkPrepared checks every end a coordinator decided against the transaction its
// producer was in ("" when all are fine).
func (d *dataWorkload) checkPrepared() string {
	for _, p := range d.txnPrepared {
		var in *txnBegin
		for i := range d.txnBegun {
			if b := &d.txnBegun[i]; b.id == p.id && b.at <= p.at {
				in = b
			}
		}
		if in == nil {
			continue
		}
		for _, tp := range p.parts {
			if tp.Topic != coreOffsetsTopic && !slices.Contains(in.parts, tp) {
				kind := "abort"
				if p.commit {
					kind = "commit"
				}
				return fmt.Sprintf("coordinator-lost-end: at %v a coordinator prepared the %s of %q (producer %d epoch %d) over %v, but transaction %d, the one its producer was in, added only %v: an earlier transaction's end was lost",
					time.Duration(p.at), kind, p.id, p.pid, p.epoch, p.parts, in.num, in.parts)
			}
		}
		d.w.cov.Inc("check:txn-prepare")
	}
	return ""
}
