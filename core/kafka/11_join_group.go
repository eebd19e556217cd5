package kafka

// JoinGroup, key 11, versions 0-9.
//
// Deviations from Apache Kafka (core/group documents the coordinator's own):
//   - Members' client hosts are empty in DescribeGroups: the node does not see client
//     addresses. (Kafka shows "/" and the address.)
//   - A static leader that rejoins a Stable group with unchanged subscriptions is named
//     leader with SkipAssignment from v9 (KIP-814); before v9 the old member id stays the
//     named leader, as Kafka did before KIP-814.
//
// As in Kafka, an empty group id is INVALID_GROUP_ID, and a request reaching a broker
// that does not coordinate the group gets NOT_COORDINATOR (or the load/availability code
// of the coordinator), with generation -1.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup routes a join to the group's coordinator. clientID is the request header's;
// the coordinator shows it in DescribeGroups.
func JoinGroup(b Broker, req *kmsg.JoinGroupRequest, clientID string, reply func(kmsg.Response)) {
	answer := func(resp *kmsg.JoinGroupResponse) {
		shapeJoinResponse(resp, req.GetVersion())
		reply(resp)
	}
	c, code := groupCoordinator(b, acl.OpRead, req.Group, true)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID = code, req.MemberID
		answer(resp)
		return
	}
	c.JoinGroup(b.Now(), req, clientID, "", answer)
}

// shapeJoinResponse keeps only what the version carries, with the values a decoder of
// that version would produce.
func shapeJoinResponse(resp *kmsg.JoinGroupResponse, version int16) {
	resp.SetVersion(version)
	if version < 7 {
		resp.ProtocolType = nil
		if resp.Protocol == nil {
			resp.Protocol = kmsg.StringPtr("") // a plain string before v7
		}
	}
	if version < 9 {
		resp.SkipAssignment = false
	}
	if version < 5 && len(resp.Members) > 0 {
		// A copy, not an edit in place: the slice may be the coordinator's.
		members := make([]kmsg.JoinGroupResponseMember, len(resp.Members))
		for i, m := range resp.Members {
			m.InstanceID = nil
			members[i] = m
		}
		resp.Members = members
	}
}
