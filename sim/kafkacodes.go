package sim

import "fmt"

// Kafka API keys the simulated clients use.
const (
	metadataKey         int16 = 3
	createTopicsKey     int16 = 19
	deleteTopicsKey     int16 = 20
	createPartitionsKey int16 = 37
	apiVersionsKey      int16 = 18
	describeClusterKey  int16 = 60
	// apiKeysMax bounds the keys scanned when listing served versions.
	apiKeysMax int16 = 100
)

// Kafka error codes the clients tell apart (see the protocol's error table).
const (
	errNone                     int16 = 0
	errUnknownTopicOrPartition  int16 = 3
	errLeaderNotAvailable       int16 = 5
	errNotLeaderOrFollower      int16 = 6
	errRequestTimedOut          int16 = 7
	errInvalidTopic             int16 = 17
	errUnsupportedVersion       int16 = 35
	errTopicAlreadyExists       int16 = 36
	errInvalidPartitions        int16 = 37
	errInvalidReplicationFactor int16 = 38
	errInvalidReplicaAssignment int16 = 39
	errInvalidRequest           int16 = 42
	errNotController            int16 = 41
	errPolicyViolation          int16 = 44
	errUnknownTopicID           int16 = 100
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
	return fmt.Sprintf("ERROR_%d", code)
}
