package partition

// Kafka error codes a replica answers with. They are the protocol's numbers, so the Kafka
// handlers copy them into responses unchanged.
const (
	CodeNone                         int16 = 0
	CodeOffsetOutOfRange             int16 = 1
	CodeCorruptMessage               int16 = 2
	CodeUnknownTopicOrPartition      int16 = 3
	CodeLeaderNotAvailable           int16 = 5
	CodeNotLeaderOrFollower          int16 = 6
	CodeRequestTimedOut              int16 = 7
	CodeMessageTooLarge              int16 = 10
	CodeNotEnoughReplicas            int16 = 19
	CodeNotEnoughReplicasAfterAppend int16 = 20
	CodeInvalidRequiredAcks          int16 = 21
	CodeUnsupportedVersion           int16 = 35
	CodeNotController                int16 = 41
	CodeInvalidRequest               int16 = 42
	CodePolicyViolation              int16 = 44
	CodeOutOfOrderSequenceNumber     int16 = 45
	CodeDuplicateSequenceNumber      int16 = 46
	CodeInvalidProducerEpoch         int16 = 47
	CodeInvalidTxnState              int16 = 48
	CodeTransactionCoordinatorFenced int16 = 52
	CodeKafkaStorageError            int16 = 56
	CodeFencedLeaderEpoch            int16 = 74
	CodeUnknownLeaderEpoch           int16 = 75
	CodeOffsetNotAvailable           int16 = 78
	CodeInvalidRecord                int16 = 87
	CodeInvalidUpdateVersion         int16 = 95
	CodeIneligibleReplica            int16 = 107
)
