package kafka

// Heartbeat, key 12, versions 0-4.
//
// Deviations from Apache Kafka: none here; core/group documents the coordinator's. As in
// Kafka, an empty group id is INVALID_GROUP_ID and a broker that does not coordinate the
// group answers NOT_COORDINATOR (or the coordinator's load/availability code).

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat routes a heartbeat to the group's coordinator.
func Heartbeat(b Broker, req *kmsg.HeartbeatRequest, reply func(kmsg.Response)) {
	c, code := groupCoordinator(b, acl.OpRead, req.Group, true)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		reply(resp)
		return
	}
	c.Heartbeat(b.Now(), req, func(resp *kmsg.HeartbeatResponse) {
		resp.SetVersion(req.GetVersion())
		reply(resp)
	})
}
