package kafka

// LeaveGroup, key 13, versions 0-5.
//
// Deviations from Apache Kafka: none here; core/group documents the coordinator's. As in
// Kafka, v3+ batches members (each by member id, or by group instance id alone) with an
// outcome per member, an empty group id is INVALID_GROUP_ID, and a broker that does not
// coordinate the group answers NOT_COORDINATOR (or the coordinator's load/availability
// code) for the whole request.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup routes a leave to the group's coordinator.
func LeaveGroup(b Broker, req *kmsg.LeaveGroupRequest, reply func(kmsg.Response)) {
	c, code := groupCoordinator(b, acl.OpRead, req.Group, true)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = code
		reply(resp)
		return
	}
	c.LeaveGroup(b.Now(), req, func(resp *kmsg.LeaveGroupResponse) {
		resp.SetVersion(req.GetVersion())
		reply(resp)
	})
}
