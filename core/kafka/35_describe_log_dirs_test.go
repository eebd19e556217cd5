package kafka

import (
	"fmt"
	"testing"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The one dir lists the replicas measured, grouped by topic in name and partition
// order, with the lag Kafka reports; a null topic list wants everything, a list only
// the partitions it names.
func TestDescribeLogDirs(t *testing.T) {
	replicas := []LogDirReplica{
		{Topic: "orders", Partition: 1, SizeBytes: 300, HighWatermark: 10, LogEndOffset: 10},
		{Topic: "events", Partition: 0, SizeBytes: 70, HighWatermark: 9, LogEndOffset: 4},
		{Topic: "orders", Partition: 0, SizeBytes: 0, HighWatermark: 3, LogEndOffset: 8},
	}
	for _, version := range versions(t, 35) {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.SetVersion(version)
		resp := DescribeLogDirs(viaWire(t, req), 0, "/var/seedlog", replicas)
		checkWire(t, resp)
		if len(resp.Dirs) != 1 || resp.Dirs[0].Dir != "/var/seedlog" || resp.Dirs[0].ErrorCode != 0 {
			t.Fatalf("v%d: dirs %+v", version, resp.Dirs)
		}
		var got []string
		for _, rt := range resp.Dirs[0].Topics {
			for _, p := range rt.Partitions {
				got = append(got, fmt.Sprintf("%s-%d:%d/%d", rt.Topic, p.Partition, p.Size, p.OffsetLag))
			}
		}
		if want := "[events-0:70/5 orders-0:0/0 orders-1:300/0]"; fmt.Sprint(got) != want {
			t.Errorf("v%d: %v, want %s", version, got, want)
		}
		if version >= 4 && (resp.Dirs[0].TotalBytes != -1 || resp.Dirs[0].UsableBytes != -1) {
			t.Errorf("v%d: volume sizes %d/%d, want unknown", version, resp.Dirs[0].TotalBytes, resp.Dirs[0].UsableBytes)
		}
	}
	req := kmsg.NewPtrDescribeLogDirsRequest()
	req.SetVersion(4)
	req.Topics = []kmsg.DescribeLogDirsRequestTopic{{Topic: "orders", Partitions: []int32{1, 5}}}
	wanted := LogDirsWanted(viaWire(t, req))
	if !wanted("orders", 1) || wanted("orders", 0) || wanted("orders", 5) == false || wanted("events", 1) {
		t.Errorf("wanted set does not match the request")
	}
	req.Topics = nil
	if !LogDirsWanted(viaWire(t, req))("anything", 3) {
		t.Errorf("a null topic list does not want everything")
	}
}

// Without DESCRIBE on the cluster the answer holds no dir, and from v3 says why.
func TestDescribeLogDirsDenied(t *testing.T) {
	v := View{Image: testImage(t), Access: &Access{Principal: "User:bob", Host: "h", Config: &acl.Config{}, Fresh: true}}
	code := LogDirsDenied(v)
	if code != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("code %d, want CLUSTER_AUTHORIZATION_FAILED", code)
	}
	for _, version := range versions(t, 35) {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.SetVersion(version)
		resp := DescribeLogDirs(viaWire(t, req), code, "/d", []LogDirReplica{{Topic: "orders"}})
		if len(resp.Dirs) != 0 {
			t.Errorf("v%d: denied answer lists %d dirs", version, len(resp.Dirs))
		}
		if version >= 3 {
			checkWire(t, resp)
		}
	}
	if LogDirsDenied(View{Image: testImage(t)}) != 0 {
		t.Error("a broker without an authorizer refused")
	}
}
