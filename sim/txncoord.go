package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/group"
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

// Transactional id expiry: a coordinator removes an id only when no transaction of it
// is open or ending, and only once the id was idle for transactional.id.expiration.ms
// (checker "transactions", kinds id-expired-active and id-expired-early). The state of
// each id is followed through the coordinators' notes: txn-begin opens a transaction,
// txn-prepare-* ends it, txn-complete-* completes it. A coordinator that loaded the
// id's partition since its last note may know of a change no note told (a record
// durable although its append failed), so the state check skips that case.

// txnIDState is what the notes say of one transactional id.
type txnIDState struct {
	state string // "ongoing", "preparing", "complete"; "" before any note
	// loaded: a coordinator loaded the id's partition since the last note.
	loaded bool
}

// txnExpiry is one txn-id-expired note.
type txnExpiry struct {
	at     int64 // virtual time
	node   int32
	local  int64 // the node's clock then
	id     string
	state  string
	loaded bool
	// updateMs and atMs are the record's last update and the expiry, on the
	// coordinator's clock, as the note says.
	updateMs, atMs int64
}

// noteTxnState follows a coordinator's note about a transactional id.
func (w *World) noteTxnState(n *simNode, kind, text string) {
	d := w.data
	if d == nil {
		return
	}
	if d.txnIDs == nil {
		d.txnIDs = map[string]*txnIDState{}
	}
	f := strings.Fields(text)
	if kind == "txn-coordinator-loaded" {
		// `txn-coordinator-loaded: transaction state partition 3 (epoch 2), 1 ids at ... ms`
		if len(f) < 5 {
			return
		}
		p, err := strconv.ParseInt(f[4], 10, 32)
		if err != nil {
			return
		}
		for id, s := range d.txnIDs { // order-independent: each id's own flag
			if group.PartitionFor(id, w.cfg.Data.txnStatePartitions()) == int32(p) {
				s.loaded = true
			}
		}
		return
	}
	if len(f) < 2 {
		return
	}
	id, err := strconv.Unquote(f[1])
	if err != nil {
		return
	}
	s := d.txnIDs[id]
	if s == nil {
		s = &txnIDState{}
		d.txnIDs[id] = s
	}
	switch kind {
	case "txn-begin":
		*s = txnIDState{state: "ongoing"}
	case "txn-prepare-commit", "txn-prepare-abort":
		*s = txnIDState{state: "preparing"}
	case "txn-complete-commit", "txn-complete-abort":
		*s = txnIDState{state: "complete"}
	case "txn-id-expired":
		// `txn-id-expired: "tx0" producer 5 epoch 1 at 1767225601000 ms state CompleteCommit last update 1767225600000 ms`
		e := txnExpiry{at: w.now, node: n.spec.ID, local: n.localNow(), id: id, state: s.state, loaded: s.loaded, updateMs: -1, atMs: -1}
		if i := slices.Index(f, "at"); i >= 0 && i+1 < len(f) {
			e.atMs, _ = strconv.ParseInt(f[i+1], 10, 64)
		}
		if i := slices.Index(f, "update"); i >= 0 && i+1 < len(f) {
			e.updateMs, _ = strconv.ParseInt(f[i+1], 10, 64)
		}
		d.txnExpired = append(d.txnExpired, e)
		delete(d.txnIDs, id)
		w.cov.Inc("txn:id-expired")
		// Judged at once: a transaction whose id is gone never ends, and the final reads
		// would wait for it until the liveness checker gives up.
		if v, bad := expiredActive(e); bad {
			w.fail("transactions", n.spec.ID, "%s", v)
		}
	}
}

// checkExpired checks each expiry against the notes before it and against the
// producer's requests in the history: its last InitProducerID or EndTxn that succeeded
// before the expiry wrote a record at or after its call, so the expiring coordinator's
// clock must be past the earliest broker clock at that call plus the expiration (less
// the millisecond the records round to). An EndTxn that no prepare note of its id
// answered wrote nothing: it repeated the end of a transaction that had completed
// (its abort after the coordinator timed it out, say), and the id's last update stays
// where that end put it.
func (d *dataWorkload) checkExpired(ops []*Op) (TxnViolation, bool) {
	exp := d.w.cfg.Data.TxnIDExpiration
	for _, e := range d.txnExpired {
		if v, bad := expiredActive(e); bad {
			return v, true
		}
		if exp <= 0 {
			continue
		}
		if e.atMs-e.updateMs < exp.Milliseconds() {
			return TxnViolation{Kind: "id-expired-early", Message: fmt.Sprintf(
				"at %v node %d expired %q at %d ms, last updated at %d ms: idle less than %v on its own clock", time.Duration(e.at), e.node, e.id, e.atMs, e.updateMs, exp)}, true
		}
		for _, op := range ops {
			if op.TxnID != e.id || op.Outcome != OK || op.Return >= e.at || (op.Kind != OpInitProducerID && op.Kind != OpEndTxn) {
				continue
			}
			if op.Kind == OpEndTxn && !slices.ContainsFunc(d.txnPrepared, func(p txnPrepare) bool { return p.id == e.id && p.at >= op.Call && p.at <= op.Return }) {
				continue
			}
			if e.local < op.Local+int64(exp)-int64(time.Millisecond) {
				return TxnViolation{Kind: "id-expired-early", Message: fmt.Sprintf(
					"at %v node %d (clock %d) expired %q, idle less than %v since op %d (%v at %v, earliest broker clock %d) succeeded", time.Duration(e.at), e.node, e.local, e.id, exp, op.ID, op.Kind, time.Duration(op.Call), op.Local)}, true
			}
		}
	}
	return TxnViolation{}, false
}

// expiredActive: e removed an id whose transaction was open or ending, as far as the
// notes before it tell.
func expiredActive(e txnExpiry) (TxnViolation, bool) {
	if (e.state == "ongoing" || e.state == "preparing") && !e.loaded {
		return TxnViolation{Kind: "id-expired-active", Message: fmt.Sprintf(
			"at %v node %d expired transactional id %q while its transaction was %s (its last note)", time.Duration(e.at), e.node, e.id, e.state)}, true
	}
	return TxnViolation{}, false
}
