package partition

import (
	"time"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// Transaction verification (KIP-890 part 1). A transactional batch may open a
// transaction on a partition only once the producer's transaction coordinator said that
// the producer's transaction is ongoing and includes the partition: otherwise a batch
// that arrives after its transaction's abort marker would open a transaction nobody
// ends, and hold the last stable offset for ever. The broker makes the call; the leader
// keeps, per producer, a guard started before the call and cleared by anything the
// producer appends that ends or moves its transaction state (a transactional batch, a
// marker, another epoch). A batch appended on a verification whose guard was cleared
// meanwhile (its marker landed first) is refused: it would reopen what the marker
// closed.

// VerifyingMaxDefault bounds the verifications a leader has under way.
const VerifyingMaxDefault = 1024

// TxnGuard is one verification a leader started (StartTxnVerification). Hand it to
// ProduceVerified once the coordinator vouched for the transaction, or to
// DropTxnVerification otherwise: exactly one of the two.
type TxnGuard struct {
	ProducerID int64
	Epoch      int16
	token      uint64       // the producer's guard it shares
	id         uint64       // this verification
	lead       *leaderState // the leadership it was started in
}

// verifyEntry is the guard of one producer: the verifications started on it share it.
type verifyEntry struct {
	epoch   int16
	token   uint64
	pending int // its verifications not yet produced or dropped
}

// StartTxnVerification decides whether a produce batch needs the coordinator's word:
// a transactional data batch of a producer with no open transaction here, at the
// producer's epoch or a newer one. need reports it; code is non-zero when the leader
// refuses to start one (REQUEST_TIMED_OUT beyond VerifyingMax). Anything Produce would
// refuse anyway (not the leader or not serving now, a bad batch, a fenced epoch) needs
// none: Produce answers it at once.
func (r *Replica) StartTxnVerification(now int64, batch []byte, acks int16) (g TxnGuard, need bool, code int16) {
	r.changes++
	if r.on(plant.TxnVerificationSkipped) {
		return TxnGuard{}, false, CodeNone
	}
	h, err := record.ParseHeader(batch)
	if err != nil || !h.IsTransactional() || h.IsControl() || h.ProducerID < 0 {
		return TxnGuard{}, false, CodeNone
	}
	return r.startVerification(now, h.ProducerID, h.ProducerEpoch, acks)
}

// StartInternalTxnVerification is StartTxnVerification for the transactional records a
// coordinator of this broker writes for producer pid at epoch (a group coordinator's
// TxnOffsetCommit, KIP-890): hand the guard to ProduceInternalVerified or
// DropTxnVerification.
func (r *Replica) StartInternalTxnVerification(now int64, pid int64, epoch int16) (g TxnGuard, need bool, code int16) {
	r.changes++
	if pid < 0 {
		return TxnGuard{}, false, CodeNone
	}
	return r.startVerification(now, pid, epoch, -1)
}

func (r *Replica) startVerification(now int64, pid int64, epoch int16, acks int16) (g TxnGuard, need bool, code int16) {
	if r.lead == nil || r.dead() || r.produceAdmission(now, acks) != CodeNone {
		return TxnGuard{}, false, CodeNone
	}
	if e := r.producers.m[pid]; e != nil && (epoch < e.epoch || e.txnFirst >= 0 && epoch == e.epoch) {
		return TxnGuard{}, false, CodeNone
	}
	l := r.lead
	if len(l.outstanding) >= r.cfg.VerifyingMax {
		return TxnGuard{}, false, CodeRequestTimedOut
	}
	v := l.verifying[pid]
	switch {
	case v != nil && epoch < v.epoch:
		return TxnGuard{}, false, CodeInvalidProducerEpoch
	case v == nil || epoch > v.epoch:
		r.verifyNext++
		v = &verifyEntry{epoch: epoch, token: r.verifyNext}
		if l.verifying == nil {
			l.verifying = map[int64]*verifyEntry{}
		}
		l.verifying[pid] = v
	}
	v.pending++
	r.verifyNext++
	if l.outstanding == nil {
		l.outstanding = map[uint64]struct{}{}
	}
	l.outstanding[r.verifyNext] = struct{}{}
	return TxnGuard{ProducerID: pid, Epoch: epoch, token: v.token, id: r.verifyNext, lead: l}, true, CodeNone
}

// DropTxnVerification ends a verification that will not be produced (the coordinator
// did not vouch for it, or did not answer).
func (r *Replica) DropTxnVerification(g TxnGuard) {
	r.changes++
	r.releaseGuard(g)
}

// ProduceVerified is Produce for a batch whose verification g succeeded: it may open
// the producer's transaction if g still holds (nothing ended or moved the producer's
// transaction state since g started).
func (r *Replica) ProduceVerified(now int64, batch []byte, g TxnGuard, acks int16, timeout time.Duration, reply func(ProduceResult)) {
	r.changes++
	valid := r.releaseGuard(g)
	r.produce(now, batch, valid, acks, timeout, reply)
}

// ProduceInternalVerified is ProduceInternal for a coordinator's batch whose
// verification g succeeded (StartInternalTxnVerification).
func (r *Replica) ProduceInternalVerified(now int64, batch []byte, g TxnGuard, acks int16, timeout time.Duration, reply func(ProduceResult)) {
	r.changes++
	valid := r.releaseGuard(g)
	r.produceInternal(now, batch, valid, acks, timeout, reply)
}

// releaseGuard ends one verification of g and reports whether g still holds.
func (r *Replica) releaseGuard(g TxnGuard) bool {
	l := r.lead
	if g.lead == nil || g.lead != l {
		return false // another leadership, or none: its guards went with it
	}
	if _, ok := l.outstanding[g.id]; !ok {
		return false // released already
	}
	delete(l.outstanding, g.id)
	v := l.verifying[g.ProducerID]
	if v == nil || v.token != g.token {
		return false
	}
	if v.pending--; v.pending == 0 {
		delete(l.verifying, g.ProducerID)
	}
	return true
}

// clearGuard drops the guard of the producer of a batch just appended when the batch
// ends or moves the producer's transaction state: a transactional batch (it opened the
// transaction, or continued it), a marker, or another epoch. A marker of a
// transaction-version-2 end (markerTV2) carries the epoch the coordinator bumped to: it
// ends the transaction of the epoch before, and leaves the guard of a verification at
// its own epoch, which is the producer's next transaction, asked for while the last
// one's markers were on their way (KIP-890 part 2).
func (r *Replica) clearGuard(h record.Header, markerTV2 bool) {
	if r.lead == nil || h.ProducerID < 0 || len(r.lead.verifying) == 0 {
		return
	}
	v := r.lead.verifying[h.ProducerID]
	if v == nil || h.IsControl() && markerTV2 && v.epoch >= h.ProducerEpoch {
		return
	}
	if h.IsTransactional() || h.IsControl() || h.ProducerEpoch != v.epoch {
		delete(r.lead.verifying, h.ProducerID)
	}
}

// unverifiedTxn reports whether a transactional batch about to be appended would open
// a transaction without a verification that still holds.
func (r *Replica) unverifiedTxn(h record.Header, verified bool) bool {
	if !h.IsTransactional() || verified || r.on(plant.TxnVerificationSkipped) {
		return false
	}
	e := r.producers.m[h.ProducerID]
	if e != nil && h.ProducerEpoch < e.epoch && r.on(plant.TxnFencedEpochAccepted) {
		return false // the planted bug takes a fenced epoch's batch past both checks
	}
	return e == nil || e.txnFirst < 0 || e.epoch != h.ProducerEpoch
}

// VerifyingCount is the number of verifications under way (for tests and bounds).
func (r *Replica) VerifyingCount() int {
	if r.lead == nil {
		return 0
	}
	return len(r.lead.outstanding)
}
