package group

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The Kafka error codes the coordinator answers with.
var (
	codeNone                      int16 = 0
	codeInvalidRequest                  = kerr.InvalidRequest.Code
	codeCoordinatorLoadInProgress       = kerr.CoordinatorLoadInProgress.Code
	codeCoordinatorNotAvailable         = kerr.CoordinatorNotAvailable.Code
	codeNotCoordinator                  = kerr.NotCoordinator.Code
	codeIllegalGeneration               = kerr.IllegalGeneration.Code
	codeInconsistentGroupProtocol       = kerr.InconsistentGroupProtocol.Code
	codeInvalidGroupID                  = kerr.InvalidGroupID.Code
	codeUnknownMemberID                 = kerr.UnknownMemberID.Code
	codeInvalidSessionTimeout           = kerr.InvalidSessionTimeout.Code
	codeRebalanceInProgress             = kerr.RebalanceInProgress.Code
	codeInvalidCommitOffsetSize         = kerr.InvalidCommitOffsetSize.Code
	codeOffsetMetadataTooLarge          = kerr.OffsetMetadataTooLarge.Code
	codeNonEmptyGroup                   = kerr.NonEmptyGroup.Code
	codeGroupIDNotFound                 = kerr.GroupIDNotFound.Code
	codeMemberIDRequired                = kerr.MemberIDRequired.Code
	codeGroupMaxSizeReached             = kerr.GroupMaxSizeReached.Code
	codeFencedInstanceID                = kerr.FencedInstanceID.Code
	codeUnstableOffsetCommit            = kerr.UnstableOffsetCommit.Code
	codeGroupSubscribedToTopic          = kerr.GroupSubscribedToTopic.Code
	codeInvalidProducerEpoch            = kerr.InvalidProducerEpoch.Code
	codeInvalidTxnState                 = kerr.InvalidTxnState.Code
)

// appendCode is the code a client sees when the log refused or lost an append of group
// state: NOT_COORDINATOR sends it to find the new coordinator, COORDINATOR_NOT_AVAILABLE
// makes it retry.
func appendCode(err error) int16 {
	if errors.Is(err, ErrNotLeader) {
		return codeNotCoordinator
	}
	return codeCoordinatorNotAvailable
}

// commitCode is appendCode for offset commits, where a batch too large for the log is
// the client's to fix.
func commitCode(err error) int16 {
	switch {
	case errors.Is(err, ErrTooLarge):
		return codeInvalidCommitOffsetSize
	case errors.Is(err, ErrInvalidProducerEpoch):
		return codeInvalidProducerEpoch
	case errors.Is(err, ErrInvalidTxnState):
		return codeInvalidTxnState
	}
	return appendCode(err)
}

// assert panics when an invariant of the coordinator does not hold.
func assert(ok bool, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("group: invariant broken: "+format, args...))
	}
}
