package txn

import (
	"maps"
	"slices"
)

// TxnStatus is one transactional id as DescribeTransactions and ListTransactions show
// it: its durable state (a change being written shows once durable).
type TxnStatus struct {
	TxnID string
	// ErrorCode is 0, TRANSACTIONAL_ID_NOT_FOUND for an id this coordinator does not
	// know, or the Availability code while it does not serve.
	ErrorCode     int16
	State         string // Kafka's names: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort
	ProducerID    int64
	ProducerEpoch int16
	TimeoutMs     int32
	StartMs       int64 // when the transaction began; -1 when none did
	LastUpdateMs  int64
	Partitions    []TopicPartition // sorted by topic and partition
}

// Describe is the status of each id asked for, in order.
func (c *Coordinator) Describe(txnIDs []string) []TxnStatus {
	out := make([]TxnStatus, len(txnIDs))
	code := c.Availability()
	for i, id := range txnIDs {
		switch t := c.txns[id]; {
		case code != codeNone:
			out[i] = TxnStatus{TxnID: id, ErrorCode: code, ProducerID: -1, ProducerEpoch: -1, StartMs: -1}
		case t == nil || !t.durable:
			out[i] = TxnStatus{TxnID: id, ErrorCode: codeTransactionalIDNotFound, ProducerID: -1, ProducerEpoch: -1, StartMs: -1}
		default:
			out[i] = t.status()
		}
	}
	return out
}

// List is the status of every transactional id, sorted by id; nil while not serving
// (Availability says why).
func (c *Coordinator) List() []TxnStatus {
	if c.phase != phaseServing {
		return nil
	}
	var out []TxnStatus
	for _, id := range slices.Sorted(maps.Keys(c.txns)) {
		if t := c.txns[id]; t.durable {
			out = append(out, t.status())
		}
	}
	return out
}

func (t *txn) status() TxnStatus {
	return TxnStatus{
		TxnID:         t.id,
		State:         t.rec.state.String(),
		ProducerID:    t.rec.pid,
		ProducerEpoch: t.rec.epoch,
		TimeoutMs:     t.rec.timeoutMs,
		StartMs:       t.rec.startMs,
		LastUpdateMs:  t.rec.updateMs,
		Partitions:    slices.Clone(t.rec.parts),
	}
}
