package kafka

import "github.com/twmb/franz-go/pkg/kerr"

// Error codes the handlers use, named once.
var (
	codeUnknownTopicOrPartition     = kerr.UnknownTopicOrPartition.Code
	codeUnknownTopicID              = kerr.UnknownTopicID.Code
	codeNotLeaderOrFollower         = kerr.NotLeaderForPartition.Code
	codeUnsupportedForMessageFormat = kerr.UnsupportedForMessageFormat.Code
	codeUnsupportedCompressionType  = kerr.UnsupportedCompressionType.Code
	codeInvalidRequiredAcks         = kerr.InvalidRequiredAcks.Code
	codeFetchSessionIDNotFound      = kerr.FetchSessionIDNotFound.Code
	codeInvalidFetchSessionEpoch    = kerr.InvalidFetchSessionEpoch.Code
	codeFetchSessionTopicIDError    = kerr.FetchSessionTopicIDError.Code
	codeInvalidTxnState             = kerr.InvalidTxnState.Code
	codeTransactionAbortable        = kerr.TransactionAbortable.Code
)
