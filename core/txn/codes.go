package txn

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The Kafka error codes the coordinator answers with.
var (
	codeNone                         int16 = 0
	codeUnknownServerError                 = kerr.UnknownServerError.Code
	codeInvalidRequest                     = kerr.InvalidRequest.Code
	codeUnknownTopicOrPartition            = kerr.UnknownTopicOrPartition.Code
	codeCoordinatorLoadInProgress          = kerr.CoordinatorLoadInProgress.Code
	codeCoordinatorNotAvailable            = kerr.CoordinatorNotAvailable.Code
	codeNotCoordinator                     = kerr.NotCoordinator.Code
	codeInvalidProducerEpoch               = kerr.InvalidProducerEpoch.Code
	codeInvalidTxnState                    = kerr.InvalidTxnState.Code
	codeInvalidProducerIDMapping           = kerr.InvalidProducerIDMapping.Code
	codeInvalidTransactionTimeout          = kerr.InvalidTransactionTimeout.Code
	codeConcurrentTransactions             = kerr.ConcurrentTransactions.Code
	codeTransactionCoordinatorFenced       = kerr.TransactionCoordinatorFenced.Code
	codeProducerFenced                     = kerr.ProducerFenced.Code
	codeTransactionalIDNotFound            = kerr.TransactionalIDNotFound.Code
)

// appendCode is the code a client sees when the log refused or lost a write:
// NOT_COORDINATOR sends it to find the new coordinator, COORDINATOR_NOT_AVAILABLE makes
// it retry, and a record too large is nothing a retry fixes.
func appendCode(err error) int16 {
	switch {
	case errors.Is(err, ErrNotLeader):
		return codeNotCoordinator
	case errors.Is(err, ErrTooLarge):
		return codeUnknownServerError
	}
	return codeCoordinatorNotAvailable
}

// assert panics when an invariant of the coordinator does not hold.
func assert(ok bool, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("txn: invariant broken: "+format, args...))
	}
}
