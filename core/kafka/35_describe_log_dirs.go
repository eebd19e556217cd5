package kafka

// DescribeLogDirs, key 35, versions 0-4.
//
// Deviations from Apache Kafka:
//   - A seedlog broker keeps its partitions in one data directory, so the answer lists
//     one log dir, the node's data directory, never offline (no KAFKA_STORAGE_ERROR:
//     a broker whose disk fails stops instead).
//   - v4's TotalBytes and UsableBytes are -1 (unknown): the core that answers does no
//     I/O of its own, and the volume's figures are not part of its disk work.
//   - No replica is a future one (seedlog has no AlterReplicaLogDirs): IsFuture is false.
//
// As in Kafka: DESCRIBE on the CLUSTER is required, and without it the answer lists no
// dir (v3+ say CLUSTER_AUTHORIZATION_FAILED); a null topic list asks for every replica
// the broker hosts, otherwise the partitions named that it hosts are listed and the
// others left out; a replica's size is the bytes of its segments, its offset lag
// max(high watermark - log end offset, 0) as the replica knows them.

import (
	"cmp"
	"slices"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LogDirReplica is one replica a broker hosts, measured for DescribeLogDirs.
type LogDirReplica struct {
	Topic     string
	Partition int32
	SizeBytes int64
	// HighWatermark and LogEndOffset are the replica's own.
	HighWatermark, LogEndOffset int64
}

// LogDirsDenied returns the code that refuses a DescribeLogDirs, 0 when it may go on.
func LogDirsDenied(v View) int16 {
	return v.CheckCluster(acl.OpDescribe)
}

// LogDirsWanted returns whether a DescribeLogDirs asks for a partition.
func LogDirsWanted(req *kmsg.DescribeLogDirsRequest) func(topic string, partition int32) bool {
	if req.Topics == nil {
		return func(string, int32) bool { return true }
	}
	// The set is as large as the request, whose size the wire bounds.
	want := map[topicPartition]bool{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			want[topicPartition{t.Topic, p}] = true
		}
	}
	return func(topic string, partition int32) bool { return want[topicPartition{topic, partition}] }
}

// DescribeLogDirs answers with the broker's one log dir, dir, holding replicas (those
// the request asked for), or with code and no dir when the request was refused.
func DescribeLogDirs(req *kmsg.DescribeLogDirsRequest, code int16, dir string, replicas []LogDirReplica) *kmsg.DescribeLogDirsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	resp.SetVersion(req.GetVersion())
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	d := kmsg.NewDescribeLogDirsResponseDir()
	d.Dir = dir
	sorted := slices.Clone(replicas)
	slices.SortFunc(sorted, func(a, b LogDirReplica) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	for _, r := range sorted {
		if n := len(d.Topics); n == 0 || d.Topics[n-1].Topic != r.Topic {
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = r.Topic
			d.Topics = append(d.Topics, t)
		}
		p := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		p.Partition, p.Size, p.OffsetLag = r.Partition, r.SizeBytes, max(r.HighWatermark-r.LogEndOffset, 0)
		t := &d.Topics[len(d.Topics)-1]
		t.Partitions = append(t.Partitions, p)
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{d}
	return resp
}
