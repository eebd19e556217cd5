package sim

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Kafka API keys the simulated clients use.
const (
	produceKey          int16 = 0
	fetchKey            int16 = 1
	listOffsetsKey      int16 = 2
	metadataKey         int16 = 3
	offsetCommitKey     int16 = 8
	offsetFetchKey      int16 = 9
	findCoordinatorKey  int16 = 10
	joinGroupKey        int16 = 11
	heartbeatKey        int16 = 12
	leaveGroupKey       int16 = 13
	syncGroupKey        int16 = 14
	createTopicsKey     int16 = 19
	deleteTopicsKey     int16 = 20
	initProducerIDKey   int16 = 22
	createPartitionsKey int16 = 37
	apiVersionsKey      int16 = 18
	describeClusterKey  int16 = 60
	offsetDeleteKey     int16 = 47
	// apiKeysMax bounds the keys scanned when listing served versions.
	apiKeysMax int16 = 100
)

// Kafka error codes the clients tell apart (see the protocol's error table).
const (
	errNone                         int16 = 0
	errOffsetOutOfRange             int16 = 1
	errCorruptMessage               int16 = 2
	errUnknownTopicOrPartition      int16 = 3
	errLeaderNotAvailable           int16 = 5
	errNotLeaderOrFollower          int16 = 6
	errRequestTimedOut              int16 = 7
	errMessageTooLarge              int16 = 10
	errInvalidTimestamp             int16 = 32
	errCoordinatorLoadInProgress    int16 = 14
	errCoordinatorNotAvailable      int16 = 15
	errNotCoordinator               int16 = 16
	errInvalidTopic                 int16 = 17
	errRecordListTooLarge           int16 = 18
	errNotEnoughReplicas            int16 = 19
	errNotEnoughReplicasAfterAppend int16 = 20
	errInvalidRequiredAcks          int16 = 21
	errIllegalGeneration            int16 = 22
	errInconsistentGroupProtocol    int16 = 23
	errUnknownMemberID              int16 = 25
	errInvalidSessionTimeout        int16 = 26
	errRebalanceInProgress          int16 = 27
	errUnsupportedVersion           int16 = 35
	errTopicAlreadyExists           int16 = 36
	errInvalidPartitions            int16 = 37
	errInvalidReplicationFactor     int16 = 38
	errInvalidReplicaAssignment     int16 = 39
	errNotController                int16 = 41
	errInvalidRequest               int16 = 42
	errUnsupportedForMessageFormat  int16 = 43
	errPolicyViolation              int16 = 44
	errOutOfOrderSequenceNumber     int16 = 45
	errDuplicateSequenceNumber      int16 = 46
	errInvalidProducerEpoch         int16 = 47
	errUnknownProducerID            int16 = 59
	errFencedLeaderEpoch            int16 = 74
	errUnknownLeaderEpoch           int16 = 75
	errUnsupportedCompressionType   int16 = 76
	errMemberIDRequired             int16 = 79
	errFencedInstanceID             int16 = 82
	errOffsetNotAvailable           int16 = 78
	errUnknownTopicID               int16 = 100
	errGroupMaxSizeReached          int16 = 81
	errInvalidRecord                int16 = 87
	errUnstableOffsetCommit         int16 = 88
	errTransactionalIDAuthorization int16 = 53
	errSaslAuthenticationFailed     int16 = 58
	errIllegalSaslState             int16 = 34
	errTopicAuthorizationFailed     int16 = 29
	errGroupAuthorizationFailed     int16 = 30
	errResourceNotFound             int16 = 91
	errNonEmptyGroup                int16 = 68
	errGroupIDNotFound              int16 = 69
	errGroupSubscribedToTopic       int16 = 86
	errFetchSessionIDNotFound       int16 = 70
	errInvalidFetchSessionEpoch     int16 = 71
	errFetchSessionTopicID          int16 = 106
	// Transactions.
	errInvalidTxnState              int16 = 48
	errInvalidProducerIDMapping     int16 = 49
	errInvalidTransactionTimeout    int16 = 50
	errConcurrentTransactions       int16 = 51
	errTransactionCoordinatorFenced int16 = 52
	errOperationNotAttempted        int16 = 55
	errProducerFenced               int16 = 90
	errTransactionAbortable         int16 = 120
)

var errorNames = map[int16]string{
	errNone:                     "NONE",
	errUnknownTopicOrPartition:  "UNKNOWN_TOPIC_OR_PARTITION",
	errLeaderNotAvailable:       "LEADER_NOT_AVAILABLE",
	errNotLeaderOrFollower:      "NOT_LEADER_OR_FOLLOWER",
	errRequestTimedOut:          "REQUEST_TIMED_OUT",
	errInvalidTopic:             "INVALID_TOPIC_EXCEPTION",
	errUnsupportedVersion:       "UNSUPPORTED_VERSION",
	errTopicAlreadyExists:       "TOPIC_ALREADY_EXISTS",
	errInvalidPartitions:        "INVALID_PARTITIONS",
	errInvalidReplicationFactor: "INVALID_REPLICATION_FACTOR",
	errInvalidReplicaAssignment: "INVALID_REPLICA_ASSIGNMENT",
	errNotController:            "NOT_CONTROLLER",
	errInvalidRequest:           "INVALID_REQUEST",
	errPolicyViolation:          "POLICY_VIOLATION",
	errUnknownTopicID:           "UNKNOWN_TOPIC_ID",
}

// errorName names a Kafka error code.
func errorName(code int16) string {
	if s, ok := errorNames[code]; ok {
		return s
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok && e != nil {
		return e.Message
	}
	return fmt.Sprintf("ERROR_%d", code)
}
