package txn

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// codeTransactionAbortable is what a partition the transaction does not include is
// answered in a verification (Kafka 3.8+; brokers turn it into INVALID_TXN_STATE for
// producers older than Produce v11).
var codeTransactionAbortable = kerr.TransactionAbortable.Code

// Verify answers a partition leader's question (AddPartitionsToTxn v4+ with VerifyOnly,
// KIP-890): does the producer's transaction, at this producer id and epoch, stand
// Ongoing with each of parts in it? One code per partition, in order: 0 when it does,
// TRANSACTION_ABORTABLE when the transaction does not include the partition or is not
// Ongoing, CONCURRENT_TRANSACTIONS while its end is being written or its markers are on
// their way, INVALID_PRODUCER_ID_MAPPING or PRODUCER_FENCED for another producer, and
// the Availability code while the coordinator does not serve. It reads the durable
// state only (a change being written counts once durable, as Kafka's check reads the
// committed metadata) and changes nothing.
func (c *Coordinator) Verify(txnID string, pid int64, epoch int16, parts []TopicPartition) []int16 {
	codes := make([]int16, len(parts))
	every := func(code int16) []int16 {
		for i := range codes {
			codes[i] = code
		}
		return codes
	}
	if code := c.Availability(); code != codeNone {
		return every(code)
	}
	if !validTxnID(txnID) {
		return every(codeInvalidRequest)
	}
	t := c.txns[txnID]
	switch {
	case t == nil || !t.durable || pid != t.rec.pid:
		return every(codeInvalidProducerIDMapping)
	case epoch != t.rec.epoch:
		return every(codeProducerFenced)
	case t.rec.state.preparing():
		return every(codeConcurrentTransactions)
	}
	for i, p := range parts {
		switch {
		case !validPart(p):
			codes[i] = codeInvalidRequest
		case t.rec.state != stateOngoing || !slices.Contains(t.rec.parts, p):
			codes[i] = codeTransactionAbortable
		}
	}
	return codes
}
