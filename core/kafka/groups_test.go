package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/group"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupOn returns a group id that lives in offsets partition p.
func groupOn(p int32, prefix string) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if group.PartitionFor(id, offsetsPartitions) == p {
			return id
		}
	}
}

// member is a group member as the tests drive it.
type member struct {
	group      string
	id         string
	instanceID *string
	generation int32
	leader     bool
}

func joinRequest(version int16, m *member) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.SetVersion(version)
	req.Group, req.MemberID, req.InstanceID = m.group, m.id, m.instanceID
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10_000, 10_000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{1, 2}
	req.Protocols = append(req.Protocols, p)
	return req
}

// join runs JoinGroup until the member is in a generation, following MEMBER_ID_REQUIRED
// and ticking the coordinators while the join phase waits. It returns the final answer.
func join(t *testing.T, b *fakeBroker, version int16, m *member) *kmsg.JoinGroupResponse {
	t.Helper()
	for range 3 {
		rs := &replies{t: t}
		JoinGroup(b, viaWire(t, joinRequest(version, m)), "client-1", rs.reply)
		for i := 0; len(rs.got) == 0 && i < 10; i++ {
			b.tick(time.Second)
		}
		resp := rs.one().(*kmsg.JoinGroupResponse)
		checkWire(t, resp)
		if resp.ErrorCode == kerr.MemberIDRequired.Code {
			m.id = resp.MemberID
			continue
		}
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d join of %s: code %d", version, m.group, resp.ErrorCode)
		}
		m.id, m.generation, m.leader = resp.MemberID, resp.Generation, resp.LeaderID == resp.MemberID
		return resp
	}
	t.Fatalf("v%d: join of %s never completed", version, m.group)
	return nil
}

// sync hands out an assignment (as the leader) and returns the member's part.
func sync(t *testing.T, b *fakeBroker, version int16, m *member, assignment []byte) *kmsg.SyncGroupResponse {
	t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.SetVersion(version)
	req.Group, req.Generation, req.MemberID, req.InstanceID = m.group, m.generation, m.id, m.instanceID
	req.ProtocolType, req.Protocol = str("consumer"), str("range")
	if m.leader {
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = m.id, assignment
		req.GroupAssignment = append(req.GroupAssignment, a)
	}
	rs := &replies{t: t}
	SyncGroup(b, viaWire(t, req), rs.reply)
	resp := rs.one().(*kmsg.SyncGroupResponse)
	checkWire(t, resp)
	return resp
}

// stableMember makes a one-member Stable group.
func stableMember(t *testing.T, b *fakeBroker, groupID string, instanceID *string) *member {
	t.Helper()
	b.coordinate(groupID, nil)
	m := &member{group: groupID, instanceID: instanceID}
	join(t, b, 5, m)
	if resp := sync(t, b, 5, m, []byte("all")); resp.ErrorCode != 0 {
		t.Fatalf("sync: code %d", resp.ErrorCode)
	}
	return m
}

// commit commits offsets without group membership (generation -1) and returns the codes.
func commit(t *testing.T, b *fakeBroker, version int16, groupID string, topics map[string][]int32, order []string, offset int64) [][]int16 {
	t.Helper()
	rs := &replies{t: t}
	OffsetCommit(b, viaWire(t, commitRequest(version, groupID, topics, order, offset)), rs.reply)
	resp := rs.one().(*kmsg.OffsetCommitResponse)
	checkWire(t, resp)
	return commitCodes(t, resp, topics, order)
}

func commitRequest(version int16, groupID string, topics map[string][]int32, order []string, offset int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.SetVersion(version)
	req.Group, req.Generation, req.MemberID = groupID, -1, ""
	for _, name := range order {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = name
		for _, p := range topics[name] {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, offset+int64(p), 4, str("m")
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// commitCodes checks the response mirrors the request and returns its codes.
func commitCodes(t *testing.T, resp *kmsg.OffsetCommitResponse, topics map[string][]int32, order []string) [][]int16 {
	t.Helper()
	if len(resp.Topics) != len(order) {
		t.Fatalf("%d topics answered, want %d", len(resp.Topics), len(order))
	}
	var codes [][]int16
	for i, rt := range resp.Topics {
		if rt.Topic != order[i] || len(rt.Partitions) != len(topics[order[i]]) {
			t.Fatalf("topic %d is %s with %d partitions, want %s with %d", i, rt.Topic, len(rt.Partitions), order[i], len(topics[order[i]]))
		}
		var cs []int16
		for j, p := range rt.Partitions {
			if p.Partition != topics[order[i]][j] {
				t.Fatalf("%s partition %d answered as %d", rt.Topic, topics[order[i]][j], p.Partition)
			}
			cs = append(cs, p.ErrorCode)
		}
		codes = append(codes, cs)
	}
	return codes
}
