package txn

import (
	"fmt"
	"strings"
)

// Event is a transaction's durable change of state, or something the coordinator did
// that checkers and people want to know about.
type Event struct {
	Kind EventKind
	// Partition is the coordinator's __transaction_state partition; CoordinatorEpoch its
	// leader epoch.
	Partition        int32
	CoordinatorEpoch int32
	TxnID            string
	ProducerID       int64
	ProducerEpoch    int16
	// Partitions are the transaction's partitions (TxnBegin, TxnPrepare*), or the one
	// partition that refused a marker (MarkerRefused).
	Partitions []TopicPartition
	// Code is the refusal's error code (MarkerRefused).
	Code int16
	// Txns is how many transactional ids were loaded (CoordinatorLoaded).
	Txns int
	// AtMs is the coordinator's clock, in milliseconds.
	AtMs int64
	// State and UpdateMs are the record's state and last update (TxnIDExpired).
	State    string
	UpdateMs int64
}

// EventKind is what an Event says.
type EventKind uint8

const (
	// TxnBegin: a transaction became Ongoing (its record is durable).
	TxnBegin EventKind = iota + 1
	// TxnPrepareCommit, TxnPrepareAbort: the transaction's end is durable; its markers
	// are sent from now on.
	TxnPrepareCommit
	TxnPrepareAbort
	// TxnCompleteCommit, TxnCompleteAbort: every partition has its marker and the
	// completion is durable.
	TxnCompleteCommit
	TxnCompleteAbort
	// TxnTimedOut: an Ongoing transaction outlived its timeout and is being aborted with
	// a bumped epoch (told with the durable PrepareAbort, just before TxnPrepareAbort).
	TxnTimedOut
	// TxnFenced: InitProducerID found the transaction Ongoing and aborts it with a bumped
	// epoch (told like TxnTimedOut).
	TxnFenced
	// CoordinatorLoaded: the partition was read and the coordinator serves.
	CoordinatorLoaded
	// MarkerRefused: a partition refused a marker for good (INVALID_PRODUCER_EPOCH or
	// TRANSACTION_COORDINATOR_FENCED); it counts as done.
	MarkerRefused
	// TxnIDExpired: an idle id's tombstone is durable and the id is forgotten.
	TxnIDExpired
	eventKinds
)

var eventNames = [eventKinds]string{TxnBegin: "txn-begin", TxnPrepareCommit: "txn-prepare-commit",
	TxnPrepareAbort: "txn-prepare-abort", TxnCompleteCommit: "txn-complete-commit",
	TxnCompleteAbort: "txn-complete-abort", TxnTimedOut: "txn-timed-out", TxnFenced: "txn-fenced",
	CoordinatorLoaded: "txn-coordinator-loaded", MarkerRefused: "txn-marker-refused", TxnIDExpired: "txn-id-expired"}

func (k EventKind) String() string {
	if k < eventKinds && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("txn-event-%d", k)
}

func (e Event) String() string {
	var b strings.Builder
	if e.Kind == CoordinatorLoaded {
		fmt.Fprintf(&b, "%s: transaction state partition %d (epoch %d), %d ids at %d ms",
			e.Kind, e.Partition, e.CoordinatorEpoch, e.Txns, e.AtMs)
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %q producer %d epoch %d at %d ms", e.Kind, e.TxnID, e.ProducerID, e.ProducerEpoch, e.AtMs)
	for _, p := range e.Partitions {
		fmt.Fprintf(&b, " %s/%d", p.Topic, p.Partition)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
	}
	if e.Kind == TxnIDExpired {
		fmt.Fprintf(&b, " state %s last update %d ms", e.State, e.UpdateMs)
	}
	return b.String()
}

// event hands e to Config.Events.
func (c *Coordinator) event(e Event) {
	if c.cfg.Events != nil {
		e.Partition, e.CoordinatorEpoch = c.cfg.Partition, c.cfg.CoordinatorEpoch
		e.AtMs = millis(c.now)
		c.cfg.Events(e)
	}
}

// txnEvent is an event about t's durable record.
func (c *Coordinator) txnEvent(kind EventKind, t *txn) {
	c.event(Event{Kind: kind, TxnID: t.id, ProducerID: t.rec.pid, ProducerEpoch: t.rec.epoch,
		Partitions: append([]TopicPartition(nil), t.rec.parts...)})
}
