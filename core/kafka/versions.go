package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// span is an inclusive range of versions of one API key.
type span struct{ min, max int16 }

// served lists, by API key, the versions seedlog answers. Each handler file states the
// same range in its opening comment, with any deviation from Apache Kafka.
//
// Minimum versions are 0 even where old versions carry little meaning: librdkafka 2.0.x
// derives features (compression among them) from ApiVersions ranges that start at 0, and
// disables them when a broker advertises a higher minimum. Requests at versions that need
// the pre-v2 message format are answered with an error code, never misread.
var served = func() (t [kmsg.MaxKey + 1]*span) {
	set := func(key, min, max int16) { t[key] = &span{min, max} }
	set(0, 0, 12) // Produce (v12: transaction.version 2 only)
	set(1, 0, 16) // Fetch
	set(2, 0, 8)  // ListOffsets
	set(3, 0, 12) // Metadata
	set(8, 0, 9)  // OffsetCommit
	set(9, 0, 9)  // OffsetFetch
	set(10, 0, 5) // FindCoordinator
	set(11, 0, 9) // JoinGroup
	set(12, 0, 4) // Heartbeat
	set(13, 0, 5) // LeaveGroup
	set(14, 0, 5) // SyncGroup
	set(15, 0, 5) // DescribeGroups
	set(16, 0, 4) // ListGroups
	set(17, 0, 1) // SaslHandshake
	set(18, 0, 4) // ApiVersions
	set(19, 0, 7) // CreateTopics
	set(20, 0, 6) // DeleteTopics
	set(21, 0, 2) // DeleteRecords
	set(22, 0, 5) // InitProducerID
	set(23, 0, 4) // OffsetForLeaderEpoch
	set(24, 0, 5) // AddPartitionsToTxn (v4+: brokers, or CLUSTER_ACTION)
	set(25, 0, 3) // AddOffsetsToTxn
	set(26, 0, 5) // EndTxn (v5: transaction.version 2 only)
	set(27, 0, 2) // WriteTxnMarkers (brokers send it on the peer listener)
	set(28, 0, 5) // TxnOffsetCommit (v5: transaction.version 2 only)
	set(29, 0, 3) // DescribeAcls
	set(30, 0, 3) // CreateAcls
	set(31, 0, 3) // DeleteAcls
	set(32, 0, 4) // DescribeConfigs
	set(33, 0, 2) // AlterConfigs
	set(35, 0, 4) // DescribeLogDirs
	set(36, 0, 2) // SaslAuthenticate
	set(37, 0, 3) // CreatePartitions
	set(42, 0, 2) // DeleteGroups
	set(43, 0, 2) // ElectLeaders (forwarded; core/controller/elect.go)
	set(44, 0, 1) // IncrementalAlterConfigs
	set(45, 0, 1) // AlterPartitionReassignments (forwarded; core/controller/reassign.go)
	set(46, 0, 0) // ListPartitionReassignments
	set(47, 0, 0) // OffsetDelete
	set(48, 0, 1) // DescribeClientQuotas
	set(49, 0, 1) // AlterClientQuotas
	set(50, 0, 0) // DescribeUserScramCredentials
	set(51, 0, 0) // AlterUserScramCredentials
	set(55, 0, 1) // DescribeQuorum
	set(60, 0, 2) // DescribeCluster
	set(61, 0, 0) // DescribeProducers
	set(64, 0, 0) // UnregisterBroker (forwarded; core/controller/reassign.go)
	set(65, 0, 0) // DescribeTransactions
	set(66, 0, 1) // ListTransactions
	set(75, 0, 0) // DescribeTopicPartitions
	return t
}()

// Versions is the served-versions table; it satisfies wire.Versions.
type Versions struct{}

// Served is the table of API versions seedlog answers.
var Served Versions

// Range returns the versions served for key.
func (Versions) Range(key int16) (min, max int16, ok bool) {
	if key < 0 || int(key) >= len(served) || served[key] == nil {
		return 0, 0, false
	}
	s := served[key]
	return s.min, s.max, true
}

// Keys returns every served API key in ascending order.
func (Versions) Keys() []int16 {
	var keys []int16
	for k, s := range served {
		if s != nil {
			keys = append(keys, int16(k))
		}
	}
	return keys
}
